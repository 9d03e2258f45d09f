"""Delivery: every request gets exactly one verdict, on its requester side, with the outcome it should."""

from __future__ import annotations

from collections import Counter

from transports import Transport

from crossbound.testing.traffic import Traffic

SCENARIOS = ("sb_corporate_credit_report", "nb_hk_resident_consumer_credit", "payment_connect_northbound")


async def test_every_request_gets_one_verdict_with_its_outcome_and_is_asked_once(
    transport: Transport,
) -> None:
    traffic = Traffic(seed=11, now=transport.now)
    expected: dict[str, tuple[str, str]] = {}
    for scenario in SCENARIOS:
        for variant in ("valid", "review", "invalid", "mismatch"):
            case = traffic.case(scenario, variant)
            assert case.request is not None
            rid = await transport.send_case(case.request, case.attestation)
            expected[rid] = (case.requester_side.lower(), case.expected)
    per_side = Counter(side for side, _ in expected.values())
    for side, n in per_side.items():
        await transport.verdicts(side, n)
    await transport.settle()
    got: dict[str, list[tuple[str, str]]] = {}
    for side in ("hk", "sz"):
        for v in await transport.verdicts(side, 0):
            assert v.key == v.record["request_id"].encode()
            got.setdefault(v.record["request_id"], []).append((side, v.record["outcome"]))
    assert got == {rid: [side_outcome] for rid, side_outcome in expected.items()}
    assert await transport.dead_letters("hk", 0) == []
    assert await transport.dead_letters("sz", 0) == []
    # request-stage rejects never ask the other side; everything else is asked exactly once
    asked = Counter(
        [
            a.record["request_id"]
            for side in ("hk", "sz")
            for a in await transport.attestation_requests(side, 0)
        ]
    )
    assert all(n == 1 for n in asked.values())
    invalid = {rid for rid, (_, outcome) in expected.items() if outcome == "REJECT"}
    assert len(asked) == len(expected) - len(invalid) + len(SCENARIOS)  # the mismatches are asked
