"""Unit tests of crossbound.client.Institution over the in-memory broker and the real pipeline: the
request it publishes is signed as the institution; a verdict is returned only when the platform's key
of its side signed it; every other verdict is refused with its reason, and counted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from client_fakes import MemoryWire, Rec, World

from crossbound.client import (
    ClientError,
    Identity,
    IdentityError,
    Institution,
    Trust,
    VerdictRefused,
    VerdictTimeout,
)
from crossbound.client.identity import institution_signer
from crossbound.domain import Side
from crossbound.signing import Binding, RecordKind, Verified, Verifier, authorise_requester
from crossbound.testing import Published
from crossbound.topics import Topics


def institution(world: World, *, signed: bool = True, topics: Topics | None = None) -> Institution:
    return world.client(Institution, world.identity("requester"), signed=signed, topics=topics)


def refused(inst: Institution, reason: str) -> float:
    return inst.metrics.value("crossbound_client_refused_total", record="verdict", reason=reason)


async def test_the_request_is_signed_as_the_institution_it_names(world: World) -> None:
    async with institution(world) as inst:
        request = {k: v for k, v in world.request.items() if k not in ("requester_inst", "requester_side")}
        request_id = await inst.publish(request)
    [rec] = world.memory.topics["hk.requests"]
    assert rec.key == request_id.encode()
    binding = Binding(Side.HK, RecordKind.REQUEST, rec.key)
    assert rec.value is not None
    found = Verifier(world.registry).verify(rec.value, rec.headers, binding, int(world.harness.now * 1000))
    assert isinstance(found, Verified)
    assert found.participant.key == inst.identity.key
    record = world.codec.decode(rec.value)[1]
    assert record["requester_inst"]["id"] == inst.identity.id  # the envelope filled in as itself
    assert (
        authorise_requester(
            world.registry, found, record["scenario_id"], (inst.identity.scheme, inst.identity.id)
        )
        is None
    )
    assert inst.metrics.value("crossbound_client_sent_total", record="request") == 1


async def test_a_verdict_the_platform_signed_is_returned(world: World) -> None:
    async with institution(world) as inst:
        request_id = await inst.publish(world.request)
        world.platform.publish(world.harness.send_attestation(world.case.attestation or {}))
        verdict = await inst.verdict(request_id, timeout_s=5)
    assert verdict["request_id"] == request_id
    assert verdict["outcome"] == "ACCEPT"


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        ("unsigned", "unsigned"),
        ("value_changed", "bad_signature"),
        ("other_sides_key", "unknown_signer"),
        ("institutions_key", "unknown_signer"),
        ("garbage_signed", "undecodable"),
        ("another_requests_verdict", "wrong_request"),
    ],
)
async def test_a_verdict_that_is_not_the_platforms_is_refused_never_returned(
    world: World, forgery: str, reason: str
) -> None:
    me = world.identity("requester")
    sz_platform = world.platform.signers[Side.SZ]
    mine = institution_signer(world.key_file(me), world.registry, me)
    hk = world.platform.signers[Side.HK]
    ms = int(world.harness.now * 1000)

    def forge(p: Published, headers: Any) -> tuple[bytes, Any]:
        key = p.key or b""
        binding = Binding(Side.HK, RecordKind.VERDICT, key)
        if forgery == "unsigned":
            return p.value, ()
        if forgery == "value_changed":
            return p.value[:-1] + bytes([p.value[-1] ^ 1]), headers  # one bit of the value changed
        if forgery == "other_sides_key":
            return p.value, sz_platform.headers(p.value, binding, ms)
        if forgery == "institutions_key":
            return p.value, mine.headers(p.value, binding, ms)
        if forgery == "garbage_signed":
            return b"not a verdict", hk.headers(b"not a verdict", binding, ms)
        other = world.codec.decode(p.value)[1] | {"request_id": "00000000-0000-4000-8000-000000000000"}
        value = world.codec.encode("core/verdict", other)
        return value, hk.headers(value, binding, ms)

    async with institution(world) as inst:
        request_id = await inst.publish(world.request)
        world.platform.forge = lambda p, h: forge(p, h) if "verdicts" in p.topic else (p.value, h)
        world.platform.publish(world.harness.send_attestation(world.case.attestation or {}))
        with pytest.raises(VerdictRefused) as caught:
            await inst.verdict(request_id, timeout_s=5)
    assert caught.value.reason == reason
    assert caught.value.request_id == request_id
    assert refused(inst, reason) == 1


async def test_no_verdict_in_time_is_a_timeout(world: World) -> None:
    async with institution(world) as inst:
        request_id = await inst.publish(world.request)
        with pytest.raises(VerdictTimeout) as caught:
            await inst.verdict(request_id, timeout_s=0.05)
    assert isinstance(caught.value, TimeoutError)
    assert request_id in str(caught.value)


async def test_a_repeated_verdict_and_another_institutions_are_ignored(world: World) -> None:
    async with institution(world) as inst:
        request_id = await inst.publish(world.request)
        world.memory.append(Rec("hk.verdicts", 0, b"someone-else", b"x", ()))  # not waited for: skipped
        out = world.harness.send_attestation(world.case.attestation or {})
        world.platform.publish(out)
        world.platform.publish(out)  # the platform may repeat a verdict
        verdict = await inst.verdict(request_id, timeout_s=5)
        await asyncio.sleep(0.01)
    assert verdict["outcome"] == "ACCEPT"
    assert inst.metrics.value("crossbound_client_refused_total", record="verdict", reason="undecodable") == 0


async def test_unsigned_path_sends_no_signature_and_takes_unsigned_verdicts(world: World) -> None:
    world.platform.forge = lambda p, h: (p.value, ())
    async with institution(world, signed=False) as inst:
        verdict_task = asyncio.create_task(inst.request_and_wait(world.request, timeout_s=5))
        await asyncio.sleep(0.01)
        world.platform.publish(world.harness.send_attestation(world.case.attestation or {}))
        verdict = await verdict_task
    assert verdict["outcome"] == "ACCEPT"
    assert world.memory.topics["hk.requests"][0].headers == ()


async def test_a_request_naming_another_requester_is_not_sent(world: World) -> None:
    other = next(
        p
        for p in world.registry.participants
        if p.side is Side.HK and p.key != world.identity("requester").key
    )
    async with institution(world) as inst:
        with pytest.raises(IdentityError):
            await inst.publish(
                world.request
                | {"requester_inst": {"scheme": other.scheme.value, "id": other.identifier, "city": "HK"}}
            )
    assert "hk.requests" not in world.memory.topics


async def test_per_institution_it_uses_its_own_topics(world: World) -> None:
    me = world.identity("requester")
    topics = Topics(layout="per_institution", participants=((me.side.topic, me.key),))
    inst = institution(world, topics=topics)
    world.memory.on_send = None  # the harness's pipeline reads the shared topics
    assert inst.reads == f"hk.{me.key}.verdicts"
    async with inst:
        await inst.publish(world.request)
    assert list(world.memory.topics) == [f"hk.{me.key}.requests"]


def test_a_key_file_that_is_not_the_institutions_is_refused_at_start(world: World) -> None:
    me, them = world.identity("requester"), world.identity("attester")
    with pytest.raises(IdentityError, match="none of"):
        Trust.load(world.registry, me, world.key_file(them))
    with pytest.raises(IdentityError, match="not in the registry"):
        Trust.load(world.registry, Identity("nobody", "BIC", "NOBODYXX", Side.HK), world.key_file(me))


async def test_a_reader_that_fails_fails_the_waiting_verdicts_and_says_so_at_exit(world: World) -> None:
    inst = institution(world)
    wire = inst.wire
    assert isinstance(wire, MemoryWire)

    async def broken(timeout_ms: int) -> list[Any]:
        await asyncio.sleep(0.01)
        raise KafkaConnectionError("the broker went away")

    await inst.__aenter__()
    request_id = await inst.publish(world.request)
    wire.poll = broken  # type: ignore[method-assign]
    with pytest.raises(ClientError, match=r"stopped reading hk\.verdicts: KafkaConnectionError"):
        await inst.verdict(request_id, timeout_s=5)
    with pytest.raises(ClientError, match="not reading"):
        await inst.verdict("another", timeout_s=5)
    with pytest.raises(KafkaConnectionError):
        await inst.__aexit__(None, None, None)
    assert wire.stopped  # disconnected all the same


async def test_the_blocks_own_exception_is_not_masked_by_the_readers(world: World) -> None:
    inst = institution(world)
    wire = inst.wire
    assert isinstance(wire, MemoryWire)

    async def broken(timeout_ms: int) -> list[Any]:
        raise KafkaConnectionError("the broker went away")

    async def use() -> None:
        async with inst:
            await asyncio.sleep(0.01)
            raise KeyError("the caller's own fault")

    wire.poll = broken  # type: ignore[method-assign]
    with pytest.raises(KeyError):
        await use()
    assert wire.stopped


async def test_awaiting_a_verdict_outside_async_with_is_an_error(world: World) -> None:
    with pytest.raises(ClientError, match="async with"):
        await institution(world).verdict("00000000-0000-4000-8000-000000000000", timeout_s=1)
