"""The fingerprint registry through the Harness: records taken in or refused, requests answered by lookup."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from crossbound.codec import Codec
from crossbound.pipeline import Incoming
from crossbound.pipeline.budget import OutputLimits
from crossbound.rules import Catalogue
from crossbound.testing import Harness
from crossbound.testing.encoding import encode_fingerprint
from helpers import EXAMPLES, load_json

NOW = 1_795_510_800.0  # 2026-11-24T09:00:00Z, the fixtures' time
SID = "sb_personal_credit_report_fingerprint"
FOLDER = EXAMPLES / SID
OTHER_HMAC = "ab" * 32


@pytest.fixture
def h(codec: Codec, catalogue: Catalogue) -> Harness:
    return Harness(codec, catalogue, now=NOW)


def _request(**payload: Any) -> dict[str, Any]:
    request = load_json(FOLDER / "accept.request.json")
    request["payload"].update(payload)
    return request


def _record(**changes: Any) -> dict[str, Any]:
    record = load_json(FOLDER / "accept.fingerprint.json")
    record.update(changes)
    return record


def _verdict(h: Harness, request: dict[str, Any]) -> dict[str, Any]:
    out = h.send_request(request)
    [verdict] = [p.record for p in out]  # one record: the verdict, at once
    assert out[0].topic == h.topics.verdicts("hk")
    return verdict


def _codes(verdict: dict[str, Any]) -> list[str]:
    return [f["code"] for f in verdict["findings"]]


def test_a_registered_document_is_accepted_at_once_without_asking_anyone(h: Harness) -> None:
    assert h.send_fingerprint(_record()) == []
    verdict = _verdict(h, _request())
    assert (verdict["outcome"], _codes(verdict)) == ("ACCEPT", [])
    assert h.attestation_requests("sz") == []
    assert h.pending == {}  # nothing waits: no timeout can follow
    assert h.internal  # the stateful hops (C10 at the exporter, SBPCRF-07) ran on the way
    assert (
        h.registry.get_sample_value("crossbound_fingerprints_total", {"side": "sz", "result": "stored"}) == 1
    )
    assert h.advance(31.0) == []


@pytest.mark.parametrize(
    ("changes", "code", "rule"),
    [
        (
            {"revoked": True, "revoked_at": "2026-11-20T03:00:00Z", "revocation_reason": "SUPERSEDED"},
            "FINGERPRINT_REVOKED",
            "FP-3",
        ),
        ({"valid_until": "2026-11-24T07:59:59Z"}, "FINGERPRINT_EXPIRED", "FP-5"),
        ({"valid_until": "2026-11-24T08:00:00Z"}, "FINGERPRINT_EXPIRED", "FP-5"),  # at created_at: over
        ({"valid_from": "2026-11-24T08:00:01Z"}, "FINGERPRINT_NOT_YET_VALID", "FP-4"),
        ({"document_type": "PBOC_CORPORATE_CREDIT_REPORT"}, "FINGERPRINT_DOCUMENT_TYPE", "FP-1"),
        ({"subject_ref_hmac": OTHER_HMAC}, "FINGERPRINT_WRONG_SUBJECT", "FP-6"),
        ({"hmac_key_id": "other-2026"}, "FINGERPRINT_WRONG_SUBJECT", "FP-6"),
        ({"issuer": {"scheme": "BIC", "id": "PCBCCNBJSZX", "city": "440300"}}, "FINGERPRINT_ISSUER", "FP-2"),
        ({"digest_alg": "SM3"}, "FINGERPRINT_DIGEST_ALG", "FP-7"),
    ],
)
def test_each_fault_of_the_record_found_has_its_own_finding(
    h: Harness, changes: dict[str, Any], code: str, rule: str
) -> None:
    h.send_fingerprint(_record(**changes))
    verdict = _verdict(h, _request())
    assert verdict["outcome"] == "REJECT"
    assert [(f["rule_id"], f["code"]) for f in verdict["findings"]] == [(rule, code)]


def test_expiry_is_judged_at_the_request_s_time_not_the_worker_s(h: Harness) -> None:
    h.send_fingerprint(_record(valid_until="2026-11-24T08:30:00Z"))  # created 08:00, read at 09:00
    assert _verdict(h, _request())["outcome"] == "ACCEPT"


def test_an_unregistered_document_is_not_found(h: Harness) -> None:
    h.send_fingerprint(_record())
    verdict = _verdict(h, _request(report_digest="cd" * 32))
    assert verdict["outcome"] == "REJECT"
    assert [(f["rule_id"], f["field"], f["code"]) for f in verdict["findings"]] == [
        (f"{SID}:fingerprint", "payload.report_digest", "FINGERPRINT_NOT_FOUND")
    ]


def test_a_record_of_the_other_side_s_registry_is_not_looked_up(h: Harness) -> None:
    _, key, value = encode_fingerprint(_record(), h.codec, h.topics)
    [dead] = h.send(h.topics.fingerprints("hk"), key, value)
    assert dead.record["reason"] == "wrong_side"
    assert dead.topic == h.topics.deadletter("hk")
    assert _codes(_verdict(h, _request())) == ["FINGERPRINT_NOT_FOUND"]


def test_a_request_before_its_fingerprint_is_not_found_and_that_answer_stands(h: Harness) -> None:
    early = _request()
    assert _codes(_verdict(h, early)) == ["FINGERPRINT_NOT_FOUND"]
    h.send_fingerprint(_record())
    later = copy.deepcopy(early)
    later["request_id"] = "8a1f3c2e-5b7d-4e9a-a0c1-2d3e4f5a6b7c"
    assert _verdict(h, later)["outcome"] == "ACCEPT"
    [again] = h.send_request(early, side=None)  # the same request id again: answered once
    assert again.record["reason"] == "duplicate_request"


def test_a_revocation_supersedes_and_a_restarted_worker_still_finds_it(h: Harness) -> None:
    h.send_fingerprint(_record())
    h.send_fingerprint(_record(sequence=2, revoked=True, revoked_at="2026-11-20T03:00:00Z"))
    h.restart()  # the table is the state: a new process over it
    assert _codes(_verdict(h, _request())) == ["FINGERPRINT_REVOKED"]


def test_the_same_record_again_or_redelivered_is_a_repeat(h: Harness) -> None:
    first = _record()
    topic, key, value = encode_fingerprint(first, h.codec, h.topics)
    h.send(topic, key, value)  # offset 0
    assert h.send_fingerprint(first) == []  # published again, later offset: the same body
    h.send_fingerprint(_record(sequence=2, revoked=True, revoked_at="2026-11-20T03:00:00Z"))  # offset 2
    # after a crash, before the commit, offset 0 comes again: older than what is held, but no fault
    assert h.pipeline.handle(Incoming(topic, 0, 0, key, value)) == []
    repeats = h.registry.get_sample_value("crossbound_fingerprints_total", {"side": "sz", "result": "repeat"})
    assert repeats == 2
    assert _codes(_verdict(h, _request())) == ["FINGERPRINT_REVOKED"]


@pytest.mark.parametrize(
    ("later", "reason"),
    [
        ({"sequence": 1, "valid_until": "2027-12-31T00:00:00Z"}, "fingerprint_conflict"),
        ({"sequence": 0, "revoked": True, "revoked_at": "2026-11-20T03:00:00Z"}, "fingerprint_stale"),
    ],
)
def test_a_record_that_does_not_supersede_is_refused(h: Harness, later: dict[str, Any], reason: str) -> None:
    h.send_fingerprint(_record())
    held = dict(h.fingerprints)
    [dead] = h.send_fingerprint(_record(**later))
    assert dead.record["reason"] == reason
    assert dead.topic == h.topics.deadletter("sz")
    assert h.fingerprints == held
    assert _verdict(h, _request())["outcome"] == "ACCEPT"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"valid_until": "2026-11-10T01:00:00Z"}, "fingerprint_inconsistent"),  # = valid_from
        ({"revoked": True}, "fingerprint_inconsistent"),  # no revoked_at
        ({"revoked_at": "2026-11-20T03:00:00Z"}, "fingerprint_inconsistent"),  # not revoked
        ({"digest": "E8" * 32}, "bad_form"),
        ({"document_type": "credit report"}, "bad_form"),
    ],
)
def test_a_malformed_record_is_a_dead_letter_with_its_reason(
    h: Harness, changes: dict[str, Any], reason: str
) -> None:
    record = _record(**changes)
    [dead] = h.send_fingerprint(record)
    assert dead.record["reason"] == reason
    assert h.fingerprints == {}
    assert record["digest"].lower() not in dead.record["detail"]  # the detail names no value
    assert h.registry.get_sample_value("crossbound_dead_letters_total", {"side": "sz", "reason": reason}) == 1


def test_undecodable_and_badly_keyed_records_are_dead_letters(h: Harness) -> None:
    topic, key, value = encode_fingerprint(_record(), h.codec, h.topics)
    outs = h.send(topic, key, b"\xc3\x01" + bytes(8)) + h.send(topic, b"another key", value)
    outs += h.send(topic, key, None)
    assert [p.record["reason"] for p in outs] == ["unknown_schema", "bad_key", "empty"]
    assert h.fingerprints == {}


def test_an_unreadable_table_entry_counts_as_not_found_and_leaves(h: Harness) -> None:
    h.send_fingerprint(_record())
    [key] = h.fingerprints
    h.fingerprints[key] = b"\x00\x00\x00\x00\x00\x00\x00\x00broken"
    assert _codes(_verdict(h, _request())) == ["FINGERPRINT_NOT_FOUND"]
    assert h.fingerprints == {}
    assert h.registry.get_sample_value("crossbound_unreadable_total", {"where": "fingerprints"}) == 1


def test_a_record_too_large_for_the_changelog_is_a_dead_letter_naming_no_request(
    codec: Codec, catalogue: Catalogue
) -> None:
    h = Harness(
        codec, catalogue, now=NOW, limits=OutputLimits(10**6, {"crossbound-fingerprints-changelog": 200})
    )
    [dead] = h.send_fingerprint(_record())
    assert dead.record["reason"] == "output_too_large"
    assert dead.record["request_id"] is None  # the key is a side and a digest, not a request id
    assert h.fingerprints == {}


def test_damaged_registry_records_each_get_at_most_one_dead_letter_and_never_an_internal_error(
    h: Harness,
) -> None:
    """Bytes flipped, cut or added anywhere in a valid record: a dead letter with its reason, or (still a
    well-formed record) taken in or refused as any record is; one output at most, never internal_error."""
    rng = random.Random(11)
    topic, key, value = encode_fingerprint(_record(), h.codec, h.topics)
    reasons: set[str] = set()
    for _ in range(600):
        data = bytearray(value)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(data))
            choice = rng.randrange(3)
            if choice == 0:
                data[at] = rng.randrange(256)
            elif choice == 1:
                del data[at:]
            else:
                data[at:at] = rng.randbytes(rng.randrange(1, 9))
            if not data:
                break
        out = h.send(topic, key, bytes(data))
        assert len(out) <= 1
        for p in out:
            assert p.topic == h.topics.deadletter("sz")
            reasons.add(p.record["reason"])
    assert "internal_error" not in reasons
    assert {"undecodable", "bad_form"} <= reasons
