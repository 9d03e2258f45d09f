"""Every input ends in exactly one verdict or one dead letter, whatever raises where.

Faults are injected through the Harness's public seam, its codec: the Nth encode or decode of one
subject raises, at each stage a record goes through (request, payload, parking, attestation, each
stateful hop, each output, the sweeper before and after a restart). A hop decodes its record only where
another process produced it (:mod:`crossbound.pipeline.inhand`), so the faults of those decodes run
with nothing kept in hand (phase ``cold``). Then every request must have
exactly one outcome, a verdict or a dead letter on its requester side, and an attestation at most one
dead letter of its own; nothing may raise out of the harness.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from typing import Any

import pytest

from crossbound.codec import Codec, SchemaRegistry
from crossbound.pipeline.inhand import InHand
from crossbound.rules import Catalogue
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.traffic import Traffic

PCN = "payment_connect_northbound"
PCN_REQUEST = f"scenarios/{PCN}/request"
PCN_ATTESTATION = f"scenarios/{PCN}/attestation"
SB = "sb_corporate_credit_report"


class Injected(RuntimeError):
    """The injected fault."""


class FaultyCodec(Codec):
    """A codec whose ``nth`` encode or decode of ``subject`` raises, once armed."""

    def __init__(self, registry: SchemaRegistry) -> None:
        super().__init__(registry)
        self.fault: tuple[str, str, int] | None = None
        self.calls = 0
        self.fired = False

    def arm(self, op: str, subject: str, nth: int) -> None:
        self.fault, self.calls = (op, subject, nth), 0

    def _maybe_fail(self, op: str, subject: str) -> None:
        if self.fault is None or self.fault[:2] != (op, subject):
            return
        self.calls += 1
        if self.calls == self.fault[2]:
            self.fired = True
            raise Injected(f"{op} {subject}")

    def encode(self, subject: str, record: dict[str, Any]) -> bytes:
        self._maybe_fail("encode", subject)
        return super().encode(subject, record)

    def decode(self, data: bytes, expected: Collection[str] | None = None) -> Any:
        if len(data) >= 10:
            version = self.registry.by_fingerprint(data[2:10])
            if version is not None:
                self._maybe_fail("decode", version.subject)
        return super().decode(data, expected)


@pytest.fixture(scope="module")
def shipped() -> tuple[SchemaRegistry, Catalogue]:
    proto = Harness.from_dirs()
    return proto.codec.registry, proto.catalogue


def _cases(now: float) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """A request with three stateful hops, one rejected at once, one that times out."""
    request, attestation = examples.refresh(examples.load(PCN).fixtures["accept"], random.Random(1), now)
    request["consent"]["legal_basis"] = "SCC_FILED"  # C10: a members hop and a volume hop, then the ledger
    traffic = Traffic(seed=3, now=now)
    rejected = traffic.case(SB, "invalid")
    late = traffic.case(SB, "late")
    assert rejected.request is not None
    assert late.request is not None
    return [(request, attestation), (rejected.request, None), (late.request, None)]


def _run(
    shipped: tuple[SchemaRegistry, Catalogue], phase: str, fault: tuple[str, str, int] | None
) -> Harness:
    registry, catalogue = shipped
    codec = FaultyCodec(registry)
    h = Harness(codec, catalogue, now=examples.FIXTURE_TIME.timestamp())
    if phase == "cold":  # every hop record decoded from its bytes, as in another process
        h.pipeline.outputs.in_hand = InHand(max_kept=0)
    if fault is not None and phase in ("send", "cold"):
        codec.arm(*fault)
    for request, attestation in _cases(h.now):
        out = h.send_request(request)
        if attestation is not None and not out[0].topic.endswith((".verdicts", ".deadletter")):
            h.send_attestation(attestation)
    if phase == "restart":
        h.restart()  # a new process: nothing cached, the sweeper decodes what is parked
    if fault is not None and phase in ("sweep", "restart"):
        codec.arm(*fault)
    h.advance(h.attestation_timeout_s + 1)
    if fault is not None:
        assert codec.fired, "the fault was not reached: the case no longer tests what it says"
    return h


def _assert_one_outcome_each(h: Harness) -> None:
    ids = [str(c[0]["request_id"]) for c in _cases(h.now)]
    verdicts = [p.record for p in h.published if p.topic.endswith(".verdicts")]
    dead = [p.record for p in h.published if p.topic.endswith(".deadletter")]
    for rid in ids:
        answered = [v for v in verdicts if v["request_id"] == rid]
        key = rid.encode()
        on_request = [d for d in dead if d["key"] == key and ".requests" in d["source_topic"]]
        on_attestation = [d for d in dead if d["key"] == key and ".attestations" in d["source_topic"]]
        assert len(answered) + len(on_request) == 1, (rid, answered, on_request)
        assert len(on_attestation) <= 1
        for d in on_request + on_attestation:
            assert d["reason"] == "internal_error"
            assert d["detail"].startswith("unexpected Injected ")  # the exception's type, never a value
    assert len(verdicts) + len(dead) == len(ids) + sum(
        1 for d in dead if ".attestations" in d["source_topic"]
    ), "every output is some input's one outcome"


def test_without_a_fault_each_input_has_one_outcome_and_three_hops(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    h = _run(shipped, "send", None)
    assert len(h.internal) == 3  # members, volume, the payer's ledger
    assert [v["outcome"] for v in (p.record for p in h.published if p.topic.endswith(".verdicts"))] == [
        "ACCEPT",
        "REJECT",
        "REJECT",
    ]
    assert not any(p.topic.endswith(".deadletter") for p in h.published)


SEND_FAULTS = [
    ("decode", "core/request", 1),  # request decode
    ("decode", PCN_REQUEST, 1),  # the request's payload, before the request rules
    ("encode", "internal/pending_request", 1),  # parking
    ("encode", "core/attestation_request", 1),  # output: the attestation request
    ("encode", "internal/answered_request", 2),  # remembering the rejected request's answer
    ("decode", "core/attestation", 1),  # attestation decode
    ("decode", PCN_ATTESTATION, 1),  # the attestation's payload
    ("encode", "internal/answered_request", 1),  # remembering the attestation's answer (the first hop)
    ("encode", "internal/quota_check", 1),  # output: the first hop record
    ("encode", "internal/quota_usage", 1),  # hop 1's state
    ("encode", "internal/quota_check", 2),  # hop 1's output: the hop record of hop 2
    ("encode", "internal/quota_usage", 2),  # hop 2's state
    ("encode", "internal/quota_usage", 3),  # hop 3's state
    ("encode", "core/verdict", 1),  # output: hop 3's verdict
    ("encode", "core/verdict", 2),  # output: the rejected request's verdict
]
COLD_FAULTS = [  # hop records from another process: decoded
    ("decode", "internal/quota_check", 1),  # hop 1 (members)
    ("decode", "internal/quota_check", 2),  # hop 2 (volume)
    ("decode", "internal/quota_check", 3),  # hop 3 (ledger)
    ("decode", "core/request", 2),  # hop 1 decoding the request it carries
    ("decode", PCN_REQUEST, 2),  # hop 1 decoding its payload
    ("decode", PCN_REQUEST, 4),  # hop 3 decoding the payload it carries
]
SWEEP_FAULTS = [
    ("encode", "core/verdict", 1),  # output: the timeout verdict
    ("encode", "internal/answered_request", 1),  # remembering the timeout's answer
]
RESTART_FAULTS = [
    ("decode", "internal/pending_request", 1),  # the new process indexing the pending table
    ("decode", "internal/pending_request", 2),  # the sweeper reading a due entry
    ("decode", "internal/pending_request", 3),  # the sweeper loading it
    ("decode", "core/request", 1),  # the parked request
    ("decode", "scenarios/sb_corporate_credit_report/request", 1),  # its payload
    ("encode", "core/verdict", 1),
]


@pytest.mark.parametrize(
    ("phase", "fault"),
    [("send", f) for f in SEND_FAULTS]
    + [("cold", f) for f in COLD_FAULTS]
    + [("sweep", f) for f in SWEEP_FAULTS]
    + [("restart", f) for f in RESTART_FAULTS],
    ids=lambda v: v if isinstance(v, str) else ":".join(map(str, v)),
)
def test_a_fault_anywhere_still_gives_each_input_one_outcome(
    shipped: tuple[SchemaRegistry, Catalogue], phase: str, fault: tuple[str, str, int]
) -> None:
    _assert_one_outcome_each(_run(shipped, phase, fault))


def test_a_failed_hop_is_dead_lettered_for_its_request_with_the_source_it_carries(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    h = _run(shipped, "send", ("encode", "internal/quota_usage", 2))
    [dl] = h.dead_letters("hk")
    [sent] = [p for p in h.attestation_requests("sz") if p["scenario_id"] == PCN]
    assert dl["request_id"] == sent["request_id"]
    assert dl["source_topic"] == h.topics.requests("hk")
    assert dl["source_partition"] == 0
    assert dl["source_offset"] == -1  # the hop record does not carry the request's offset
    assert h.codec.decode(dl["value"])[1]["request_id"] == sent["request_id"]  # the request as sent
    assert dl["value_size"] == len(dl["value"])
    assert dl["detail"] == "unexpected Injected in a stateful hop"
    assert len(h.internal) == 2  # no hop after the failed one
