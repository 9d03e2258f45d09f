"""Unit tests of crossbound.client.Attester over the in-memory broker and the real pipeline: it answers
only attestation requests the platform's key of its side signed and that are addressed to it; its
answer is signed as itself and is one the pipeline accepts; a forged request is refused and counted."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from client_fakes import MemoryWire, World

from crossbound.client import Attester, Institution
from crossbound.client.identity import institution_signer
from crossbound.domain import Side
from crossbound.signing import Binding, RecordKind, Verified, Verifier, authorise_attester
from crossbound.testing import Published


class Holder:
    """The data holder's side: what it was asked, and its answer (or a failure)."""

    def __init__(self, answer: Mapping[str, Any] | None, fail: bool = False) -> None:
        self.asked: list[dict[str, Any]] = []
        self.answer = answer
        self.fail = fail

    async def __call__(self, asked: dict[str, Any]) -> Mapping[str, Any] | None:
        self.asked.append(asked)
        if self.fail:
            raise RuntimeError("the holder's own store is down")
        return self.answer


def attester(world: World, holder: Holder) -> Attester:
    return world.client(Attester, world.identity("attester"), holder)


def requester(world: World) -> Institution:
    return world.client(Institution, world.identity("requester"))


async def until(predicate: Any) -> None:
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("never happened")


async def test_a_signed_request_is_answered_signed_and_the_requester_gets_its_verdict(world: World) -> None:
    holder = Holder(world.answer)
    async with attester(world, holder) as att, requester(world) as inst:
        verdict = await inst.request_and_wait(world.request, timeout_s=5)
    assert verdict["outcome"] == "ACCEPT"
    [asked] = holder.asked
    assert asked["request_id"] == verdict["request_id"]
    assert isinstance(asked["payload"], dict)  # decoded for the callback
    [rec] = world.memory.topics["sz.attestations"]
    assert rec.value is not None
    binding = Binding(Side.SZ, RecordKind.ATTESTATION, rec.key or b"")
    found = Verifier(world.registry).verify(rec.value, rec.headers, binding, int(world.harness.now * 1000))
    assert isinstance(found, Verified)
    me = (att.identity.scheme, att.identity.id)
    assert authorise_attester(world.registry, found, asked["scenario_id"], me, me) is None
    assert att.answered == 1


@pytest.mark.parametrize("forgery", ["unsigned", "institutions_key", "bit_flipped"])
async def test_a_forged_attestation_request_is_refused_counted_and_not_answered(
    world: World, forgery: str
) -> None:
    holder = Holder(world.answer)
    them = world.identity("requester")
    mine = institution_signer(world.key_file(them), world.registry, them)

    def forge(p: Published, headers: Any) -> tuple[bytes, Any]:
        if "attestation-requests" not in p.topic:
            return p.value, headers
        if forgery == "unsigned":
            return p.value, ()
        if forgery == "institutions_key":  # a requester posing as the platform
            binding = Binding(Side.SZ, RecordKind.ATTESTATION_REQUEST, p.key or b"")
            return p.value, mine.headers(p.value, binding, int(world.harness.now * 1000))
        return p.value[:-1] + bytes([p.value[-1] ^ 1]), headers

    world.platform.forge = forge
    reason = {"unsigned": "unsigned", "institutions_key": "unknown_signer", "bit_flipped": "bad_signature"}
    async with attester(world, holder) as att, requester(world) as inst:
        await inst.publish(world.request)
        labels = {"record": "attestation_request", "reason": reason[forgery]}
        await until(lambda: att.metrics.value("crossbound_client_refused_total", **labels) == 1)
    assert holder.asked == []
    assert "sz.attestations" not in world.memory.topics


async def test_a_request_for_another_data_holder_is_skipped(world: World) -> None:
    holder = Holder(world.answer)
    async with attester(world, holder) as att, requester(world) as inst:
        scenario = world.request["scenario_id"]
        me = world.identity("attester")
        p = next(p for p in world.registry.participants if scenario in p.may_attest and p.key != me.key)
        inst_json = {"scheme": p.scheme.value, "id": p.identifier, "city": p.city}
        await inst.publish(world.request | {"attester_inst": inst_json})
        await until(lambda: "sz.attestation-requests" in world.memory.topics)
        await asyncio.sleep(0.02)
    assert holder.asked == []
    assert (
        att.metrics.value("crossbound_client_refused_total", record="attestation_request", reason="unsigned")
        == 0
    )


async def test_a_failing_callback_is_counted_and_serving_goes_on(world: World) -> None:
    holder = Holder(world.answer, fail=True)
    async with attester(world, holder) as att, requester(world) as inst:
        await inst.publish(world.request)
        await until(lambda: att.metrics.value("crossbound_client_answer_failed_total") == 1)
        holder.fail = False
        second = world.request | {"request_id": "6f1c1a0e-8a43-4c4e-9d0e-2b1a5f7c9d11", "nonce": "ab" * 16}
        await inst.publish(second)
        await until(lambda: att.answered == 1)
    assert len(holder.asked) == 2


async def test_an_answer_that_does_not_encode_is_counted_not_sent(world: World) -> None:
    holder = Holder({"status": "FOUND", "payload": {"no_such_field": 1}})
    async with attester(world, holder) as att, requester(world) as inst:
        await inst.publish(world.request)
        await until(lambda: att.metrics.value("crossbound_client_answer_failed_total") == 1)
    assert "sz.attestations" not in world.memory.topics


async def test_an_answer_the_broker_does_not_take_is_counted_and_serving_goes_on(world: World) -> None:
    holder = Holder(world.answer)
    att = attester(world, holder)
    wire = att.wire
    assert isinstance(wire, MemoryWire)
    send = wire.send
    failing = [False, True]  # popped from the end: the first answer fails

    async def flaky(topic: str, key: bytes, value: bytes, headers: Any) -> None:
        if topic.endswith("attestations") and failing.pop():
            raise KafkaTimeoutError()
        await send(topic, key, value, headers)

    wire.send = flaky  # type: ignore[method-assign]
    async with att, requester(world) as inst:
        await inst.publish(world.request)
        await until(lambda: att.metrics.value("crossbound_client_answer_failed_total") == 1)
        second = world.request | {"request_id": "6f1c1a0e-8a43-4c4e-9d0e-2b1a5f7c9d11", "nonce": "cd" * 16}
        verdict = await inst.request_and_wait(second, timeout_s=5)
    assert verdict["outcome"] == "ACCEPT"
    assert att.answered == 1
