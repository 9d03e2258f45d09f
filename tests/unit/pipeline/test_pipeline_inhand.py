"""What a hop needs, kept decoded in the process that produced it: its record, and its key's state.

No decode where the bytes are this process's own, and the same outputs as with one."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from crossbound.pipeline.inhand import InHand
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples

NOW = 1_795_510_800.0  # the fixtures' time


@pytest.fixture
def cel_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The expressions of every CEL program run from here on, in order."""
    from crossbound.rules.cel import CelProgram

    runs: list[str] = []
    call = CelProgram.__call__

    def counting(self: CelProgram, ctx: Any) -> Any:
        runs.append(self.expr)
        return call(self, ctx)

    monkeypatch.setattr(CelProgram, "__call__", counting)
    return runs


PCN = "payment_connect_northbound"  # a ledger hop and C10's members and volume hops


def payment(seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scenario's accept case, refreshed (new ids and digests)."""
    request, attestation = examples.refresh(examples.load(PCN).fixtures["accept"], random.Random(seed), NOW)
    assert attestation is not None
    return request, attestation


def _published(h: Harness, cases: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[tuple[Any, ...]]:
    out = []
    for request, attestation in cases:
        for p in h.send_request(request) + h.send_attestation(attestation):
            out.append((p.topic, p.key, p.partition, p.value, p.headers))
    return out + [(o.topic, o.key, o.partition, o.value, o.headers) for o in h.internal]


def test_a_hop_in_process_decodes_neither_its_record_nor_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness.from_dirs(now=NOW)
    request, attestation = payment(1)
    h.send_request(request)
    decoded: list[str] = []
    decode: Callable[..., Any] = h.codec.decode

    def counting(data: bytes, expected: Any = None) -> Any:
        decoded.append(h.codec.peek(data).subject)
        return decode(data, expected)

    monkeypatch.setattr(h.codec, "decode", counting)
    (verdict,) = [p for p in h.send_attestation(attestation) if p.topic == h.topics.verdicts("hk")]
    assert h.internal, "the scenario's stateful hops ran"
    assert verdict.record["outcome"] == "ACCEPT"
    assert "internal/quota_check" not in decoded
    assert "core/request" not in decoded  # the request inside the hop record


def test_a_key_state_this_process_wrote_last_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness.from_dirs(now=NOW)
    first, second = payment(1), payment(2)  # other people, at the same institutions' keys (C10)
    h.send_request(first[0])
    h.send_attestation(first[1])
    h.send_request(second[0])
    decoded: list[str] = []
    decode: Callable[..., Any] = h.codec.decode

    def counting(data: bytes, expected: Any = None) -> Any:
        decoded.append(h.codec.peek(data).subject)
        return decode(data, expected)

    monkeypatch.setattr(h.codec, "decode", counting)
    hops = len(h.internal)
    h.send_attestation(second[1])
    assert len(h.internal) > hops
    assert set(h.pipeline.hops.states) & set(h.usage), "a key written twice"
    assert "internal/quota_usage" not in decoded


def test_a_hop_decoded_from_its_bytes_gives_the_same_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where the hop runs in another process: every output byte the same."""
    cases = [payment(i) for i in range(6)]
    kept = _published(Harness.from_dirs(now=NOW), cases)
    cold = Harness.from_dirs(now=NOW)
    monkeypatch.setattr(cold.pipeline.outputs, "in_hand", InHand(max_kept=0))
    monkeypatch.setattr(cold.pipeline.hops, "max_states", 0)
    taken: list[bytes] = []
    monkeypatch.setattr(InHand, "take", lambda self, value: taken.append(value))
    assert _published(cold, cases) == kept
    assert taken, "the hops asked for what was in hand"


def test_in_hand_entries_are_taken_once_and_bounded() -> None:
    hand = InHand(max_kept=2)
    for v in (b"a", b"b", b"c"):
        hand.keep(v, ({}, {}, {}, (), {}))  # type: ignore[typeddict-item]
    assert hand.take(b"a") is None  # the oldest, dropped
    assert hand.take(bytes(bytearray(b"b"))) is not None  # equal bytes, not the same object
    assert hand.take(b"b") is None
    none = InHand(max_kept=0)
    none.keep(b"a", ({}, {}, {}, (), {}))  # type: ignore[typeddict-item]
    assert none.take(b"a") is None


def test_a_hop_in_process_takes_over_the_request_s_preconditions_and_findings(
    monkeypatch: pytest.MonkeyPatch, cel_runs: list[str]
) -> None:
    """The preconditions over the request alone, evaluated once for all its hops; no finding re-read."""
    import crossbound.pipeline.hops as hops_module

    runs = cel_runs
    ecny = examples.load("ecny_crossboundary_wallet").fixtures["accept"]  # ledger hops with a `when`
    request, attestation = examples.refresh(ecny, random.Random(3), NOW)
    assert attestation is not None

    def published(h: Harness) -> list[tuple[Any, ...]]:
        h.send_request(request)
        runs.clear()
        out = [(p.topic, p.key, p.value) for p in h.send_attestation(attestation)]
        return out + [(o.topic, o.key, o.value) for o in h.internal]

    cold = Harness.from_dirs(now=NOW)
    cold.pipeline.outputs.in_hand = InHand(max_kept=0)
    decoded = published(cold)
    cold_runs = len(runs)
    monkeypatch.setattr(hops_module, "finding", lambda raw: pytest.fail("a finding read back in hand"))
    warm = published(Harness.from_dirs(now=NOW))
    assert warm == decoded
    assert len(runs) < cold_runs, (len(runs), cold_runs)


def test_the_attestation_stage_takes_over_the_request_stage_s_preconditions(cel_runs: list[str]) -> None:
    """A request parked by this process: its preconditions over the request alone are not run again."""
    runs = cel_runs
    ecny = examples.load("ecny_crossboundary_wallet").fixtures["accept"]
    request, attestation = examples.refresh(ecny, random.Random(4), NOW)
    assert attestation is not None
    h = Harness.from_dirs(now=NOW)
    h.send_request(request)
    assert "payload.op == 'PAYMENT'" in runs  # a request-stage rule's precondition
    runs.clear()
    (verdict,) = [p for p in h.send_attestation(attestation) if p.topic == h.topics.verdicts("hk")]
    assert verdict.record["outcome"] == "ACCEPT"
    assert "payload.op == 'PAYMENT'" not in runs  # attestation-stage and stateful rules share it
    assert any(r.startswith("double(attestation.") for r in runs)  # those reading the attestation ran
