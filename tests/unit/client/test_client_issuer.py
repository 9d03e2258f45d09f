"""Unit tests of crossbound.client.Issuer over the in-memory broker and the real pipeline: the
fingerprint it publishes is signed as the data source on its registry topic, a fingerprint-mode request
is then answered from it, a revocation supersedes it, and a record the worker would refuse is refused
before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
from client_fakes import World

from crossbound.client import Identity, IdentityError, Institution, Issuer
from crossbound.domain import Side
from crossbound.errors import InputError
from crossbound.signing import Binding, RecordKind, Verified, Verifier
from crossbound.testing.traffic import Case, Traffic

SCENARIO = "corporate_kyc_report_fingerprint"


def case() -> Case:
    return Traffic(seed=11, now=1_790_000_000.0).fingerprint_case(SCENARIO, "valid")


def identity_of(world: World, inst: dict[str, Any]) -> Identity:
    participant = world.registry.find(inst["scheme"], inst["id"])
    assert participant is not None
    return Identity.of(participant)


def issuer(world: World, fingerprint: dict[str, Any]) -> Issuer:
    return world.client(Issuer, identity_of(world, fingerprint["issuer"]))


def institution(world: World, request: dict[str, Any]) -> Institution:
    return world.client(Institution, identity_of(world, request["requester_inst"]))


def bare(fingerprint: dict[str, Any]) -> dict[str, Any]:
    """The record as a data source writes it: what the identity fills in left out."""
    return {k: v for k, v in fingerprint.items() if k not in ("issuer", "issuer_side", "issued_at")}


async def test_the_fingerprint_is_signed_as_the_data_source_on_its_registry_topic(world: World) -> None:
    c = case()
    [fp] = c.fingerprints
    async with issuer(world, fp) as me:
        digest = await me.publish(bare(fp))
    assert digest == fp["digest"]
    topic = world.harness.topics.registry_for(Side(fp["issuer_side"]).topic, fp["issuer"])
    [rec] = world.memory.topics[topic]
    assert rec.key == digest.encode()
    assert rec.value is not None
    binding = Binding(Side(fp["issuer_side"]), RecordKind.FINGERPRINT, rec.key)
    found = Verifier(world.registry).verify(rec.value, rec.headers, binding, int(world.harness.now * 1000))
    assert isinstance(found, Verified)
    assert found.participant.key == me.identity.key
    record = world.codec.decode(rec.value)[1]
    assert record["issuer"]["id"] == me.identity.id
    assert record["issuer_side"] == me.identity.side.value
    assert int(record["issued_at"].timestamp()) == int(world.harness.now)  # filled in: now
    assert me.metrics.value("crossbound_client_sent_total", record="fingerprint") == 1


async def test_a_request_is_answered_from_the_published_fingerprint_until_it_is_revoked(
    world: World,
) -> None:
    c = case()
    assert c.request is not None
    [fp] = c.fingerprints
    async with issuer(world, fp) as source, institution(world, c.request) as user:
        await source.publish(fp)
        first = await user.request_and_wait(c.request, timeout_s=5)
        assert first["outcome"] == "ACCEPT"
        await source.revoke(fp, "ISSUED_IN_ERROR")
        again = dict(c.request, request_id="6f1de0c4-4f0b-4f43-9d59-3c8f9c1a0b7e", nonce="ab" * 16)
        second = await user.request_and_wait(again, timeout_s=5)
    assert second["outcome"] == "REJECT"
    assert "FINGERPRINT_REVOKED" in {f["code"] for f in second["findings"]}


async def test_a_record_the_worker_would_refuse_is_not_sent(world: World) -> None:
    [fp] = case().fingerprints
    async with issuer(world, fp) as me:
        with pytest.raises(InputError, match="valid_until must be after valid_from"):
            await me.publish(dict(fp, valid_until=fp["valid_from"]))
        with pytest.raises(InputError, match="revoked_at must be set exactly when revoked is true"):
            await me.publish(dict(fp, revoked=True))
        with pytest.raises(InputError, match="already revoked"):
            await me.revoke(dict(fp, revoked=True, revoked_at=fp["valid_from"]), "SUPERSEDED")
        other = dict(fp["issuer"], id="OTHERBANKXXX")
        with pytest.raises(IdentityError, match="another issuer"):
            await me.publish(dict(fp, issuer=other))
    assert not any(t.endswith("fingerprints") for t in world.memory.topics)


async def test_an_issuer_reads_nothing(world: World) -> None:
    [fp] = case().fingerprints
    wire = world.memory.wire()
    me = issuer(world, fp)
    me.wire = wire
    async with me:
        assert me.reads is None
        assert not me.reading
    assert wire.started
    assert wire.stopped
    assert wire.read is None
