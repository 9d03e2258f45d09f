"""Dead letters: what cannot be read is kept on its own side with its bytes (cut to 64 KiB if oversized)."""

from __future__ import annotations

import uuid

from transports import Transport

from crossbound.codec import Codec


def _key(name: str) -> bytes:
    return f"k-{name}-{uuid.uuid4().hex[:8]}".encode()


async def test_an_oversized_record_keeps_only_its_first_64_kib_in_the_dead_letter(
    transport: Transport,
) -> None:
    key = _key("big")
    big = b"\xc3\x01" + bytes(1_020_000)  # over the 1 MB limit, under the producer's 1 MiB
    await transport.send(transport.topics.requests("hk"), key, big)
    [dead] = await transport.dead_letters("hk", 1)
    assert dead.key == key
    assert dead.record["reason"] == "too_large"
    assert dead.record["value"] == big[: 64 * 1024]  # kept short: the dead letter must fit the broker
    assert dead.record["value_size"] == len(big)
    assert dead.record["source_topic"] == transport.topics.requests("hk")


async def test_unreadable_records_go_to_the_dead_letter_of_their_side_with_their_bytes(
    transport: Transport, codec: Codec
) -> None:
    t = transport.topics
    garbage, unknown, wrong_type, orphan = (_key(n) for n in ("garbage", "unknown", "wrongtype", "orphan"))
    verdict_header = codec.framing.header(codec.registry.current("core/verdict"))
    await transport.send(t.requests("hk"), garbage, b"\x00\x00\x00\x00\x07not avro at all")
    await transport.send(t.requests("sz"), unknown, b"\xc3\x01" + bytes(range(8)) + b"\x02\x04")
    await transport.send(t.requests("sz"), wrong_type, verdict_header + b"\x00")
    await transport.send(t.attestations("hk"), orphan, b"\xc3\x01")
    on_hk = {d.key: d for d in await transport.dead_letters("hk", 2)}
    on_sz = {d.key: d for d in await transport.dead_letters("sz", 2)}
    assert set(on_hk) == {garbage, orphan}
    assert set(on_sz) == {unknown, wrong_type}
    dead = on_hk[garbage]
    assert dead.record["reason"] == "bad_magic"
    assert dead.record["value"] == b"\x00\x00\x00\x00\x07not avro at all"
    assert dead.record["source_topic"] == t.requests("hk")
    assert dead.record["source_offset"] >= 0
    assert dict(dead.headers)["crossbound.reason"] == b"bad_magic"
    assert dict(dead.headers)["crossbound.source"] == t.requests("hk").encode()
    assert on_sz[unknown].record["reason"] == "unknown_schema"
    assert on_sz[unknown].record["source_topic"] == t.requests("sz")
    assert on_sz[wrong_type].record["reason"] == "wrong_record_type"
    assert on_hk[orphan].record["reason"] == "bad_magic"
    assert on_hk[orphan].record["source_topic"] == t.attestations("hk")
    assert await transport.verdicts("hk", 0) == []
    assert await transport.verdicts("sz", 0) == []
