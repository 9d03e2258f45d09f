"""crossbound.client on the secured Apache Kafka (SASL_SSL, SCRAM, the registry's ACLs), with the
worker in the per_institution layout: the bank and the data holder, each connected as itself, use
their own topics only, reading with no consumer group; a client that claims another institution's
identity is refused by the broker when it starts. The worker has the registry, so it checks the
clients' signatures and signs its outputs, which the clients verify.

A data source writes its signed fingerprints on its own registry topic, and is refused by the
broker on another source's and on the shared one; a request of a fingerprint-mode scenario is then
answered ACCEPT by lookup.

The cluster is this module's own (``secured``, from :mod:`test_secured_kafka`).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from test_client import example
from test_secured_kafka import ADMIN, Secured, acls_in_effect, producer, secured, tls_sockets_closed

from crossbound.broker.acls import describe_acls
from crossbound.cli.demo_run import stored_fingerprints
from crossbound.client import Attester, Identity, Institution, Trust
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.participants import Acl, Participant, registry_acls
from crossbound.pipeline.issuers import issuers
from crossbound.rules import Catalogue
from crossbound.testing.encoding import encode_fingerprint
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics
from support import Worker

pytestmark = pytest.mark.integration
__all__ = ["secured", "tls_sockets_closed"]  # the module's fixtures, imported


def participant(secured: Secured, who: Identity) -> Participant:
    found = secured.registry.find(who.scheme, who.id)
    assert found is not None
    return found


def trust(secured: Secured, who: Identity) -> Trust:
    """What ``who`` signs with (its first registry key) and verifies the worker against."""
    key_file = secured.generated.private_key(participant(secured, who).keys[0].key_id)
    return Trust.load(secured.registry, who, key_file)


def worker_env(secured: Secured) -> dict[str, str]:
    """The worker as the super user, with the registry, the per_institution layout and its keys."""
    return {
        "CROSSBOUND_KAFKA__SECURITY__PROTOCOL": "SASL_SSL",
        "CROSSBOUND_KAFKA__SECURITY__CA_FILE": str(secured.pki.ca_file),
        "CROSSBOUND_KAFKA__SECURITY__SASL_USERNAME": ADMIN[0],
        "CROSSBOUND_KAFKA__SECURITY__SASL_PASSWORD_FILE": str(secured.admin_password_file),
        "CROSSBOUND_PIPELINE__PARTICIPANTS": str(secured.generated.path),
        "CROSSBOUND_PIPELINE__TOPIC_LAYOUT": "per_institution",
        "CROSSBOUND_PIPELINE__SIGNING_KEY_HK": str(secured.generated.platform_key(Side.HK)),
        "CROSSBOUND_PIPELINE__SIGNING_KEY_SZ": str(secured.generated.platform_key(Side.SZ)),
    }


async def test_institution_and_data_holder_each_on_their_own_topics_under_their_acls(
    secured: Secured, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    ex = example()
    bank = Identity.from_registry(secured.registry, ex.DEFAULT_REQUESTER.key)
    holder = Identity.from_registry(secured.registry, ex.DEFAULT_ATTESTER.key)
    as_bank, as_holder = (secured.security(participant(secured, i)) for i in (bank, holder))
    env = worker_env(secured)
    worker_topics = Topics(prefix="", app_id=f"cl{os.urandom(4).hex()}")
    worker = Worker(secured.cluster, worker_topics, tmp_path / "worker.log", timeout_s=30, env=env).start()
    topics = secured.topics  # per_institution, no prefix: what the worker reads and writes
    try:
        await asyncio.to_thread(worker.wait_ready, 90.0)
        request: dict[str, Any] = ex.kyc_request(holder, datetime.now(UTC))
        request["consent"]["recipient_inst"] = bank.institution
        bootstrap = secured.cluster.bootstrap
        holder_trust, bank_trust = (trust(secured, who) for who in (holder, bank))
        attester = Attester(
            bootstrap, holder, topics, codec, catalogue, ex.answer, security=as_holder, trust=holder_trust
        )
        institution = Institution(
            bootstrap, bank, topics, codec, catalogue, security=as_bank, trust=bank_trust
        )
        assert institution.reads == f"hk.{bank.key}.verdicts"
        assert attester.reads == f"sz.{holder.key}.attestation-requests"
        async with attester, institution:
            verdict = await institution.request_and_wait(request, timeout_s=60)
        assert verdict["outcome"] == "ACCEPT"
        assert attester.answered == 1

        other = next(p for p in secured.registry.participants if p.side.value == "HK" and p.key != bank.key)
        posing = Institution(bootstrap, Identity.of(other), topics, codec, catalogue, security=as_bank)
        with pytest.raises(TopicAuthorizationFailedError):
            async with posing:
                pass
    finally:
        worker.stop()
    assert "Traceback" not in worker.log(), worker.log()[-3000:]


async def test_a_data_source_writes_its_own_registry_topic_only_and_its_fingerprint_answers_a_lookup(
    secured: Secured, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    registry = secured.registry
    topics = Topics(
        layout="per_institution",
        participants=tuple((p.side.topic, p.key) for p in registry.participants),
        issuers=issuers(registry, catalogue),
        directory={(p.scheme.value, p.identifier): p.key for p in registry.participants},
    )
    case = Traffic(seed=7).fingerprint_case("sb_personal_credit_report_fingerprint", "valid")
    assert case.request is not None
    [record] = case.fingerprints
    source = registry.find(record["issuer"]["scheme"], record["issuer"]["id"])
    assert source is not None
    other = next(p for p in registry.participants if (p.side.topic, p.key) in topics.issuers and p != source)
    own, key, value = encode_fingerprint(record, codec, topics)
    assert own == f"sz.{source.key}.fingerprints"
    await acls_in_effect(secured, {Acl(source.principal, "TOPIC", "LITERAL", own, "WRITE")}, set())
    assert set(registry_acls(registry, topics)) <= set(await _described(secured))
    worker = Worker(
        secured.cluster,
        Topics(app_id=f"fp{os.urandom(4).hex()}"),
        tmp_path / "worker.log",
        timeout_s=30,
        env=worker_env(secured),
    ).start()  # it creates the issuers' registry topics
    try:
        await asyncio.to_thread(worker.wait_ready, 90.0)
        headers = list(secured.generated.keyring(registry).headers(codec, key, value, _now_ms()))
        async with producer(secured, source) as mine:
            for theirs in (topics.of_participant("sz", other.key, "fingerprints"), "sz.fingerprints"):
                with pytest.raises(TopicAuthorizationFailedError):
                    await mine.send_and_wait(theirs, value, key=key, headers=headers)
            await mine.send_and_wait(own, value, key=key, headers=headers)
        deadline = asyncio.get_running_loop().time() + 60
        while stored_fingerprints(worker.metrics()) < 1:
            assert asyncio.get_running_loop().time() < deadline, "the worker did not take the fingerprint in"
            await asyncio.sleep(0.2)
        requester = Identity.from_registry(registry, _key_of(secured, case.request["requester_inst"]))
        bank = Institution(
            secured.cluster.bootstrap,
            requester,
            topics,
            codec,
            catalogue,
            security=secured.security(participant(secured, requester)),
            trust=trust(secured, requester),
        )
        async with bank:
            verdict = await bank.request_and_wait(case.request, timeout_s=60)
        assert (verdict["outcome"], verdict["findings"]) == ("ACCEPT", [])
    finally:
        worker.stop()
    assert "Traceback" not in worker.log(), worker.log()[-3000:]


async def _described(secured: Secured) -> list[Acl]:
    return await describe_acls(secured.cluster.bootstrap, security=secured.admin)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _key_of(secured: Secured, inst: dict[str, Any]) -> str:
    found = secured.registry.find(inst["scheme"], inst["id"])
    assert found is not None
    return found.key
