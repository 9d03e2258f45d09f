"""Broker failure under load: kill Kafka nodes of a three-node cluster while one worker answers requests.

:func:`run_broker_failure` creates fresh topics with the production settings (replication factor 3,
``min.insync.replicas`` 2), starts one ``crossbound worker`` process on them and publishes attested
requests at a paced rate from a :class:`~crossbound.testing.live.LiveBus` (the institutions, and the data
holders answering). During the load it SIGKILLs a broker that is not the KRaft controller leader,
restarts it, then kills the controller leader and restarts it. It returns a :class:`FailureReport`:
what was published and answered, and per kill how long verdicts stopped flowing.

The worker is never killed, so nothing may be lost and nothing should be repeated. The integration
test ``tests/integration/test_broker_failure.py`` asserts that; ``benchmarks/broker_failure.py``
prints the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crossbound.broker.admin import ensure_topics
from crossbound.broker.kafka import KafkaCluster
from crossbound.broker.net import free_port
from crossbound.broker.topicspec import topic_specs
from crossbound.codec import Codec
from crossbound.errors import CrossboundError
from crossbound.rules import Catalogue
from crossbound.settings import Settings
from crossbound.testing.live import LiveBus
from crossbound.testing.processes import start_worker_process, stop_process, wait_until_ready
from crossbound.testing.stats import percentile
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics

__all__ = ["FailureReport", "KillReport", "run_broker_failure"]

# attested scenarios with one agent hop each (no quota hop)
_SCENARIOS = ("sb_corporate_credit_report", "nb_hk_resident_consumer_credit")
_ERROR_NAME = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception))\b")


@dataclass(frozen=True, slots=True)
class KillReport:
    """One SIGKILLed node. Times in seconds; ``at_s`` from the start of the load, the rest from the kill.

    ``first_verdict_s``: until the first verdict arrived after the kill. ``longest_gap_s``: the
    longest time without any verdict arriving, from the kill until the next kill (or the end).
    ``caught_up_s``: until every request published before the kill had its verdict.
    ``max_latency_s``: the slowest publish-to-verdict time of the requests published in the
    ``down_s`` + 5 s after the kill. ``restart_s``: how long :meth:`KafkaCluster.start_node` took
    (launch until the node lists the whole cluster).
    """

    node: int
    controller: bool
    at_s: float
    down_s: float
    restart_s: float
    first_verdict_s: float | None
    longest_gap_s: float
    caught_up_s: float | None
    max_latency_s: float | None
    controller_after: int | None


@dataclass(slots=True)
class FailureReport:
    """What a :func:`run_broker_failure` run published, got back and saw per kill."""

    requests: int
    rate: float
    load_s: float
    verdicts: int
    lost: int
    duplicates: int
    not_accepted: int
    dead_letters: int
    dead_letter_reasons: dict[str, int]
    conflicting_repeats: int
    worker_alive: bool
    worker_ready: bool
    latency_before_kills_p50_s: float
    latency_p50_s: float
    latency_p99_s: float
    latency_max_s: float
    kills: list[KillReport] = field(default_factory=list)
    worker_log_errors: dict[str, int] = field(default_factory=dict)
    worker_tracebacks: int = 0
    worker_log: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Everything but the worker log path, for one JSON line."""
        data = asdict(self)
        data.pop("worker_log")
        return data


def _kill_figures(
    kill: float,
    until: float,
    arrivals: list[tuple[float, str]],
    sent: dict[str, float],
    first_arrival: dict[str, float],
    window_s: float,
) -> tuple[float | None, float, float | None, float | None]:
    """(first verdict, longest gap, caught up, max latency) of a kill at monotonic ``kill``."""
    after = [t for t, _ in arrivals if kill <= t <= until]
    first = after[0] - kill if after else None
    gaps = [b - a for a, b in zip([kill, *after], [*after, until], strict=True)]
    before = [first_arrival.get(r) for r, t in sent.items() if t < kill]
    caught = None if any(a is None for a in before) else max([kill, *(a for a in before if a)]) - kill
    lat = [
        first_arrival[r] - t for r, t in sent.items() if kill <= t <= kill + window_s and r in first_arrival
    ]
    return first, max(gaps), caught, max(lat) if lat else None


async def run_broker_failure(
    cluster: KafkaCluster,
    codec: Codec,
    catalogue: Catalogue,
    *,
    rate: float = 200.0,
    seconds: float = 40.0,
    first_kill_s: float = 6.0,
    second_kill_s: float = 22.0,
    down_s: float = 3.0,
    settle_s: float = 5.0,
    max_seconds: float = 75.0,
    partitions: int = 4,
    log_dir: Path | None = None,
    drain_timeout_s: float = 180.0,
    seed: int = 41,
) -> FailureReport:
    """Run the scenario (see the module docstring) on a running three-node ``cluster``.

    ``rate`` requests/s for ``seconds``; the first kill (a node that is not the controller leader)
    at ``first_kill_s``, the second (the controller leader) at ``second_kill_s`` but no sooner than
    ``settle_s`` after the first node is back; each node down for ``down_s`` before
    :meth:`KafkaCluster.start_node`. On a slow machine a restart can take 20-30 s: the load then
    goes on at the same rate until the second node is back, for at most ``max_seconds``. The worker
    is stopped before returning; its log stays in ``log_dir`` (default: a new temporary directory),
    at :attr:`FailureReport.worker_log`.
    """
    if cluster.nodes != 3:
        raise ValueError(f"broker failure needs a three-node cluster, got {cluster.nodes}")
    settings = Settings()
    tag = uuid.uuid4().hex[:8]
    topics = Topics(prefix=f"chaos{tag}.", app_id=f"chaos{tag}")
    await ensure_topics(cluster.bootstrap, topic_specs(topics, settings.topic_settings(), partitions))
    log_dir = log_dir if log_dir is not None else Path(tempfile.mkdtemp(prefix="crossbound-chaos-"))
    log_path = log_dir / f"worker-{tag}.log"
    port = free_port()
    rf = settings.topic_settings().verdicts.replication_factor
    extra = ["--app-id", topics.app_id, "--topic-prefix", topics.prefix, "--partitions", str(partitions)]
    # a request whose hop is held up by a leader election must wait for its answer, not time out
    extra += ["--replication-factor", str(rf), "--attestation-timeout", "120"]
    proc = start_worker_process(cluster.url, metrics_port=port, log_path=log_path, tansu=False, extra=extra)
    try:
        await asyncio.to_thread(wait_until_ready, proc, port, 120.0)
        plan = _Plan(
            rate, seconds, first_kill_s, second_kill_s, down_s, settle_s, max_seconds, drain_timeout_s, seed
        )
        report = await _load(cluster, codec, catalogue, topics, proc, port, plan)
    finally:
        stop_process(proc)
    text = log_path.read_text(errors="replace")
    report.worker_log_errors = dict(Counter(_ERROR_NAME.findall(text)).most_common())
    report.worker_tracebacks = text.count("Traceback")
    report.worker_log = str(log_path)
    return report


@dataclass(frozen=True, slots=True)
class _Plan:
    rate: float
    seconds: float
    first_kill_s: float
    second_kill_s: float
    down_s: float
    settle_s: float
    max_seconds: float
    drain_timeout_s: float
    seed: int


async def _chaos(
    cluster: KafkaCluster, plan: _Plan, start: float
) -> list[tuple[float, int, bool, float, int | None]]:
    """Kill a follower, restart it, kill the controller leader, restart it.

    One (kill instant, node, was controller, restart seconds, controller after) per kill.
    """
    done: list[tuple[float, int, bool, float, int | None]] = []
    earliest = start
    for at, controller in ((plan.first_kill_s, False), (plan.second_kill_s, True)):
        await asyncio.sleep(max(0.0, start + at - time.monotonic(), earliest - time.monotonic()))
        leader = await asyncio.to_thread(cluster.controller_leader, 30.0)
        victim = leader if controller else next(n for n in cluster.node_ids if n != leader)
        await asyncio.to_thread(cluster.kill_node, victim)
        killed = time.monotonic()
        await asyncio.sleep(plan.down_s)
        t0 = time.monotonic()
        await asyncio.to_thread(cluster.start_node, victim)
        restart = time.monotonic() - t0
        after = await asyncio.to_thread(cluster.controller_leader, 30.0)
        earliest = time.monotonic() + plan.settle_s
        done.append((killed, victim, controller, restart, after))
    return done


async def _load(
    cluster: KafkaCluster,
    codec: Codec,
    catalogue: Catalogue,
    topics: Topics,
    proc: subprocess.Popen[bytes],
    port: int,
    plan: _Plan,
) -> FailureReport:
    traffic = Traffic(seed=plan.seed)
    n, most = int(plan.rate * plan.seconds), int(plan.rate * plan.max_seconds)
    sent: dict[str, float] = {}
    async with LiveBus(
        cluster.bootstrap, topics, codec, catalogue, acks="all", enable_idempotence=True
    ) as bus:
        # warm-up: one request through every hop before the clock starts (not counted)
        warm = Traffic(seed=plan.seed + 1).case(_SCENARIOS[0], "valid")
        topic, key, value = bus.encode_case(warm, int(time.time() * 1000))
        await bus.send(topic, key, value)
        warm_id = key.decode()
        await bus.wait_for(lambda: warm_id in bus.verdicts, timeout_s=60, what="the warm-up verdict")
        start = time.monotonic()
        chaos = asyncio.create_task(_chaos(cluster, plan, start))
        try:
            for i in range(most):
                if i >= n and chaos.done():
                    break
                case = traffic.case(_SCENARIOS[i % len(_SCENARIOS)], "valid")
                delay = start + i / plan.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                topic, key, value = bus.encode_case(case, int(time.time() * 1000))
                sent[key.decode()] = time.monotonic()
                await bus.send(topic, key, value)
            load_s = time.monotonic() - start
            kills = await chaos
        except BaseException:
            chaos.cancel()
            raise
        with contextlib.suppress(AssertionError):  # a timeout: the missing ones are reported as lost
            await bus.wait_for(
                lambda: all(r in bus.verdicts for r in sent),
                timeout_s=plan.drain_timeout_s,
                what=f"{len(sent)} verdicts",
            )
        await asyncio.sleep(1.0)  # let a late repeat arrive, so it is counted
        end = time.monotonic()
        alive = proc.poll() is None
        try:
            await asyncio.to_thread(wait_until_ready, proc, port, 10.0)
            ready = True
        except CrossboundError:
            ready = False
        arrivals = list(bus.arrivals)
        verdicts = dict(bus.verdicts)
        reasons = Counter(str(d[1]["reason"]) for d in bus.dead_letters)
    first_arrival: dict[str, float] = {}
    for t, rid in arrivals:
        first_arrival.setdefault(rid, t)
    latencies = [first_arrival[r] - t for r, t in sent.items() if r in first_arrival]
    early = [first_arrival[r] - t for r, t in sent.items() if r in first_arrival and t < kills[0][0]]
    reports = []
    for i, (killed, node, controller, restart, after) in enumerate(kills):
        until = kills[i + 1][0] if i + 1 < len(kills) else end
        first, gap, caught, max_lat = _kill_figures(
            killed, until, arrivals, sent, first_arrival, plan.down_s + 5.0
        )
        reports.append(
            KillReport(
                node=node,
                controller=controller,
                at_s=round(killed - start, 3),
                down_s=plan.down_s,
                restart_s=round(restart, 3),
                first_verdict_s=None if first is None else round(first, 3),
                longest_gap_s=round(gap, 3),
                caught_up_s=None if caught is None else round(caught, 3),
                max_latency_s=None if max_lat is None else round(max_lat, 3),
                controller_after=after,
            )
        )
    return FailureReport(
        requests=len(sent),
        rate=plan.rate,
        load_s=round(load_s, 3),
        verdicts=sum(1 for r in sent if r in verdicts),
        lost=sum(1 for r in sent if r not in verdicts),
        duplicates=sum(len(v) - 1 for v in verdicts.values()),
        not_accepted=sum(1 for v in verdicts.values() if v[0]["outcome"] != "ACCEPT"),
        dead_letters=sum(reasons.values()),
        dead_letter_reasons=dict(reasons),
        conflicting_repeats=sum(
            1 for v in verdicts.values() if len({(c["outcome"], str(c["findings"])) for c in v}) > 1
        ),
        worker_alive=alive,
        worker_ready=ready,
        latency_before_kills_p50_s=round(percentile(early, 0.5), 3),
        latency_p50_s=round(percentile(latencies, 0.5), 3),
        latency_p99_s=round(percentile(latencies, 0.99), 3),
        latency_max_s=round(max(latencies, default=0.0), 3),
        kills=reports,
    )
