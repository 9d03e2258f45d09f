"""The real worker as a process: its metrics, restarts, two workers in a group, an evolved schema.

What the pipeline does with each record, on the Harness and on this worker alike, is in tests/contract/.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

import pytest

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics
from support import Bus, Worker, create_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCENARIOS = ("sb_corporate_credit_report", "nb_hk_resident_consumer_credit", "payment_connect_northbound")
# attested scenarios with no stateful rule (no personal data, so no C10 count): one agent hop answers each
STATELESS = ("green_loan_project_eligibility", "tech_enterprise_credential")


async def test_the_worker_counts_its_verdicts_and_dead_letters_in_its_metrics(
    worker: Worker, bus: Bus, topics: Topics
) -> None:
    """What the contract tests check per record (tests/contract/), seen from the process: its /metrics."""
    rid = await bus.send_case(Traffic(seed=11).case("payment_connect_northbound", "valid"))
    await bus.send(topics.requests("sz"), b"k-unknown", b"\xc3\x01" + bytes(range(8)) + b"\x02\x04")
    await bus.wait_for(
        lambda: rid in bus.verdicts and len(bus.dead_letters) == 1, what="verdict + dead letter"
    )
    assert bus.verdicts[rid][0]["outcome"] == "ACCEPT"
    text = worker.metrics()
    assert (
        'crossbound_verdicts_total{outcome="ACCEPT",scenario="payment_connect_northbound",side="hk"} 1.0'
        in text
    )
    assert 'crossbound_dead_letters_total{reason="unknown_schema",side="sz"} 1.0' in text


async def _restart_run(
    broker: Broker,
    tmp_path: Path,
    codec: Codec,
    catalogue: object,
    kill: bool,
    scenarios: tuple[str, str] = STATELESS,
) -> Bus:
    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"r{tag}.", app_id=f"rs{tag}")
    await create_topics(broker, topics)
    traffic = Traffic(seed=15)
    first = Worker(broker, topics, tmp_path / "first.log", timeout_s=20).start()
    async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:  # type: ignore[arg-type]
        ids: list[str] = []
        for i in range(600):
            scenario = scenarios[i % 2]
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
    # one crash, one repeat at most: a re-sent answer counts as sent by the new process, so the
    # rebalances after its start do not send it again
    copies_per_request = Counter(len(copies) for copies in bus.verdicts.values())
    assert max(copies_per_request) <= 2, copies_per_request
    for copies in bus.verdicts.values():
        assert len({(c["outcome"], str(c["findings"])) for c in copies}) == 1
        assert copies[0]["outcome"] == "ACCEPT"
    # a request re-asked after the kill may be answered twice by its data holder: the spare answer
    # is dead-lettered as late (or orphan, when it overtook the redelivered request); nothing else
    assert {d[1]["reason"] for d in bus.dead_letters} <= {"late_attestation", "orphan_attestation"}


async def test_a_killed_worker_in_stateful_chains_leaves_nothing_unanswered(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: object
) -> None:
    """The same crash where every request passes a C10 count hop (mainland personal data leaving).

    C10 keeps one key per institution, which remembers only its last 32 counted ids: a hop older than
    that, delivered twice after a crash (redelivered, and sent on again from the answered table), was
    decided twice, and its verdict came out 3 times. A hop this process decided is now silent.
    """
    bus = await _restart_run(
        broker,
        tmp_path,
        codec,
        catalogue,
        kill=True,
        scenarios=("sb_corporate_credit_report", "nb_hk_resident_consumer_credit"),
    )
    assert len(bus.verdicts) == 600
    copies_per_request = Counter(len(copies) for copies in bus.verdicts.values())
    assert max(copies_per_request) <= 2, copies_per_request
    for copies in bus.verdicts.values():
        assert len({(c["outcome"], str(c["findings"])) for c in copies}) == 1


async def test_records_of_an_older_schema_version_still_decode(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: object
) -> None:
    """The worker runs with a newer request envelope (v2 adds a defaulted field); v1 records still decode."""
    import json
    import shutil

    from crossbound._data import default_schemas_dir
    from crossbound.codec import SchemaRegistry
    from crossbound.testing.processes import wait_until_ready

    schemas = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir(), schemas)
    v1 = json.loads((schemas / "core" / "request.v1.avsc").read_text())
    v2 = dict(
        v1, fields=[*v1["fields"], {"name": "channel", "type": "string", "default": "API", "form": "code"}]
    )
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
            await bus.wait_for(lambda: rid in bus.verdicts, what="verdict")
        assert bus.verdicts[rid][0]["outcome"] == "ACCEPT"
        assert bus.dead_letters == []
    finally:
        worker.stop()
    assert "Traceback" not in worker.log()


async def test_two_workers_share_the_partitions_and_the_state(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: object
) -> None:
    """Two worker processes in one group: every request, attestation and limit meets its own state."""
    from crossbound.testing.processes import wait_until_ready

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
