"""Timeouts: a request whose attestation never comes is decided when its deadline passes."""

from __future__ import annotations

from transports import TIMEOUT_S, Transport

from crossbound.testing.traffic import Traffic


async def test_an_unanswered_request_times_out_into_a_reject_verdict(transport: Transport) -> None:
    case = Traffic(seed=12, now=transport.now).case("nb_hk_resident_consumer_credit", "valid")
    assert case.request is not None
    assert case.attestation is not None
    rid = await transport.send_case(case.request)  # the data holder never answers
    [asked] = await transport.attestation_requests("hk", 1)
    assert asked.record["request_id"] == rid
    assert await transport.verdicts("sz", 0) == []
    await transport.advance(TIMEOUT_S + 0.5)
    [verdict] = await transport.verdicts("sz", 1)
    assert verdict.record["outcome"] == "REJECT"
    assert [f["code"] for f in verdict.record["findings"]][-1] == "ATTESTATION_TIMEOUT"
    assert verdict.record["requester_side"] == "SZ"
    # the verdict came no earlier than the timeout
    decided = verdict.record["decided_at"] - verdict.record["request_created_at"]
    assert decided.total_seconds() >= TIMEOUT_S
    # the answer that comes after the verdict is late
    await transport.send_attestation(case.attestation)
    [late] = await transport.dead_letters("hk", 1)
    assert late.record["reason"] == "late_attestation"
    await transport.settle()
    assert len(await transport.verdicts("sz", 1)) == 1
