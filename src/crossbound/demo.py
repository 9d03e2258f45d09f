"""``crossbound demo``: the whole pipeline on one machine, with simulated institutions on both sides.

It starts the embedded broker (or uses ``--broker``), creates the topics, starts a real worker process,
then plays the institutions (publishing requests, valid, invalid, mismatching, late and undecodable)
and the data holders (answering attestation requests), collects every verdict and dead letter, and
prints a summary. Every published record must come back as exactly one verdict or dead letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crossbound.broker import EmbeddedBroker, apply_tansu_workarounds, ensure_topics, find_tansu_binary
from crossbound.codec import Codec, SchemaRegistry
from crossbound.errors import CrossboundError
from crossbound.jsonform import attestation_from_json, request_from_json
from crossbound.rules import Catalogue, load_catalogue
from crossbound.settings import Settings
from crossbound.simulate import Case, Traffic
from crossbound.supervise import start_worker_process, stop_process, wait_until_ready
from crossbound.topics import SIDES, Topics

__all__ = ["DemoResult", "run_demo"]

DEMO_TIMEOUT_S = 3.0  # attestation timeout in the demo, so that "late" cases resolve quickly


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise CrossboundError("no free port for /metrics")


@dataclass
class DemoResult:
    """What the simulated institutions saw."""

    published: int = 0
    started: float = 0.0
    finished: float = 0.0
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_letters: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        """Verdicts plus dead letters."""
        return len(self.verdicts) + len(self.dead_letters)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class _Simulation:
    def __init__(self, bootstrap: str, topics: Topics, codec: Codec, catalogue: Catalogue, cases: list[Case]):
        self.bootstrap = bootstrap
        self.topics = topics
        self.codec = codec
        self.cases = cases
        self.by_key: dict[bytes, Case] = {}
        self.requests: list[tuple[str, bytes, bytes]] = []
        self.answers: dict[bytes, tuple[str, bytes]] = {}
        for i, case in enumerate(cases):
            if case.request is None:
                assert case.raw is not None
                key = f"undecodable-{i}".encode()
                side = SIDES[i % 2]
                self.requests.append((topics.requests(side), key, case.raw))
            else:
                record = request_from_json(case.request, codec, catalogue)
                key = record["request_id"].encode()
                side = str(case.request["requester_side"]).lower()
                self.requests.append((topics.requests(side), key, codec.encode("core/request", record)))
                if case.attestation is not None:
                    att = attestation_from_json(case.attestation, codec, catalogue)
                    att_side = str(case.attestation["attester_side"]).lower()
                    self.answers[key] = (topics.attestations(att_side), codec.encode("core/attestation", att))
            self.by_key[key] = case
        self.result = DemoResult()

    async def _holders(self, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            *[self.topics.attestation_requests(s) for s in SIDES],
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                for tp, messages in batch.items():
                    for msg in messages:
                        answer = self.answers.get(msg.key)
                        if answer is not None:
                            await producer.send(
                                answer[0], value=answer[1], key=msg.key, partition=tp.partition
                            )
        finally:
            await consumer.stop()

    async def _collect(self, stop: asyncio.Event) -> None:
        topics = [self.topics.verdicts(s) for s in SIDES] + [self.topics.deadletter(s) for s in SIDES]
        consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                for tp, messages in batch.items():
                    for msg in messages:
                        record = self.codec.decode(msg.value)[1]
                        if tp.topic.endswith(".verdicts"):
                            self.result.verdicts[record["request_id"]] = record
                        else:
                            self.result.dead_letters[(msg.key or b"").decode()] = record
                if self.result.answered >= self.result.published == len(self.cases):
                    self.result.finished = time.monotonic()
                    stop.set()
        finally:
            await consumer.stop()

    async def run(self, deadline_s: float, progress: bool) -> DemoResult:
        stop = asyncio.Event()
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, max_batch_size=262_144)
        await producer.start()
        try:
            tasks = [
                asyncio.create_task(self._holders(producer, stop)),
                asyncio.create_task(self._collect(stop)),
            ]
            self.result.started = time.monotonic()
            for topic, key, value in self.requests:
                await producer.send(topic, value=value, key=key)
                self.result.published += 1
            await producer.flush()
            end = time.monotonic() + deadline_s
            while not stop.is_set() and time.monotonic() < end:
                if progress:
                    r = self.result
                    print(
                        f"\r  published {r.published}  verdicts {len(r.verdicts)}"
                        f"  dead letters {len(r.dead_letters)}",
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
            if progress:
                print(file=sys.stderr)
            stop.set()
            await asyncio.gather(*tasks)
        finally:
            await producer.stop()
        if not self.result.finished:
            self.result.finished = time.monotonic()
        return self.result


def summarise(sim: _Simulation, result: DemoResult, metrics_text: str | None) -> dict[str, Any]:
    """The demo's summary as one JSON-ready object."""
    outcomes: Counter[str] = Counter(v["outcome"] for v in result.verdicts.values())
    reasons: Counter[str] = Counter(d["reason"] for d in result.dead_letters.values())
    by_scenario: dict[str, Counter[str]] = {}
    matched = 0
    for key, case in sim.by_key.items():
        got = "UNANSWERED"
        verdict = result.verdicts.get(key.decode())
        if verdict is not None:
            got = verdict["outcome"]
        elif key.decode() in result.dead_letters:
            got = "DEADLETTER"
        by_scenario.setdefault(case.scenario_id, Counter())[got] += 1
        matched += got == case.expected
    latencies = [
        (v["decided_at"] - v["request_created_at"]).total_seconds() * 1000 for v in result.verdicts.values()
    ]
    elapsed = max(1e-9, result.finished - result.started)
    summary: dict[str, Any] = {
        "published": result.published,
        "verdicts": {o: outcomes.get(o, 0) for o in ("ACCEPT", "REVIEW", "REJECT")},
        "dead_letters": len(result.dead_letters),
        "dead_letter_reasons": dict(sorted(reasons.items())),
        "unanswered": result.published - result.answered,
        "by_scenario": {s: dict(sorted(c.items())) for s, c in sorted(by_scenario.items())},
        "expected_matched": matched,
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.5), 1),
            "p99": round(_percentile(latencies, 0.99), 1),
        },
        "throughput_per_s": round(result.answered / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "attestation_timeout_s": DEMO_TIMEOUT_S,
    }
    if metrics_text is not None:
        total = 0.0
        for line in metrics_text.splitlines():
            if line.startswith("crossbound_verdicts_total{"):
                total += float(line.rsplit(" ", 1)[1])
        summary["metrics_verdicts_total"] = int(total)
    return summary


def render(summary: dict[str, Any]) -> Iterator[str]:
    """The human-readable summary table."""
    cols = ("ACCEPT", "REVIEW", "REJECT", "DEADLETTER", "UNANSWERED")
    width = max(len(s) for s in summary["by_scenario"]) if summary["by_scenario"] else 10
    yield f"{'scenario':<{width}}  " + "  ".join(f"{c:>10}" for c in cols)
    for scenario, counts in summary["by_scenario"].items():
        yield f"{scenario:<{width}}  " + "  ".join(f"{counts.get(c, 0):>10}" for c in cols)
    v = summary["verdicts"]
    yield ""
    yield (
        f"published {summary['published']}: verdicts ACCEPT {v['ACCEPT']}, REVIEW {v['REVIEW']}, "
        f"REJECT {v['REJECT']}; "
        f"dead letters {summary['dead_letters']}; unanswered {summary['unanswered']}"
    )
    if summary["dead_letter_reasons"]:
        yield "dead letters by reason: " + ", ".join(
            f"{k} {n}" for k, n in summary["dead_letter_reasons"].items()
        )
    lat = summary["latency_ms"]
    yield (
        f"latency (request created -> verdict) p50 {lat['p50']} ms, p99 {lat['p99']} ms "
        f"(late cases wait the {summary['attestation_timeout_s']:g} s attestation timeout)"
    )
    yield f"throughput {summary['throughput_per_s']} results/s over {summary['elapsed_s']} s"
    yield f"outcomes as the simulation intended: {summary['expected_matched']}/{summary['published']}"
    if "metrics_verdicts_total" in summary:
        yield f"crossbound_verdicts_total on /metrics: {summary['metrics_verdicts_total']}"


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310  our own loopback endpoint
            return str(resp.read().decode())
    except OSError:
        return None


def run_demo(settings: Settings, *, count: int, as_json: bool, keep_running: bool, seed: int) -> int:
    """Run the demo; exit code 0 when every record was answered as intended."""
    if count < 1:
        raise CrossboundError("--count must be at least 1")
    registry = SchemaRegistry.load(settings.pipeline.schemas_dir)
    codec = Codec(registry, settings.pipeline.max_record_bytes)
    catalogue = load_catalogue(settings.pipeline.rulesets_dir, registry)
    topics = Topics(settings.pipeline.topic_prefix, settings.pipeline.app_id)
    say = (lambda msg: print(msg, file=sys.stderr)) if as_json else print
    with contextlib.ExitStack() as stack:
        if settings.kafka.broker is None:
            broker = stack.enter_context(EmbeddedBroker(binary=find_tansu_binary(settings.tansu_bin)))
            url, bootstrap = broker.url, broker.bootstrap
            apply_tansu_workarounds()  # the simulated institutions' consumers talk to Tansu too
        else:
            url, bootstrap = settings.kafka.broker, settings.kafka.bootstrap_servers
        say(f"crossbound demo: broker {url}")
        asyncio.run(ensure_topics(bootstrap, dict.fromkeys(topics.all(), settings.kafka.partitions)))
        log_dir = Path(tempfile.mkdtemp(prefix="crossbound-demo-"))
        port = _free_port(settings.metrics.port)
        worker = start_worker_process(
            url,
            metrics_port=port,
            log_path=log_dir / "worker.log",
            extra=[
                "--attestation-timeout",
                str(DEMO_TIMEOUT_S),
                "--partitions",
                str(settings.kafka.partitions),
            ],
        )
        stack.callback(stop_process, worker)
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        say(f"crossbound demo: worker pid {worker.pid}, log {log_dir / 'worker.log'}, metrics {metrics_url}")
        started = time.monotonic()
        try:
            wait_until_ready(worker, port, timeout_s=90)
        except CrossboundError as exc:
            tail = (log_dir / "worker.log").read_text(errors="replace")[-3000:]
            raise CrossboundError(f"{exc}; worker log:\n{tail}") from None
        say(f"crossbound demo: worker ready after {time.monotonic() - started:.1f} s (consumer group joined)")
        cases = list(Traffic(seed=seed).mix(count))
        sim = _Simulation(bootstrap, topics, codec, catalogue, cases)
        say(f"crossbound demo: publishing {count} requests across {len(catalogue.scenarios)} scenarios")
        result = asyncio.run(sim.run(deadline_s=60.0 + count / 50, progress=sys.stderr.isatty()))
        if worker.poll() is not None:
            tail = (log_dir / "worker.log").read_text(errors="replace")[-3000:]
            raise CrossboundError(f"the worker exited with code {worker.returncode}:\n{tail}")
        summary = summarise(sim, result, _fetch(metrics_url))
        if as_json:
            print(json.dumps(summary, sort_keys=True))
        else:
            for line in render(summary):
                print(line)
        if keep_running:
            say(f"pipeline up: broker {url}, metrics {metrics_url}; Ctrl-C to stop")
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    ok = summary["unanswered"] == 0 and summary["expected_matched"] == summary["published"]
    return 0 if ok else 1
