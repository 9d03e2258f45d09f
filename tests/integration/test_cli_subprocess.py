"""The `crossbound` command as a user runs it, as a separate process, against a real broker.

`publish` feeds a running worker, a worker with a bad rule file refuses to start, `demo --json` runs the
whole pipeline on its own broker and prints one summary object, `demo --broker` refuses to join a
running worker's consumer group, the worker's probes answer, and `broker` serves Kafka until SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Producer

from crossbound._data import default_rulesets_dir
from crossbound.broker import Broker
from crossbound.broker.tansu import metadata_probe
from crossbound.cli.demo import group_members
from crossbound.codec.jsonform import attestation_from_json
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics
from support import Bus, Worker, end_process, free_port, read_line

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

CLI = [sys.executable, "-m", "crossbound"]


def _broken_rulesets(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the shipped rule sets with one rule naming a check that does not exist."""
    rulesets = tmp_path / "rulesets"
    shutil.copytree(default_rulesets_dir(), rulesets)
    broken = rulesets / "payment_connect_northbound.toml"
    text = broken.read_text()
    assert 'id = "PCN-01"' in text
    head, tail = text.split('id = "PCN-01"', 1)
    check = tail.split('check = "', 1)[1].split('"', 1)[0]
    broken.write_text(head + 'id = "PCN-01"' + tail.replace(f'check = "{check}"', 'check = "nonsense"', 1))
    return rulesets, broken


async def test_publish_feeds_the_worker_three_requests_three_verdicts(
    worker: Worker, bus: Bus, broker: Broker, topics: Topics, tmp_path: Path
) -> None:
    traffic = Traffic(seed=41)
    cases = [
        traffic.case("sb_corporate_credit_report", "valid"),
        traffic.case("sb_corporate_credit_report", "review"),
        traffic.case("payment_connect_northbound", "invalid"),
    ]
    assert {c.requester_side for c in cases} == {"HK"}
    lines = []
    for case in cases:
        assert case.request is not None
        lines.append(json.dumps(case.request))
        if case.attestation is not None:  # the data holder answers when asked
            att = attestation_from_json(case.attestation, bus.codec, bus.catalogue)
            key = str(case.request_id).encode()
            bus.answers[key] = (topics.attestations("sz"), bus.codec.encode("core/attestation", att))
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")

    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "publish",
        "--broker",
        broker.bootstrap,  # host:port, as every broker flag takes it
        "--topic",
        topics.requests("hk"),
        str(path),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out) == {"published": 3, "kind": "request", "topic": topics.requests("hk")}

    expected = {str(c.request_id): c.expected for c in cases}
    await bus.wait_for(lambda: len(bus.verdicts) == 3, what="three verdicts")
    assert {rid: [v["outcome"] for v in vs] for rid, vs in bus.verdicts.items()} == {
        rid: [outcome] for rid, outcome in expected.items()
    }
    assert sorted(expected.values()) == ["ACCEPT", "REJECT", "REVIEW"]
    assert bus.dead_letters == []


def test_worker_with_a_bad_rule_file_fails_at_start_up(broker: Broker, tmp_path: Path) -> None:
    rulesets, broken = _broken_rulesets(tmp_path)
    prefix = f"bad{os.urandom(4).hex()}."
    started = time.monotonic()
    result = subprocess.run(
        [
            *CLI,
            "worker",
            "--rulesets",
            str(rulesets),
            "--broker",
            broker.url,
            "--topic-prefix",
            prefix,
            "--no-metrics",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode != 0, result.stderr
    assert elapsed < 20, f"took {elapsed:.1f} s to refuse a bad rule file"
    assert str(broken) in result.stderr
    assert "'PCN-01'" in result.stderr
    assert "nonsense" in result.stderr
    assert "Traceback" not in result.stderr
    # it failed before creating anything on the broker
    producer = Producer({"bootstrap.servers": broker.bootstrap, "log.connection.close": False})
    names = producer.list_topics(timeout=10).topics
    assert not [t for t in names if t.startswith(prefix)]


def test_demo_json_prints_one_summary_with_everything_answered() -> None:
    result = subprocess.run(
        [*CLI, "demo", "--count", "60", "--json", "--metrics-port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    summary = json.loads(result.stdout)
    assert isinstance(summary, dict)
    assert summary["published"] == 60
    verdicts = summary["verdicts"]
    assert set(verdicts) == {"ACCEPT", "REVIEW", "REJECT"}
    assert all(isinstance(n, int) and n > 0 for n in verdicts.values())
    assert sum(verdicts.values()) + summary["dead_letters"] == 60
    assert summary["unanswered"] == 0
    assert summary["expected_matched"] == 60
    assert summary["metrics_verdicts_total"] == sum(verdicts.values())
    latency = summary["latency_ms"]
    assert set(latency) >= {"p50", "p99"}
    assert 0 <= latency["p50"] <= latency["p99"]
    assert summary["throughput_per_s"] > 0
    assert sum(summary["dead_letter_reasons"].values()) == summary["dead_letters"]


def test_broker_command_serves_kafka_until_sigint() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(proc, 30)
        assert f"kafka://127.0.0.1:{port}" in line, line
        assert "Ctrl-C" in line
        brokers = metadata_probe("127.0.0.1", port, timeout_s=5)
        assert [(host, p) for _, host, p in brokers] == [("127.0.0.1", port)]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        with pytest.raises(ConnectionRefusedError):  # Tansu went with it
            metadata_probe("127.0.0.1", port, timeout_s=1)
    finally:
        end_process(proc, 20)  # SIGTERM lets the broker command stop its broker, unlike SIGKILL


async def test_demo_refuses_to_join_a_running_workers_group(
    worker: Worker, broker: Broker, topics: Topics
) -> None:
    assert await group_members(broker.bootstrap, topics.app_id) >= 1
    assert await group_members(broker.bootstrap, f"nobody{os.urandom(4).hex()}") == 0
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "demo",
        "--broker",
        broker.url,
        "--app-id",
        topics.app_id,
        "--count",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    message = err.decode()
    assert proc.returncode == 2, message
    assert out == b""
    assert message.startswith(f"crossbound: consumer group {topics.app_id!r} on {broker.url} has ")
    assert "--join" in message
    assert "Traceback" not in message
    assert len(message.splitlines()) == 1


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_a_ready_worker_answers_its_probes(worker: Worker) -> None:
    base = f"http://127.0.0.1:{worker.metrics_port}"
    assert _status(f"{base}/healthz") == 200
    assert _status(f"{base}/readyz") == 200  # the fixture waited for it (wait_until_ready)
    assert "\ncrossbound_ready 1.0" in worker.metrics()  # the probe and the gauge agree
    assert _status(f"{base}/") == 404
