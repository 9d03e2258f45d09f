"""The entries a worker writes: one per decision, read back from the record, no value in them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from prometheus_client import CollectorRegistry

from crossbound.audit import Auditor, Chains, digest_of
from crossbound.audit.chains import head_key
from crossbound.audit.entry import GENESIS, id_for_log, name_for_log
from crossbound.pipeline import Incoming, Outgoing
from crossbound.pipeline.budget import OutputLimits
from crossbound.pipeline.partitioner import partition_for
from crossbound.signing import HEADER
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.encoding import encode_attestation
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics

SCENARIO = "tech_enterprise_credential"  # no stateful hop
TOPICS = Topics()


def _setup(limits: OutputLimits | None = None) -> tuple[Harness, Auditor, dict[bytes, bytes]]:
    h = Harness.from_dirs(now=examples.FIXTURE_TIME.timestamp(), registry=CollectorRegistry())
    table: dict[bytes, bytes] = {}
    auditor = Auditor(h.codec, TOPICS, Chains(table, 4), h.metrics, lambda: h.now, limits)
    return h, auditor, table


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return [obj] if isinstance(obj, str) else []


def test_each_decision_is_logged_on_its_side_from_the_record_written() -> None:
    h, auditor, table = _setup()
    writer = auditor.chains.writer("in")
    case = Traffic(seed=3, now=h.now).case(SCENARIO, "valid")
    assert case.request is not None
    assert case.attestation is not None
    key, value = h.encode_request(case.request)
    rec = Incoming(TOPICS.requests("hk"), 1, 40, key, value, None)
    signed = ((HEADER, b"1;Ed25519;bank-1;1;AAAA"),)
    [ask] = h.pipeline.handle(rec)
    [asked] = auditor.entries(writer, [ask], rec, (rec.topic, 1, 40), signed)
    assert asked.topic == "sz.audit"  # the attestation request is written on SZ's side
    entry = json.loads(asked.value)
    assert asked.key == b"sz.in.1" == entry["chain"].encode()
    assert (entry["seq"], entry["prev"], entry["digest"]) == (0, GENESIS, digest_of(entry))
    assert (entry["kind"], entry["outcome"], entry["scenario"]) == ("attestation_request", "ASKED", SCENARIO)
    assert entry["request_id"] == key.decode()
    assert entry["source"] == {"topic": "hk.requests", "partition": 1, "offset": 40}
    assert entry["input"] == hashlib.sha256(value).hexdigest()
    assert entry["output"] == hashlib.sha256(ask.value).hexdigest()
    assert entry["input_sig"] == {
        "key_id": "bank-1",
        "digest": hashlib.sha256(signed[0][1]).hexdigest(),
    }
    assert entry["output_sig"] is None
    _, akey, avalue = encode_attestation(case.attestation, h.codec, h.catalogue, TOPICS)
    att = Incoming(TOPICS.attestations("sz"), 1, 7, akey, avalue, None)
    [verdict] = h.pipeline.handle(att)
    [logged] = auditor.entries(writer, [verdict], att, (att.topic, 1, 7))
    entry = json.loads(logged.value)
    assert (logged.topic, entry["chain"], entry["seq"]) == ("hk.audit", "hk.in.1", 0)
    assert (entry["kind"], entry["outcome"], entry["findings"]) == ("verdict", "ACCEPT", [])
    assert entry["ruleset_version"] == h.catalogue.scenarios[SCENARIO].version
    # no value of the request or the attestation is in the log: ids, codes and digests only
    payload = {**case.request["payload"], **case.attestation}
    values = {s for s in _strings(payload) if len(s) >= 6} - {key.decode(), SCENARIO}
    text = asked.value.decode() + logged.value.decode()
    assert values
    assert not [v for v in values if v in text]
    assert table == {}  # heads are saved once the batch is acknowledged: persist()
    writer.persist()
    assert set(table) == {head_key("sz.in.1", 1, 4), head_key("hk.in.1", 1, 4)}


def test_a_dead_letter_is_logged_with_its_reason_and_hops_are_not() -> None:
    h, auditor, _ = _setup()
    writer = auditor.chains.writer("in")
    rec = Incoming(TOPICS.requests("sz"), 2, 5, b"k", b"\xc3\x01" + bytes(8), None)
    outs = [*h.pipeline.handle(rec), Outgoing(TOPICS.quota, b"q", b"hop")]
    [logged] = auditor.entries(writer, outs, rec, (rec.topic, 2, 5))
    entry = json.loads(logged.value)
    assert (logged.topic, entry["kind"], entry["outcome"]) == ("sz.audit", "dead_letter", "unknown_schema")
    assert entry["request_id"] is None


def test_an_id_or_name_read_from_an_unusable_record_is_logged_as_its_digest() -> None:
    assert id_for_log("6a1c6f8e-3f7e-4f38-9d2a-0c1b5d7e9f10") == "6a1c6f8e-3f7e-4f38-9d2a-0c1b5d7e9f10"
    assert id_for_log("HKID A123456(7)") == "sha256:" + hashlib.sha256(b"HKID A123456(7)").hexdigest()
    assert name_for_log(SCENARIO) == SCENARIO
    assert name_for_log("Chan Tai Man") == "sha256:" + hashlib.sha256(b"Chan Tai Man").hexdigest()


def test_entries_link_on_and_restart_from_the_persisted_head() -> None:
    h, auditor, table = _setup()
    rec = Incoming(TOPICS.requests("sz"), 3, 5, b"k", b"\xc3\x01" + bytes(8), None)
    writer = auditor.chains.writer("in")
    first = json.loads(auditor.entries(writer, h.pipeline.handle(rec), rec, (rec.topic, 3, 5))[0].value)
    second = json.loads(auditor.entries(writer, h.pipeline.handle(rec), rec, (rec.topic, 3, 6))[0].value)
    assert (second["seq"], second["prev"]) == (1, first["digest"])
    writer.persist()
    again = Chains(table, 4).writer("in")  # a restarted process
    third = again.append("sz", 3, {"type": "entry"}, 0)
    assert (third["seq"], third["prev"]) == (2, second["digest"])
    writer.revoke([3])  # partition 3 moved away and back: its head is read from the table again
    fourth = writer.append("sz", 3, {"type": "entry"}, 0)
    assert (fourth["seq"], fourth["prev"]) == (2, second["digest"])


def test_the_head_lives_on_its_chains_partition() -> None:
    for partition in range(12):
        assert partition_for(head_key(f"hk.in.{partition}", partition, 12), 12) == partition


def test_an_entry_over_its_budget_is_counted_and_not_linked() -> None:
    h, auditor, _ = _setup(OutputLimits(default=1_000_000, topics={"sz.audit": 300}))
    writer = auditor.chains.writer("in")
    rec = Incoming(TOPICS.requests("sz"), 0, 1, b"k", b"\xc3\x01" + bytes(8), None)
    outs = h.pipeline.handle(rec)
    assert auditor.entries(writer, outs, rec, (rec.topic, 0, 1)) == []
    labels = {"record": "audit_entry", "reason": "too_large"}
    assert h.registry.get_sample_value("crossbound_outputs_failed_total", labels) == 1
    assert len(outs) == 1  # the input's one outcome stands
    assert writer.append("sz", 0, {}, 0)["seq"] == 0  # nothing was linked
