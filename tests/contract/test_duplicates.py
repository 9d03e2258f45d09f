"""Duplicates: a request or an attestation seen again is answered once; the copy is a dead letter."""

from __future__ import annotations

import uuid

from transports import Transport

from crossbound.testing.traffic import Case, Traffic


def _case(transport: Transport, seed: int) -> Case:
    case = Traffic(seed=seed, now=transport.now).case("sb_corporate_credit_report", "valid")
    assert case.request is not None
    assert case.attestation is not None
    return case


async def test_a_duplicate_request_is_answered_once_and_dead_lettered(transport: Transport) -> None:
    case = _case(transport, 13)
    assert case.request is not None
    rid = await transport.send_case(case.request, case.attestation)
    await transport.send_case(case.request)
    [verdict] = await transport.verdicts("hk", 1)
    [copy] = await transport.dead_letters("hk", 1)
    await transport.settle()
    assert len(await transport.verdicts("hk", 1)) == 1
    assert verdict.record["request_id"] == rid
    assert verdict.record["outcome"] == "ACCEPT"
    assert copy.record["reason"] == "duplicate_request"
    assert copy.record["request_id"] == rid
    assert dict(copy.headers)["crossbound.reason"] == b"duplicate_request"


async def test_a_request_id_reused_with_another_body_is_a_conflict(transport: Transport) -> None:
    case = _case(transport, 16)
    assert case.request is not None
    rid = await transport.send_case(case.request, case.attestation)
    await transport.send_case(dict(case.request, nonce=uuid.uuid4().hex))
    [copy] = await transport.dead_letters("hk", 1)
    [verdict] = await transport.verdicts("hk", 1)
    assert copy.record["reason"] == "request_id_conflict"
    assert verdict.record["request_id"] == rid
    assert verdict.record["outcome"] == "ACCEPT"


async def test_an_attestation_sent_again_after_the_verdict_is_late(transport: Transport) -> None:
    case = _case(transport, 17)
    assert case.request is not None
    assert case.attestation is not None
    await transport.send_case(case.request, case.attestation)
    await transport.verdicts("hk", 1)
    await transport.send_attestation(case.attestation)
    [late] = await transport.dead_letters("sz", 1)  # the attestation's own side
    await transport.settle()
    assert late.record["reason"] == "late_attestation"
    assert late.record["request_id"] == case.request["request_id"]
    assert len(await transport.verdicts("hk", 1)) == 1
    assert await transport.dead_letters("hk", 0) == []


async def test_an_attestation_nobody_asked_for_is_an_orphan(transport: Transport) -> None:
    case = _case(transport, 18)
    assert case.attestation is not None
    await transport.send_attestation(case.attestation)
    [orphan] = await transport.dead_letters("sz", 1)
    assert orphan.record["reason"] == "orphan_attestation"
    assert orphan.record["request_id"] == case.attestation["request_id"]
    assert await transport.verdicts("hk", 0) == []
