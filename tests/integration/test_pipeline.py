"""The real worker on the embedded broker: requests in, verdicts and dead letters out."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

import pytest
from conftest import Bus, Worker, create_topics

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.simulate import Traffic
from crossbound.topics import Topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCENARIOS = ("sb_corporate_credit_report", "nb_hk_resident_consumer_credit", "payment_connect_northbound")


async def test_every_scenario_accept_review_reject_and_mismatch(worker: Worker, bus: Bus) -> None:
    traffic = Traffic(seed=11)
    expected: dict[str, str] = {}
    for scenario in SCENARIOS:
        for variant in ("valid", "review", "invalid", "mismatch"):
            case = traffic.case(scenario, variant)
            expected[await bus.send_case(case)] = case.expected
    await bus.wait_for(lambda: len(bus.verdicts) == len(expected), what="one verdict per request")
    got = {rid: [v["outcome"] for v in vs] for rid, vs in bus.verdicts.items()}
    assert got == {rid: [outcome] for rid, outcome in expected.items()}
    assert bus.dead_letters == []
    # request-stage rejects never ask the other side; everything else was asked exactly once
    asked = Counter(a["request_id"] for a in bus.attestation_requests)
    assert all(n == 1 for n in asked.values())
    assert len(asked) == sum(1 for o in expected.values() if o != "REJECT") + len(SCENARIOS)  # + mismatches
    text = worker.metrics()
    assert (
        'crossbound_verdicts_total{outcome="ACCEPT",scenario="payment_connect_northbound",side="hk"} 1.0'
        in text
    )


async def test_attestation_timeout_gives_a_verdict(worker: Worker, bus: Bus) -> None:
    case = Traffic(seed=12).case("nb_hk_resident_consumer_credit", "late")
    rid = await bus.send_case(case)
    await bus.wait_for(lambda: rid in bus.verdicts, timeout_s=30, what="timeout verdict")
    [verdict] = bus.verdicts[rid]
    assert verdict["outcome"] == "REJECT"
    assert [f["code"] for f in verdict["findings"]][-1] == "ATTESTATION_TIMEOUT"
    assert verdict["requester_side"] == "SZ"
    # the verdict came no earlier than the timeout (2 s in these tests)
    assert (verdict["decided_at"] - verdict["request_created_at"]).total_seconds() >= 2.0


async def test_garbage_and_unknown_schema_go_to_the_dead_letter_of_their_side(
    worker: Worker, bus: Bus, topics: Topics, codec: Codec
) -> None:
    verdict_fp = codec.registry.current("core/verdict").header
    await bus.send(topics.requests("hk"), b"k-garbage", b"\x00\x00\x00\x00\x07not avro at all")
    await bus.send(topics.requests("sz"), b"k-unknown", b"\xc3\x01" + bytes(range(8)) + b"\x02\x04")
    await bus.send(topics.requests("sz"), b"k-wrongtype", verdict_fp + b"\x00")
    await bus.send(topics.attestations("hk"), b"k-orphan", b"\xc3\x01")
    await bus.wait_for(lambda: len(bus.dead_letters) == 4, what="four dead letters")
    by_key = {key: (record, dict(headers)) for key, record, headers in bus.dead_letters}
    garbage, headers = by_key[b"k-garbage"]
    assert garbage["reason"] == "bad_magic"
    assert garbage["value"] == b"\x00\x00\x00\x00\x07not avro at all"
    assert garbage["source_topic"] == topics.requests("hk")
    assert garbage["source_offset"] >= 0
    assert headers["crossbound.reason"] == b"bad_magic"
    assert by_key[b"k-unknown"][0]["reason"] == "unknown_schema"
    assert by_key[b"k-unknown"][0]["source_topic"] == topics.requests("sz")
    assert by_key[b"k-wrongtype"][0]["reason"] == "wrong_record_type"
    assert by_key[b"k-orphan"][0]["reason"] == "bad_magic"
    assert bus.verdicts == {}
    dl_topics = {k: r["source_topic"].split(".", 1)[1].split(".")[0] for k, r, _ in bus.dead_letters}
    assert dl_topics == {b"k-garbage": "hk", b"k-unknown": "sz", b"k-wrongtype": "sz", b"k-orphan": "hk"}
    assert 'crossbound_dead_letters_total{reason="unknown_schema",side="sz"} 1.0' in worker.metrics()


async def test_duplicate_request_is_answered_once(worker: Worker, bus: Bus) -> None:
    case = Traffic(seed=13).case("sb_corporate_credit_report", "valid")
    rid = await bus.send_case(case)
    await bus.send_case(case)
    await bus.wait_for(lambda: rid in bus.verdicts and len(bus.dead_letters) == 1, what="verdict + duplicate")
    await asyncio.sleep(1.0)
    assert len(bus.verdicts[rid]) == 1
    assert bus.dead_letters[0][1]["reason"] == "duplicate_request"


async def test_payment_limits_hold_across_many_requests_of_one_payer(worker: Worker, bus: Bus) -> None:
    cases = Traffic(seed=14).payments_for_one_payer(25, amount="1000")
    ids = [await bus.send_case(c) for c in cases]
    await bus.wait_for(lambda: len(bus.verdicts) == len(ids), what="25 payment verdicts")
    outcomes = Counter(bus.verdicts[rid][0]["outcome"] for rid in ids)
    # HKD 10,000 a day: exactly ten payments of 1,000 fit, whatever partition each request landed on
    assert outcomes == {"ACCEPT": 10, "REJECT": 15}
    rejected = [bus.verdicts[rid][0] for rid in ids if bus.verdicts[rid][0]["outcome"] == "REJECT"]
    assert all({f["code"] for f in v["findings"]} == {"LIMIT_EXCEEDED"} for v in rejected)


async def _restart_run(broker: Broker, tmp_path: Path, codec: Codec, catalogue: object, kill: bool) -> Bus:
    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"r{tag}.", app_id=f"rs{tag}")
    await create_topics(broker, topics)
    traffic = Traffic(seed=15)
    first = Worker(broker, topics, tmp_path / "first.log", timeout_s=20).start()
    async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:  # type: ignore[arg-type]
        ids: list[str] = []
        for i in range(600):
            scenario = SCENARIOS[i % 2]  # no quota scenario: each request is answered by one agent hop
            ids.append(await bus.send_case(traffic.case(scenario, "valid")))
            if i % 50 == 49:
                await asyncio.sleep(0.05)
            if i == 300:
                await bus.wait_for(lambda: len(bus.verdicts) >= 100, what="first verdicts")
                first.kill() if kill else first.stop()
                second = Worker(broker, topics, tmp_path / "second.log", timeout_s=20).start()
        try:
            await bus.wait_for(
                lambda: all(r in bus.verdicts for r in ids), timeout_s=90, what="all 600 verdicts"
            )
        except AssertionError:
            missing = [r for r in ids if r not in bus.verdicts]
            reasons = Counter(d[1]["reason"] for d in bus.dead_letters)
            asked = Counter(a["request_id"] for a in bus.attestation_requests if a["request_id"] in missing)
            raise AssertionError(
                f"missing {missing}, dead letters {dict(reasons)}, asked {dict(asked)}"
            ) from None
        finally:
            second.stop()
        assert all(bus.verdicts[r][0]["outcome"] == "ACCEPT" for r in ids)
        assert "Traceback" not in second.log()
        return bus


async def test_worker_stopped_and_restarted_mid_stream_leaves_nothing_unanswered(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: object
) -> None:
    bus = await _restart_run(broker, tmp_path, codec, catalogue, kill=False)
    # a clean stop commits what it did: every request answered exactly once
    assert Counter(len(v) for v in bus.verdicts.values()) == {1: 600}


async def test_worker_killed_and_restarted_mid_stream_leaves_nothing_unanswered(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: object
) -> None:
    bus = await _restart_run(broker, tmp_path, codec, catalogue, kill=True)
    # SIGKILL: at-least-once may repeat what was done after the last commit, never lose it. A repeat
    # is the same answer: byte for byte when the first process's state survived, else the same
    # outcome and findings decided again (with a later decided_at)
    assert len(bus.verdicts) == 600
    for copies in bus.verdicts.values():
        assert len({(c["outcome"], str(c["findings"])) for c in copies}) == 1
        assert copies[0]["outcome"] == "ACCEPT"
    # a request re-asked after the kill may be answered twice by its data holder: the spare answer
    # is dead-lettered as late (or orphan, when it overtook the redelivered request); nothing else
    assert {d[1]["reason"] for d in bus.dead_letters} <= {"late_attestation", "orphan_attestation"}


async def test_records_of_an_older_schema_version_and_oversized_records(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: object
) -> None:
    """The worker runs with a newer request envelope (v2 adds a defaulted field); v1 records still decode.

    And a record over the size limit goes to the dead letter, with its bytes.
    """
    import json
    import shutil

    from crossbound.codec import SchemaRegistry
    from crossbound.paths import default_schemas_dir
    from crossbound.supervise import wait_until_ready

    schemas = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir(), schemas)
    v1 = json.loads((schemas / "core" / "request.v1.avsc").read_text())
    v2 = dict(v1, fields=[*v1["fields"], {"name": "channel", "type": "string", "default": "api"}])
    (schemas / "core" / "request.v2.avsc").write_text(json.dumps(v2))
    assert SchemaRegistry.load(schemas).current("core/request").version == 2

    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"v{tag}.", app_id=f"sv{tag}")
    await create_topics(broker, topics)
    worker = Worker(broker, topics, tmp_path / "worker.log")
    worker.extra = ["--schemas", str(schemas)]
    worker.start()
    try:
        await asyncio.to_thread(wait_until_ready, worker.proc, worker.metrics_port, 60.0)  # type: ignore[arg-type]
        async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:  # type: ignore[arg-type]
            # our codec writes v1 (it knows no v2): the worker reads it into v2
            case = Traffic(seed=21).case("sb_corporate_credit_report", "valid")
            rid = await bus.send_case(case)
            big = b"\xc3\x01" + bytes(1_020_000)  # over the 1 MB limit, under the producer's 1 MiB
            await bus.send(topics.requests("hk"), b"k-big", big)
            await bus.wait_for(
                lambda: rid in bus.verdicts and len(bus.dead_letters) == 1, what="verdict + big"
            )
        assert bus.verdicts[rid][0]["outcome"] == "ACCEPT"
        key, record, _ = bus.dead_letters[0]
        assert key == b"k-big"
        assert record["reason"] == "too_large"
        assert record["value"] == big[: 64 * 1024]  # kept short: the dead letter must fit the broker
        assert record["value_size"] == len(big)
    finally:
        worker.stop()
    assert "Traceback" not in worker.log()


async def test_two_workers_share_the_partitions_and_the_state(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: object
) -> None:
    """Two worker processes in one group: every request, attestation and limit meets its own state."""
    from crossbound.supervise import wait_until_ready

    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"w{tag}.", app_id=f"two{tag}")
    await create_topics(broker, topics)
    workers = [Worker(broker, topics, tmp_path / f"w{i}.log").start() for i in range(2)]
    try:
        for w in workers:
            await asyncio.to_thread(wait_until_ready, w.proc, w.metrics_port, 60.0)  # type: ignore[arg-type]
        traffic = Traffic(seed=31)
        async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:  # type: ignore[arg-type]
            expected = {}
            for i in range(90):
                case = traffic.case(SCENARIOS[i % 3], ("valid", "review", "mismatch")[(i // 3) % 3])
                expected[await bus.send_case(case)] = case.expected
            payments = traffic.payments_for_one_payer(15, amount="1000")
            pay_ids = [await bus.send_case(c) for c in payments]
            await bus.wait_for(lambda: len(bus.verdicts) == 105, timeout_s=90, what="105 verdicts")
        assert {rid: bus.verdicts[rid][0]["outcome"] for rid in expected} == expected
        assert Counter(bus.verdicts[r][0]["outcome"] for r in pay_ids) == {"ACCEPT": 10, "REJECT": 5}
        assert bus.dead_letters == []
        # both workers did part of the work
        for w in workers:
            assert "crossbound_verdicts_total{" in w.metrics()
    finally:
        for w in workers:
            w.stop()
    for w in workers:
        assert "Traceback" not in w.log()
