"""Record a live run's input topics with `crossbound record`, replay them under another prefix with
`crossbound replay` to a fresh worker, and get the same verdicts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.testing.processes import wait_until_ready
from crossbound.testing.recording import read_jsonl
from crossbound.testing.traffic import Traffic
from crossbound.topics import SIDES, Topics
from support import Bus, Worker, create_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crossbound", *args], capture_output=True, text=True, timeout=60, check=False
    )


async def _run(
    broker: Broker, topics: Topics, log: Path, codec: Codec, catalogue: object, cases: list[object]
) -> dict[str, str]:
    await create_topics(broker, topics)
    worker = Worker(broker, topics, log).start()
    try:
        await asyncio.to_thread(wait_until_ready, worker.proc, worker.metrics_port, 60.0)  # type: ignore[arg-type]
        async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:  # type: ignore[arg-type]
            ids = [await bus.send_case(c) for c in cases]  # type: ignore[arg-type]
            await bus.wait_for(lambda: all(r in bus.verdicts for r in ids), what="verdicts")
            return {r: bus.verdicts[r][0]["outcome"] for r in ids}
    finally:
        worker.stop()


async def test_record_then_replay_gives_the_same_verdicts(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: object
) -> None:
    traffic = Traffic(seed=51)
    cases = [
        traffic.case(s, v)
        for s in ("sb_corporate_credit_report", "nb_hk_resident_consumer_credit")
        for v in ("valid", "review", "invalid", "mismatch")
    ]
    tag = os.urandom(3).hex()
    first = Topics(prefix=f"rec{tag}.", app_id=f"rec{tag}")
    outcomes = await _run(broker, first, tmp_path / "first.log", codec, catalogue, cases)

    recording = tmp_path / "inputs.jsonl"
    inputs = [first.requests(s) for s in SIDES] + [first.attestations(s) for s in SIDES]
    args = ["record", "--broker", broker.url, "--out", str(recording), "--idle", "1"]
    done = _cli(*args, *[a for t in inputs for a in ("--topic", t)])
    assert done.returncode == 0, done.stderr
    recorded = read_jsonl(recording)
    assert len(recorded) == 8 + 6  # 8 requests, 6 attestations (request-stage rejects are never asked)

    second = Topics(prefix=f"rep{tag}.", app_id=f"rep{tag}")
    await create_topics(broker, second)
    worker = Worker(broker, second, tmp_path / "second.log").start()
    try:
        await asyncio.to_thread(wait_until_ready, worker.proc, worker.metrics_port, 60.0)  # type: ignore[arg-type]
        async with Bus(broker.bootstrap, second, codec, catalogue) as bus:  # type: ignore[arg-type]
            replayed = _cli(
                "replay",
                "--broker",
                broker.url,
                str(recording),
                "--from-prefix",
                first.prefix,
                "--to-prefix",
                second.prefix,
                "--respond",
            )
            assert replayed.returncode == 0, replayed.stderr
            await bus.wait_for(lambda: len(bus.verdicts) == len(outcomes), what="replayed verdicts")
            again = {r: v[0]["outcome"] for r, v in bus.verdicts.items()}
    finally:
        worker.stop()
    assert again == outcomes
