"""What ``crossbound demo --secure`` tries that no honest participant would, and who refuses it.

Each :class:`Attempt` is one participant, connected as itself (its own SCRAM user), doing what it may
not: the broker refuses the first kind (the registry's ACLs: another institution's topic, a verdict
topic, another's consumer group, the data sources' registry topic), the worker the second (what the
ACLs let through but the signature check does not: unsigned, signed with a key that is not the
signer's, signed by one institution naming another, answered by a data holder the request did not
ask). :func:`attempt_all` runs them while the demo's worker is up and returns, for each, the reason
it was refused with (``allowed`` when it was not): the demo passes only when every reason is the
expected one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossbound.broker.security import ClientSecurity
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.participants import Algorithm, Participant, Registry
from crossbound.rules import Catalogue
from crossbound.signing import Binding, RecordKind, Signer
from crossbound.testing.encoding import Keyring, encode_attestation, encode_request
from crossbound.testing.live import LiveBus
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics

__all__ = ["SCENARIO", "Attempt", "attempt_all"]

SCENARIO = "sb_corporate_credit_report"  # an HK bank asks, an SZ data holder attests
_BROKER_REFUSED = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One thing a participant may not do: who tries it, what, who should refuse it and why."""

    who: str  # the participant's kind and key
    what: str
    refused_by: str  # "broker" or "worker"
    expected: str  # the broker's error name or the dead letter's reason


@dataclass
class _Cast:
    """The participants the attempts need, found in the registry, and how each connects."""

    registry: Registry
    login: Callable[[Participant], ClientSecurity]
    bootstrap: str
    topics: Topics

    def pick(self, side: Side, role: str, but: Participant | None = None) -> Participant:
        return next(
            p
            for p in self.registry.participants
            if p.side is side and SCENARIO in getattr(p, role) and p is not but
        )

    def topic(self, who: Participant, kind: str) -> str:
        return self.topics.of_participant(who.side.topic, who.key, kind)

    async def write(self, who: Participant, topic: str, key: bytes, value: bytes, headers: Any) -> None:
        async with AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, **self.login(who).aiokafka_kwargs()
        ) as producer:
            await producer.send_and_wait(topic, value, key=key, headers=headers)

    async def read(self, who: Participant, topic: str, group: str | None = None) -> None:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            **self.login(who).aiokafka_kwargs(),
        )
        try:
            await consumer.start()
            await consumer.getmany(timeout_ms=2000)
        finally:
            await consumer.stop()


@contextlib.contextmanager
def _quiet_refusals() -> Iterator[None]:
    """aiokafka logs each refused topic at ERROR (``aiokafka.cluster``); the summary says it once."""
    log = logging.getLogger("aiokafka.cluster")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


async def _broker_verdict(action: Awaitable[None]) -> str:
    try:
        await action
    except _BROKER_REFUSED as exc:
        return type(exc).__name__
    return "allowed"


async def attempt_all(
    bootstrap: str,
    topics: Topics,
    codec: Codec,
    catalogue: Catalogue,
    registry: Registry,
    keyring: Keyring,
    login: Callable[[Participant], ClientSecurity],
    admin: ClientSecurity,
) -> list[tuple[Attempt, str]]:
    """Run every attempt against the running worker; each with the reason it was refused with."""
    cast = _Cast(registry, login, bootstrap, topics)
    bank = cast.pick(Side.HK, "may_request")
    other_bank = cast.pick(Side.HK, "may_request", but=bank)
    holder = cast.pick(Side.SZ, "may_attest")
    other_holder = cast.pick(Side.SZ, "may_attest", but=holder)
    refused: list[tuple[Attempt, str]] = []
    forbidden = b"not allowed"
    for attempt, action in (
        (
            Attempt(f"bank {bank.key}", f"publishes on bank {other_bank.key}'s request topic", "broker",
                    "TopicAuthorizationFailedError"),
            cast.write(bank, cast.topic(other_bank, "requests"), b"r", forbidden, None),
        ),
        (
            Attempt(f"bank {bank.key}", f"reads bank {other_bank.key}'s verdicts", "broker",
                    "TopicAuthorizationFailedError"),
            cast.read(bank, cast.topic(other_bank, "verdicts")),
        ),
        (
            Attempt(f"bank {bank.key}", "writes a verdict on its own verdict topic", "broker",
                    "TopicAuthorizationFailedError"),
            cast.write(bank, cast.topic(bank, "verdicts"), b"r", forbidden, None),
        ),
        (
            Attempt(f"bank {bank.key}", f"consumes in bank {other_bank.key}'s consumer group", "broker",
                    "GroupAuthorizationFailedError"),
            cast.read(bank, cast.topic(bank, "verdicts"), f"{topics.prefix}{other_bank.key}.stolen"),
        ),
        (
            Attempt(f"data holder {holder.key}", f"reads data holder {other_holder.key}'s attestation "
                    "requests", "broker", "TopicAuthorizationFailedError"),
            cast.read(holder, cast.topic(other_holder, "attestation-requests")),
        ),
        (
            Attempt(f"data source {holder.key}", "publishes a document fingerprint on data source "
                    f"{other_holder.key}'s registry topic", "broker", "TopicAuthorizationFailedError"),
            cast.write(holder, cast.topic(other_holder, "fingerprints"), b"f", forbidden, None),
        ),
    ):  # fmt: skip
        with _quiet_refusals():
            refused.append((attempt, await _broker_verdict(action)))
    refused += await _forgeries(cast, codec, catalogue, keyring, admin)
    return refused


async def _forgeries(
    cast: _Cast, codec: Codec, catalogue: Catalogue, keyring: Keyring, admin: ClientSecurity
) -> list[tuple[Attempt, str]]:
    """What the ACLs let through (each on the sender's own topic) and the worker dead-letters."""
    now_ms = int(time.time() * 1000)
    requests = []
    for i in range(4):
        request = dict(Traffic(seed=9100 + i).case(SCENARIO, "valid").request or {})
        request.update(created_at=now_ms, expires_at=now_ms + 3_600_000)
        requests.append(request)
    unsigned, forged, impersonating, asked_other = requests

    def named(request: dict[str, Any], role: str) -> Participant:
        found = cast.registry.find(request[role]["scheme"], request[role]["id"])
        assert found is not None  # the traffic's institutions are all registered
        return found

    bank, posing = named(forged, "requester_inst"), named(impersonating, "requester_inst")
    sender = cast.pick(Side.HK, "may_request", but=posing)
    interloper = cast.pick(Side.SZ, "may_attest", but=named(asked_other, "attester_inst"))
    impostor = Signer(Ed25519PrivateKey.generate(), bank.keys[0].key_id, Algorithm.ED25519)

    def honest(key: bytes, value: bytes) -> list[tuple[str, bytes]]:
        return list(keyring.headers(codec, key, value, int(time.time() * 1000)))

    def forged_headers(key: bytes, value: bytes) -> list[tuple[str, bytes]]:
        binding = Binding(Side.HK, RecordKind.REQUEST, key)
        return list(impostor.headers(value, binding, int(time.time() * 1000)))

    def as_sender(key: bytes, value: bytes) -> list[tuple[str, bytes]]:
        signer = keyring.signers[(sender.scheme.value, sender.identifier)]
        return list(signer.headers(value, Binding(Side.HK, RecordKind.REQUEST, key), int(time.time() * 1000)))

    Headers = Callable[[bytes, bytes], list[tuple[str, bytes]] | None]
    plan: list[tuple[Attempt, dict[str, Any], Participant, Headers]] = [
        (Attempt(f"bank {named(unsigned, 'requester_inst').key}", "sends an unsigned request", "worker",
                 "unsigned"), unsigned, named(unsigned, "requester_inst"), lambda k, v: None),
        (Attempt(f"bank {bank.key}", "signs a request with a key that is not its own", "worker",
                 "bad_signature"), forged, bank, forged_headers),
        (Attempt(f"bank {sender.key}", f"sends a request naming bank {posing.key} as requester",
                 "worker", "not_authorised"), impersonating, sender, as_sender),
        (Attempt(f"data holder {interloper.key}", "answers a request addressed to another data holder",
                 "worker", "wrong_attester"), asked_other, named(asked_other, "requester_inst"), honest),
    ]  # fmt: skip
    ids = {str(r["request_id"]) for r in requests}
    async with LiveBus(cast.bootstrap, cast.topics, codec, catalogue, security=admin, holders=False) as bus:
        for _, request, who, headers in plan:
            _, key, value = encode_request(request, codec, catalogue, cast.topics)
            await cast.write(who, cast.topic(who, "requests"), key, value, headers(key, value))
        await _answer_as_interloper(cast, codec, catalogue, asked_other, interloper, admin, honest)

        def reasons() -> dict[str, str]:
            return {
                str(record.get("request_id")): str(record["reason"])
                for _, record, _ in bus.dead_letters
                if record.get("request_id") in ids
            }

        for _ in range(300):  # up to 60 s for the worker's dead letters
            if len(reasons()) == len(ids):
                break
            await asyncio.sleep(0.2)
        got = reasons()
    return [(attempt, got.get(str(r["request_id"]), "allowed")) for attempt, r, _, _ in plan]


async def _answer_as_interloper(
    cast: _Cast,
    codec: Codec,
    catalogue: Catalogue,
    request: dict[str, Any],
    interloper: Participant,
    admin: ClientSecurity,
    honest: Callable[[bytes, bytes], list[tuple[str, bytes]]],
) -> None:
    """Once the worker has parked ``request`` (its attestation request is out: an answer before it
    would be an orphan), ``interloper`` answers it in its own name, on its own topic, signed."""
    named = cast.registry.find(request["attester_inst"]["scheme"], request["attester_inst"]["id"])
    assert named is not None  # the traffic's data holders are registered
    asked = cast.topic(named, "attestation-requests")
    key = str(request["request_id"]).encode()
    consumer = AIOKafkaConsumer(
        asked,
        bootstrap_servers=cast.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **admin.aiokafka_kwargs(),
    )
    end = time.monotonic() + 30
    try:
        await consumer.start()
        seen = False
        while not seen and time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=200)
            seen = any(m.key == key for messages in batch.values() for m in messages)
    finally:
        await consumer.stop()
    attestation = dict(Traffic(seed=9103).case(SCENARIO, "valid").attestation or {})
    attestation["request_id"] = request["request_id"]
    attestation["attester_inst"] = {
        "scheme": interloper.scheme.value, "id": interloper.identifier, "city": interloper.city
    }  # fmt: skip
    _, akey, value = encode_attestation(attestation, codec, catalogue, cast.topics)
    await cast.write(interloper, cast.topic(interloper, "attestations"), akey, value, honest(akey, value))
