"""The trust boundary at the broker: a secured Apache Kafka with real SCRAM users and the registry's ACLs.

One node, started once for this module: SASL_SSL with SCRAM-SHA-512 over a CA generated for the run,
the standard authorizer, ``admin`` the only super user (the worker's principal). The registry is a
generated one (:func:`crossbound.testing.participants.generate_registry`); every participant is a
SCRAM user with its generated password, and the ACLs are applied with ``crossbound acl print
--apply``, as an operator would. Each test then connects as one institution and tries what it may and
may not do; every refusal comes from the broker itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossbound.broker.acls import describe_acls
from crossbound.broker.admin import ensure_topics
from crossbound.broker.closing import run_closed, sockets_closed
from crossbound.broker.kafka import KafkaCluster
from crossbound.broker.kafka_config import SecureMode
from crossbound.broker.net import free_port
from crossbound.broker.secureprobe import admin_security
from crossbound.broker.security import ClientSecurity
from crossbound.broker.testca import GeneratedPki, make_test_pki
from crossbound.broker.topicspec import topic_specs
from crossbound.cli import main
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.participants import Acl, Algorithm, Participant, Registry, load_registry, registry_acls
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.settings import Settings
from crossbound.signing import Binding, PlatformVerified, RecordKind, Signer, Verifier
from crossbound.testing.encoding import encode_attestation, encode_request
from crossbound.testing.participants import GeneratedRegistry, generate_registry
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics
from support import Bus, Worker, unique_topics

pytestmark = pytest.mark.integration

ADMIN = ("admin", "admin-" + os.urandom(8).hex())
SCENARIO = "sb_corporate_credit_report"


@dataclass
class Secured:
    """The running cluster, its PKI, the registry and its participants' passwords."""

    cluster: KafkaCluster
    pki: GeneratedPki
    registry: Registry
    generated: GeneratedRegistry
    topics: Topics
    admin_password_file: Path

    def security(self, participant: Participant, password: str | None = None) -> ClientSecurity:
        user = participant.principal.removeprefix("User:")
        return admin_security(self.pki, user, password or self.generated.password(participant.key))

    @property
    def admin(self) -> ClientSecurity:
        return admin_security(self.pki, *ADMIN)

    def hk(self) -> tuple[Participant, Participant]:
        """Two HK institutions that may both request and attest."""
        first, second = [p for p in self.registry.participants if p.side.value == "HK"][:2]
        return first, second

    def topic(self, participant: Participant, kind: str) -> str:
        return self.topics.of_participant(participant.side.topic, participant.key, kind)


@pytest.fixture(autouse=True)
async def tls_sockets_closed() -> AsyncIterator[None]:
    """After each test, until the TLS sockets its clients closed have closed (see
    :mod:`crossbound.broker.closing`): else the garbage collector finds them in a later test."""
    yield
    assert await sockets_closed(), "a TLS socket is still open 5 s after the test"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Iterator[Secured]:
    base = tmp_path_factory.mktemp("secured")
    scenarios = scenario_sides(catalogue)
    generated = generate_registry(base / "registry", scenarios)
    registry = load_registry(generated.path, scenarios)
    pki = make_test_pki(base / "pki")
    users = {p.principal.removeprefix("User:"): generated.password(p.key) for p in registry.participants}
    admin_file = base / "admin.password"
    admin_file.write_text(ADMIN[1], encoding="utf-8")
    keys = tuple((p.side.topic, p.key) for p in registry.participants)
    topics = Topics(prefix="", layout="per_institution", participants=keys)
    with KafkaCluster(1, secure=SecureMode(pki, ADMIN, users)) as cluster:
        secured = Secured(cluster, pki, registry, generated, topics, admin_file)
        # as the worker creates them (it checks existing topics against its settings)
        every = topic_specs(topics, Settings().single_node().topic_settings(), 4)
        specs = {name: every[name] for name in topics.participant_topics()}
        run_closed(ensure_topics(cluster.bootstrap, specs, security=secured.admin))
        assert (
            main(["acl", "print", "--registry", str(generated.path), "--apply", *secured_flags(secured)]) == 0
        )
        run_closed(acls_in_effect(secured, set(registry_acls(registry, topics)), set()))
        yield secured


async def acls_in_effect(
    secured: Secured, present: set[Acl], absent: set[Acl], timeout_s: float = 30.0
) -> None:
    """Until the broker's authorizer holds ``present`` and none of ``absent``: a CreateAcls or
    DeleteAcls is acknowledged before the broker has applied it (it travels through the metadata log)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = set(await describe_acls(secured.cluster.bootstrap, security=secured.admin))
        if present <= found and not absent & found:
            return
        assert asyncio.get_running_loop().time() < deadline, "the ACLs did not take effect"
        await asyncio.sleep(0.1)


def secured_flags(secured: Secured, user: str = ADMIN[0], password_file: Path | None = None) -> list[str]:
    return [
        *("--broker", secured.cluster.url, "--security-protocol", "SASL_SSL"),
        *("--ca-file", str(secured.pki.ca_file), "--sasl-username", user),
        *("--sasl-password-file", str(password_file or secured.admin_password_file)),
    ]


def producer(secured: Secured, who: Participant) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=secured.cluster.bootstrap, **secured.security(who).aiokafka_kwargs()
    )


async def read_one(
    secured: Secured, security: ClientSecurity, topic: str, group: str | None = None
) -> bytes | None:
    """The first record of ``topic``, read as ``security``'s user (in ``group``, or in none). A topic
    given to the constructor is looked up by ``start``, which raises when the broker refuses it."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=secured.cluster.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **security.aiokafka_kwargs(),
    )
    try:
        await consumer.start()
        message = await asyncio.wait_for(consumer.getone(), 30)
        return message.value
    finally:
        await consumer.stop()


async def test_the_applied_acls_are_the_registrys(secured: Secured) -> None:
    found = await describe_acls(secured.cluster.bootstrap, security=secured.admin)
    assert set(registry_acls(secured.registry, secured.topics)) <= set(found)


async def test_an_institution_writes_its_requests_and_reads_its_verdicts(secured: Secured) -> None:
    a, _ = secured.hk()
    async with producer(secured, a) as mine:
        await mine.send_and_wait(secured.topic(a, "requests"), b"a request", key=b"r1")
        await mine.send_and_wait(secured.topic(a, "attestations"), b"an attestation", key=b"r1")
    async with AIOKafkaProducer(
        bootstrap_servers=secured.cluster.bootstrap, **secured.admin.aiokafka_kwargs()
    ) as worker:
        await worker.send_and_wait(secured.topic(a, "verdicts"), b"its verdict", key=b"r1", partition=0)
    assert await read_one(secured, secured.security(a), secured.topic(a, "verdicts")) == b"its verdict"
    group = f"{a.key}.verdict-reader"  # a group of its own prefix
    assert await read_one(secured, secured.security(a), secured.topic(a, "verdicts"), group) == b"its verdict"


async def test_reading_another_institutions_verdicts_is_refused(secured: Secured) -> None:
    a, b = secured.hk()
    with pytest.raises(TopicAuthorizationFailedError):
        await read_one(secured, secured.security(a), secured.topic(b, "verdicts"))
    with pytest.raises(TopicAuthorizationFailedError):
        await read_one(secured, secured.security(a), secured.topic(b, "attestation-requests"))


async def test_consuming_in_another_institutions_group_is_refused(secured: Secured) -> None:
    a, b = secured.hk()
    with pytest.raises(GroupAuthorizationFailedError):
        await read_one(secured, secured.security(a), secured.topic(a, "verdicts"), f"{b.key}.stolen")


async def test_writing_a_verdict_or_an_attestation_request_is_refused(secured: Secured) -> None:
    a, _ = secured.hk()
    async with producer(secured, a) as mine:
        for kind in ("verdicts", "attestation-requests"):
            with pytest.raises(TopicAuthorizationFailedError):
                await mine.send_and_wait(secured.topic(a, kind), b"forged", key=b"r1")


async def test_writing_as_another_institution_is_refused(secured: Secured) -> None:
    a, b = secured.hk()
    async with producer(secured, a) as mine:
        for kind in ("requests", "attestations"):
            with pytest.raises(TopicAuthorizationFailedError):
                await mine.send_and_wait(secured.topic(b, kind), b"impersonated", key=b"r1")


def test_a_wrong_password_is_refused_and_the_cli_does_not_print_it(
    secured: Secured, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = secured.hk()
    wrong = "wrong-" + os.urandom(8).hex()
    wrong_file = tmp_path / "wrong.password"
    wrong_file.write_text(wrong, encoding="utf-8")
    user = a.principal.removeprefix("User:")
    argv = ["record", "--topic", secured.topic(a, "verdicts"), "--out", str(tmp_path / "out.jsonl")]
    assert main([*argv, *secured_flags(secured, user, wrong_file)]) == 1
    err = capsys.readouterr().err
    assert "refused the connection: authentication failed (SASL)" in err
    assert wrong not in err
    assert secured.generated.password(a.key) not in err


async def test_the_worker_runs_on_the_secured_broker_and_logs_no_secret(
    secured: Secured, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    """The worker's Faust app, admin and broker probe all connect with SASL_SSL as the super user."""
    topics = unique_topics("s")
    env = {
        "CROSSBOUND_KAFKA__SECURITY__PROTOCOL": "SASL_SSL",
        "CROSSBOUND_KAFKA__SECURITY__CA_FILE": str(secured.pki.ca_file),
        "CROSSBOUND_KAFKA__SECURITY__SASL_USERNAME": ADMIN[0],
        "CROSSBOUND_KAFKA__SECURITY__SASL_PASSWORD_FILE": str(secured.admin_password_file),
    }
    worker = Worker(secured.cluster, topics, tmp_path / "worker.log", env=env).start()
    try:
        await asyncio.to_thread(worker.wait_ready, 90.0)
        async with Bus(secured.cluster.bootstrap, topics, codec, catalogue, security=secured.admin) as bus:
            rid = await bus.send_case(Traffic(seed=11).case("payment_connect_northbound", "valid"))
            await bus.wait_for(lambda: rid in bus.verdicts, what="a verdict")
        assert bus.verdicts[rid][0]["outcome"] == "ACCEPT"
    finally:
        worker.stop()
    log = worker.log()
    assert "SASL_SSL as User:admin" in log
    assert "Traceback" not in log, log[-3000:]
    assert ADMIN[1] not in log


def test_publish_as_an_institution_to_its_own_topic_and_not_to_another(
    secured: Secured, tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    a, b = secured.hk()
    password = tmp_path / "a.password"
    password.write_text(secured.generated.password(a.key), encoding="utf-8")
    flags = secured_flags(secured, a.principal.removeprefix("User:"), password)
    request = str(repo_root / "examples" / "corporate_kyc_report" / "accept.request.json")
    assert main(["publish", "--topic", secured.topic(a, "requests"), request, "--json", *flags]) == 0
    assert json.loads(capsys.readouterr().out)["published"] == 1
    assert main(["publish", "--topic", secured.topic(b, "requests"), request, *flags]) == 1
    err = capsys.readouterr().err
    assert f"or User:{a.key} may not use it: nothing was published" in err


def test_the_demo_runs_on_the_secured_broker_as_its_super_user(secured: Secured) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "crossbound", "demo", "--count", "40", "--json"),
            *("--metrics-port", str(free_port()), "--app-id", "securedemo", "--topic-prefix", "securedemo."),
            # --join: on a fresh cluster the group check's DescribeGroups meets no coordinator yet
            "--join",
            *secured_flags(secured),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "CROSSBOUND_KAFKA__REPLICATION_FACTOR": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["unanswered"] == 0
    assert summary["expected_matched"] == 40
    assert ADMIN[1] not in result.stdout + result.stderr


async def test_suspending_a_participant_and_pruning_takes_its_access_away(
    secured: Secured, tmp_path: Path
) -> None:
    c = next(p for p in secured.registry.participants if p.side.value == "SZ")
    async with producer(secured, c) as theirs:
        await theirs.send_and_wait(secured.topic(c, "requests"), b"while active", key=b"r1")
    head, tail = secured.generated.path.read_text(encoding="utf-8").split(f'key = "{c.key}"\n', 1)
    changed = tmp_path / "registry.toml"
    changed.write_text(
        f'{head}key = "{c.key}"\n' + tail.replace('"active"', '"suspended"', 1), encoding="utf-8"
    )
    argv = ["acl", "print", "--registry", str(changed), "--apply", "--prune", *secured_flags(secured)]
    assert await asyncio.to_thread(main, argv) == 0
    mine = {acl for acl in registry_acls(secured.registry, secured.topics) if acl.principal == c.principal}
    await acls_in_effect(secured, set(), mine)
    left = await describe_acls(secured.cluster.bootstrap, security=secured.admin)
    assert not [acl for acl in left if acl.principal == c.principal]
    assert [acl for acl in left if acl.principal == secured.hk()[0].principal]  # the others keep theirs
    async with producer(secured, c) as theirs:
        with pytest.raises(TopicAuthorizationFailedError):
            await theirs.send_and_wait(secured.topic(c, "requests"), b"while suspended", key=b"r2")
    # active again, for the tests that run after this one
    original = ["acl", "print", "--registry", str(secured.generated.path), "--apply", *secured_flags(secured)]
    assert await asyncio.to_thread(main, original) == 0
    await acls_in_effect(secured, mine, set())


def test_an_independent_client_logs_in_with_scram_and_meets_the_same_acls(secured: Secured) -> None:
    """librdkafka (confluent-kafka), as an institution's own stack would connect: same users, same ACLs."""
    a, b = secured.hk()
    config = {
        "bootstrap.servers": secured.cluster.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": a.principal.removeprefix("User:"),
        "sasl.password": secured.generated.password(a.key),
        "ssl.ca.location": str(secured.pki.ca_file),
        "partitioner": "murmur2_random",
    }
    outcomes: dict[str, str | None] = {}

    def delivered(err: confluent_kafka.KafkaError | None, msg: confluent_kafka.Message) -> None:
        outcomes[str(msg.topic())] = None if err is None else err.name()

    producer = confluent_kafka.Producer(config)
    for topic in (secured.topic(a, "requests"), secured.topic(b, "requests"), secured.topic(a, "verdicts")):
        producer.produce(topic, b"from librdkafka", key=b"r9", on_delivery=delivered)
    assert producer.flush(30) == 0
    assert outcomes == {
        secured.topic(a, "requests"): None,
        secured.topic(b, "requests"): "TOPIC_AUTHORIZATION_FAILED",
        secured.topic(a, "verdicts"): "TOPIC_AUTHORIZATION_FAILED",
    }


async def records_until(
    secured: Secured,
    security: ClientSecurity,
    topic: str,
    done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    group: str | None = None,
    timeout_s: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of ``topic`` (read as ``security``'s user) from the start, until ``done`` holds."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=secured.cluster.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **security.aiokafka_kwargs(),
    )
    seen: list[ConsumerRecord[bytes, bytes]] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        await consumer.start()
        while not done(seen):
            assert asyncio.get_running_loop().time() < deadline, f"{topic}: {len(seen)} records, not done"
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                seen += batch
        return seen
    finally:
        await consumer.stop()


def _platform_signed(
    secured: Secured, msg: ConsumerRecord[bytes, bytes], side: Side, kind: RecordKind
) -> bool:
    assert msg.key is not None
    assert msg.value is not None
    now_ms = int(time.time() * 1000)
    got = Verifier(secured.registry).verify_platform(
        msg.value, msg.headers, Binding(side, kind, msg.key), now_ms
    )
    return isinstance(got, PlatformVerified) and got.side is side


async def publish(
    secured: Secured, who: Participant, kind: str, record: tuple[str, bytes, bytes], sig: Any
) -> None:
    """``record`` (topic, key, value; the topic ignored) on ``who``'s own topic of ``kind``, as ``who``,
    with the headers ``sig(value, key)`` gives."""
    _, key, value = record
    async with producer(secured, who) as theirs:
        await theirs.send_and_wait(secured.topic(who, kind), value, key=key, headers=sig(value, key))


async def test_end_to_end_signed_each_institution_on_its_own_topics_and_every_forgery_refused(
    secured: Secured, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    """The worker in the per_institution layout, checking signatures: the requester publishes a signed
    request on its own topic, the data holder reads its own attestation request (signed by the
    platform's SZ key) and answers, signed, on its own topic, the requester reads its verdict (signed
    by the platform's HK key) from its own topic; every client but the worker is an institution under
    its ACLs. Then an unsigned request, a forged one (another key under the requester's key id), one
    impersonating another bank (signed by the bank whose topic it is on, naming another), and an
    attestation from a data holder the request did not ask are each dead-lettered with their reason."""
    cases = [Traffic(seed=31 + i).case(SCENARIO, "valid") for i in range(5)]
    requests = [dict(c.request or {}) for c in cases]
    keyring = secured.generated.keyring(secured.registry)

    def find(inst: dict[str, str]) -> Participant:
        found = secured.registry.find(inst["scheme"], inst["id"])
        assert found is not None
        return found

    def sig(signer: Signer | None = None) -> Any:
        now_ms = int(time.time() * 1000)
        if signer is None:  # as the institution the record names
            return lambda v, k: list(keyring.headers(codec, k, v, now_ms))
        return lambda v, k: list(signer.headers(v, Binding(Side.HK, RecordKind.REQUEST, k), now_ms))

    requester, attester = find(requests[0]["requester_inst"]), find(requests[0]["attester_inst"])
    env = {
        "CROSSBOUND_KAFKA__SECURITY__PROTOCOL": "SASL_SSL",
        "CROSSBOUND_KAFKA__SECURITY__CA_FILE": str(secured.pki.ca_file),
        "CROSSBOUND_KAFKA__SECURITY__SASL_USERNAME": ADMIN[0],
        "CROSSBOUND_KAFKA__SECURITY__SASL_PASSWORD_FILE": str(secured.admin_password_file),
        "CROSSBOUND_PIPELINE__PARTICIPANTS": str(secured.generated.path),
        "CROSSBOUND_PIPELINE__TOPIC_LAYOUT": "per_institution",
        "CROSSBOUND_PIPELINE__SIGNING_KEY_HK": str(secured.generated.platform_key(Side.HK)),
        "CROSSBOUND_PIPELINE__SIGNING_KEY_SZ": str(secured.generated.platform_key(Side.SZ)),
    }
    topics = Topics(prefix="", app_id=f"e2e{os.urandom(4).hex()}")
    worker = Worker(secured.cluster, topics, tmp_path / "worker.log", timeout_s=30, env=env).start()
    try:
        await asyncio.to_thread(worker.wait_ready, 90.0)
        await publish(
            secured, requester, "requests", encode_request(requests[0], codec, catalogue, topics), sig()
        )
        [ask] = await records_until(
            secured, secured.security(attester), secured.topic(attester, "attestation-requests"), len,
            f"{attester.key}.holder",
        )  # fmt: skip
        assert codec.decode(ask.value or b"")[1]["request_id"] == requests[0]["request_id"]
        assert _platform_signed(secured, ask, Side.SZ, RecordKind.ATTESTATION_REQUEST)
        answer = encode_attestation(cases[0].attestation or {}, codec, catalogue, topics)
        await publish(secured, attester, "attestations", answer, sig())
        [verdict] = await records_until(
            secured, secured.security(requester), secured.topic(requester, "verdicts"), len,
            f"{requester.key}.verdicts",
        )  # fmt: skip
        assert codec.decode(verdict.value or b"")[1]["outcome"] == "ACCEPT"
        assert _platform_signed(secured, verdict, Side.HK, RecordKind.VERDICT)

        unsigned, forged, impersonating, asked_other = requests[1:5]
        other_bank = next(
            p for p in secured.registry.participants
            if p.side is Side.HK and p is not find(impersonating["requester_inst"])
        )  # fmt: skip
        impostor = Signer(
            Ed25519PrivateKey.generate(), find(forged["requester_inst"]).keys[0].key_id, Algorithm.ED25519
        )
        bank_signer = keyring.signers[(other_bank.scheme.value, other_bank.identifier)]
        for request, sender, headers in (
            (unsigned, find(unsigned["requester_inst"]), lambda v, k: []),
            (forged, find(forged["requester_inst"]), sig(impostor)),
            (impersonating, other_bank, sig(bank_signer)),  # on its own topic, naming another
        ):
            await publish(
                secured, sender, "requests", encode_request(request, codec, catalogue, topics), headers
            )
        # a request properly asked, answered by another data holder of the side, naming itself
        asked = encode_request(asked_other, codec, catalogue, topics)
        await publish(secured, find(asked_other["requester_inst"]), "requests", asked, sig())
        named = find(asked_other["attester_inst"])
        interloper = next(
            p for p in secured.registry.participants
            if p.side is Side.SZ and p is not named and SCENARIO in p.may_attest
        )  # fmt: skip
        other = dict(cases[4].attestation or {})
        other["attester_inst"] = {
            "scheme": interloper.scheme.value,
            "id": interloper.identifier,
            "city": interloper.city,
        }
        await records_until(  # the request parked first (an attestation before it would be an orphan)
            secured, secured.admin, secured.topic(named, "attestation-requests"),
            lambda rs: any(r.key == asked[1] for r in rs),
        )  # fmt: skip
        await publish(
            secured, interloper, "attestations", encode_attestation(other, codec, catalogue, topics), sig()
        )

        expected = {
            r["request_id"]: ("hk", reason)
            for r, reason in zip(requests[1:4], ("unsigned", "bad_signature", "not_authorised"), strict=True)
        }
        expected[asked_other["request_id"]] = ("sz", "wrong_attester")
        reasons: dict[str, tuple[str, str]] = {}
        for side in ("hk", "sz"):

            def done(records: list[ConsumerRecord[bytes, bytes]], side: str = side) -> bool:
                for dl in (codec.decode(r.value or b"")[1] for r in records):
                    if dl["request_id"] in expected:
                        reasons[dl["request_id"]] = (side, dl["reason"])
                return all(rid in reasons for rid, (s, _) in expected.items() if s == side)

            await records_until(secured, secured.admin, topics.deadletter(side), done)
        assert reasons == expected
    finally:
        worker.stop()
    assert "Traceback" not in worker.log(), worker.log()[-3000:]
