"""crossbound.client on a real broker (Tansu): the example against a real worker, and the signed path
against a platform this test plays, because it signs what it sends with the platform's keys.

The worker signs its outputs only once the pipeline's signature work lands (issue 10, item 3); until
then the signed path's platform is the real pipeline (a Harness) behind a relay that reads the
institutions' records from the broker, checks their signatures as the worker will, and writes the
pipeline's verdicts and attestation requests back, signed (or forged, where a test says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crossbound.broker import Broker
from crossbound.client import Attester, Identity, Institution, KafkaWire, Trust, VerdictRefused
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.participants import Registry, load_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.signing import Binding, RecordKind, Signer, Verified, Verifier, platform_signer
from crossbound.testing import Harness
from crossbound.testing.participants import GeneratedRegistry, generate_registry
from crossbound.topics import Topics
from helpers import ROOT
from support import Worker, create_topics

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("broker", ["tansu"], indirect=True)]


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("client_example", ROOT / "examples" / "client_example.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_gets_its_verdict_from_a_worker(
    worker: Worker, broker: Broker, topics: Topics, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unsigned (the worker has no registry): the bank requests, the data holder answers, ACCEPT."""
    argv = ["--bootstrap", broker.bootstrap, "--topic-prefix", topics.prefix, "--timeout", "60"]
    assert await asyncio.to_thread(example().main, argv) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["outcome"] == "ACCEPT"
    assert verdict["scenario_id"] == "corporate_kyc_report"


KIND = {"verdicts": RecordKind.VERDICT, "attestation-requests": RecordKind.ATTESTATION_REQUEST}
INPUT = {"requests": RecordKind.REQUEST, "attestations": RecordKind.ATTESTATION}


@dataclass
class Relay:
    """The platform: the pipeline behind the broker, signing (or forging) what it writes."""

    bootstrap: str
    topics: Topics
    harness: Harness
    verifier: Verifier
    signers: dict[Side, Signer]
    forge: dict[str, Signer] = field(default_factory=dict)  # topic kind -> the wrong signer to use
    verified: list[str] = field(default_factory=list)  # "<kind> <participant key>" of inputs that verified
    asked: int = 0  # attestation requests written

    async def run(self, stop: asyncio.Event) -> None:
        inputs = [self.topics.requests("hk"), self.topics.attestations("sz")]
        consumer = AIOKafkaConsumer(*inputs, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest")
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        await producer.start()
        try:
            while not stop.is_set():
                for messages in (await consumer.getmany(timeout_ms=100)).values():
                    for msg in messages:
                        await self.one(producer, msg.topic, msg.key or b"", msg.value or b"", msg.headers)
        finally:
            await consumer.stop()
            await producer.stop()

    async def one(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]],
    ) -> None:
        kind = topic.rsplit(".", 1)[1]
        side = Side.HK if kind == "requests" else Side.SZ
        self.harness.now = time.time()
        found = self.verifier.verify(
            value, headers, Binding(side, INPUT[kind], key), int(self.harness.now * 1000)
        )
        if isinstance(found, Verified):
            self.verified.append(f"{kind} {found.participant.key}")
        for out in self.harness.send(topic, key, value):
            out_kind = out.topic.rsplit(".", 1)[1]
            if out_kind not in KIND:
                continue
            out_side = Side(out.topic.removeprefix(self.topics.prefix).split(".")[0].upper())
            signer = self.forge.get(out_kind, self.signers[out_side])
            binding = Binding(out_side, KIND[out_kind], out.key or b"")
            signed = signer.headers(out.value, binding, int(time.time() * 1000))
            await producer.send_and_wait(out.topic, out.value, key=out.key, headers=list(signed))
            self.asked += out_kind == "attestation-requests"


@pytest.fixture
async def relay(
    broker: Broker,
    topics: Topics,
    codec: Codec,
    catalogue: Catalogue,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Relay, Registry, GeneratedRegistry]]:
    await create_topics(broker, topics)
    scenarios = scenario_sides(catalogue)
    made = generate_registry(tmp_path_factory.mktemp("registry"), scenarios)
    registry = load_registry(made.path, scenarios)
    signers = {side: platform_signer(made.platform_key(side), registry, side) for side in Side}
    harness = Harness(codec, catalogue, now=time.time(), topics=topics)
    r = Relay(broker.bootstrap, topics, harness, Verifier(registry), signers)
    stop = asyncio.Event()
    task = asyncio.create_task(r.run(stop))
    try:
        yield r, registry, made
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Parties:
    """The example's bank and data holder as the relay's registry knows them, and their clients."""

    relay: Relay
    registry: Registry
    made: GeneratedRegistry
    ex: ModuleType
    bank: Identity
    holder: Identity
    bootstrap: str
    topics: Topics
    codec: Codec
    catalogue: Catalogue

    def request(self) -> dict[str, Any]:
        """A fresh KYC request of the bank to the data holder."""
        req: dict[str, Any] = self.ex.kyc_request(self.holder, datetime.now(UTC))
        req["consent"]["recipient_inst"] = self.bank.institution
        return req

    def trust(self, who: Identity) -> Trust:
        return Trust.load(self.registry, who, self.made.private_key(f"{who.key}-1"))

    def institution(self) -> Institution:
        trust = self.trust(self.bank)
        return Institution(self.bootstrap, self.bank, self.topics, self.codec, self.catalogue, trust=trust)

    def attester(self, wire: KafkaWire | None = None) -> Attester:
        holder, answer, trust = self.holder, self.ex.answer, self.trust(self.holder)
        return Attester(
            self.bootstrap, holder, self.topics, self.codec, self.catalogue, answer, trust=trust, wire=wire
        )


@pytest.fixture
def parties(
    relay: tuple[Relay, Registry, GeneratedRegistry],
    broker: Broker,
    topics: Topics,
    codec: Codec,
    catalogue: Catalogue,
) -> Parties:
    r, registry, made = relay
    ex = example()
    bank = Identity.from_registry(registry, ex.DEFAULT_REQUESTER.key)
    holder = Identity.from_registry(registry, ex.DEFAULT_ATTESTER.key)
    return Parties(r, registry, made, ex, bank, holder, broker.bootstrap, topics, codec, catalogue)


async def test_signed_clients_on_a_broker_verify_and_refuse(parties: Parties) -> None:
    r, made, bank = parties.relay, parties.made, parties.bank
    attester, institution = parties.attester(), parties.institution()
    async with attester, institution:
        verdict = await institution.request_and_wait(parties.request(), timeout_s=30)
        assert verdict["outcome"] == "ACCEPT"
        assert r.verified == [f"requests {bank.key}", f"attestations {parties.holder.key}"]  # as themselves

        r.forge["verdicts"] = r.signers[Side.SZ]  # the other side's platform key: not HK's
        with pytest.raises(VerdictRefused) as caught:
            await institution.request_and_wait(parties.request(), timeout_s=30)
        assert caught.value.reason == "unknown_signer"

        r.forge = {
            "attestation-requests": Signer.from_pem_file(made.private_key(f"{bank.key}-1"), f"{bank.key}-1")
        }
        await institution.publish(parties.request())
        labels = {"record": "attestation_request", "reason": "unknown_signer"}
        for _ in range(300):
            if attester.metrics.value("crossbound_client_refused_total", **labels) == 1:
                break
            await asyncio.sleep(0.1)
    assert attester.metrics.value("crossbound_client_refused_total", **labels) == 1
    assert attester.answered == 2  # the forged third request was not answered
    assert (
        institution.metrics.value(
            "crossbound_client_refused_total", record="verdict", reason="unknown_signer"
        )
        == 1
    )


async def test_a_data_holder_in_a_group_answers_what_came_while_it_was_down(
    parties: Parties, topics: Topics
) -> None:
    r, request = parties.relay, parties.request()
    group = f"{topics.prefix}{parties.holder.key}.holder"

    def attester() -> Attester:
        return parties.attester(KafkaWire(parties.bootstrap, group_id=group))

    async with attester():
        pass  # joined once: the group starts at the end
    institution = parties.institution()
    async with institution:
        request_id = await institution.publish(request)
        for _ in range(300):
            if r.asked == 1:
                break
            await asyncio.sleep(0.1)
        assert r.asked == 1  # asked while no data holder was up
        async with attester() as back:
            verdict = await institution.verdict(request_id, timeout_s=60)
    assert verdict["outcome"] == "ACCEPT"
    assert back.answered == 1
