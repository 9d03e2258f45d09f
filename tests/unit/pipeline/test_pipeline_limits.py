"""The input size limit is for inputs: internal records may be larger, and none of them stops the worker.

A request exactly at ``max_record_bytes`` is a valid input. Parked, its ``pending`` record carries it
whole and is larger; a stateful hop record on ``<app>.quota`` carries it too. After a restart (nothing
cached, everything decoded from the tables) and through every hop, it must still end in one verdict.
A table entry or hop record that does not decode at all is counted, never raised.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import Catalogue
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.traffic import Traffic

PCN = "payment_connect_northbound"
SB = "sb_corporate_credit_report"


@pytest.fixture(scope="module")
def shipped() -> tuple[SchemaRegistry, Catalogue]:
    proto = Harness.from_dirs()
    return proto.codec.registry, proto.catalogue


def _at_the_limit(shipped: tuple[SchemaRegistry, Catalogue], request: dict[str, Any]) -> Harness:
    """A harness whose input limit is exactly the size of ``request`` encoded."""
    registry, catalogue = shipped
    probe = Harness(Codec(registry), catalogue, now=examples.FIXTURE_TIME.timestamp())
    size = len(probe.encode_request(request)[1])
    return Harness(Codec(registry, max_record_bytes=size), catalogue, now=probe.now)


def _outcomes(h: Harness) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    verdicts = [p.record for p in h.published if p.topic.endswith(".verdicts")]
    dead = [p.record for p in h.published if p.topic.endswith(".deadletter")]
    return verdicts, dead


def _pcn(now: float) -> tuple[dict[str, Any], dict[str, Any]]:
    request, attestation = examples.refresh(examples.load(PCN).fixtures["accept"], random.Random(1), now)
    request["consent"]["legal_basis"] = "SCC_FILED"  # three stateful hops: members, volume, ledger
    assert attestation is not None
    return request, attestation


def test_a_request_over_the_limit_is_still_refused(shipped: tuple[SchemaRegistry, Catalogue]) -> None:
    late = Traffic(seed=3, now=examples.FIXTURE_TIME.timestamp()).case(SB, "late").request
    assert late is not None
    registry, catalogue = shipped
    probe = _at_the_limit(shipped, late)
    h = Harness(Codec(registry, max_record_bytes=probe.codec.max_record_bytes - 1), catalogue, now=probe.now)
    h.send_request(late)
    verdicts, dead = _outcomes(h)
    assert not verdicts
    assert [d["reason"] for d in dead] == ["too_large"]


def test_a_parked_request_at_the_limit_times_out_after_a_restart(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    late = Traffic(seed=3, now=examples.FIXTURE_TIME.timestamp()).case(SB, "late").request
    assert late is not None
    h = _at_the_limit(shipped, late)
    h.send_request(late)
    [raw] = h.pending.values()
    assert len(raw) > h.codec.max_record_bytes  # the internal record is larger than the input limit
    h.restart()  # a new process: the sweeper decodes the parked record from the table
    h.advance(h.attestation_timeout_s + 1)
    h.restart()
    h.advance(h.attestation_timeout_s + 1)  # and every later start too
    verdicts, dead = _outcomes(h)
    assert [v["request_id"] for v in verdicts] == [late["request_id"]]
    assert not dead
    assert not h.pending


def test_a_stateful_request_at_the_limit_passes_its_hops_after_a_restart(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    request, attestation = _pcn(examples.FIXTURE_TIME.timestamp())
    h = _at_the_limit(shipped, request)
    assert not h.send_request(request)[0].topic.endswith((".verdicts", ".deadletter"))
    h.restart()
    h.send_attestation(attestation)
    assert len(h.internal) == 3
    assert all(len(hop.value) > h.codec.max_record_bytes for hop in h.internal)
    verdicts, dead = _outcomes(h)
    assert [(v["request_id"], v["outcome"]) for v in verdicts] == [(request["request_id"], "ACCEPT")]
    assert not dead


def test_an_unreadable_pending_entry_is_counted_not_raised(shipped: tuple[SchemaRegistry, Catalogue]) -> None:
    registry, catalogue = shipped
    h = Harness(Codec(registry), catalogue)
    h.pending[b"not-a-request"] = b"\xc3\x01 not avro"
    h.restart()
    h.advance(h.attestation_timeout_s + 1)
    assert not h.pending  # out of the table: it would fail again at every start
    assert h.registry.get_sample_value("crossbound_unreadable_total", {"where": "pending"}) == 1.0


def test_a_pending_entry_of_another_record_type_is_unreadable_and_the_sweep_goes_on(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    """An entry that decodes, but as another record: the sweep raised KeyError on it, losing its batch."""
    registry, catalogue = shipped
    h = Harness(Codec(registry), catalogue, now=examples.FIXTURE_TIME.timestamp())
    cases = [Traffic(seed=s, now=h.now).case("sb_corporate_credit_report", "valid") for s in (1, 2)]
    for case in cases:
        assert case.request is not None
        h.send_request(case.request)  # parked, each
    usage = {"windows": {}, "members": {}, "replies": b"", "counted": b"", "touched_at": 0}
    h.pending[b"another-type"] = h.codec.encode("internal/quota_usage", usage)
    h.restart()
    outs = h.advance(h.attestation_timeout_s + 1)
    assert sorted(o.record["request_id"] for o in outs) == sorted(c.request_id for c in cases)
    assert all(o.topic == h.topics.verdicts("hk") for o in outs)
    assert not h.pending
    assert h.registry.get_sample_value("crossbound_unreadable_total", {"where": "pending"}) == 1.0


def test_an_unreadable_hop_record_is_counted_not_raised(shipped: tuple[SchemaRegistry, Catalogue]) -> None:
    registry, catalogue = shipped
    h = Harness(Codec(registry), catalogue)
    assert h.send(h.topics.quota, b"k", b"\xc3\x01 not avro") == []
    assert h.send(h.topics.quota, b"k", None) == []
    assert h.registry.get_sample_value("crossbound_unreadable_total", {"where": "quota"}) == 2.0
