"""The run behind ``crossbound demo``: broker, topics, a worker process, the simulated institutions
of both sides, and the summary.

Both sides are played through :mod:`crossbound.client`, as institutions would run it
(:class:`~crossbound.testing.institutions.Institutions`): each requester publishes through its
:class:`~crossbound.client.Institution` and awaits its verdict, each data holder answers through its
:class:`~crossbound.client.Attester`. With a participant registry (``pipeline.participants``) they sign
and verify, with the keys ``crossbound registry generate`` wrote beside it, and the worker is given
the registry and the topic layout. The data sources of the fingerprint-mode scenarios first publish
their documents' fingerprints on ``sz.fingerprints`` (:func:`register`); the demo waits until the
worker has taken them in (its ``crossbound_fingerprints_total``), then those scenarios' requests are
answered by lookup with the rest. The operator's :class:`~crossbound.testing.live.LiveBus` sends the
raw bytes no client would and reads the dead letters. :func:`summarise` and :func:`render` are pure:
the summary as one JSON-ready object (``demo --json``) and as the lines people read. A
:class:`Boundary` (``demo --secure``, :mod:`crossbound.cli.demo_secure`) connects each client as its
participant, tries what participants may not do while the worker is up, and checks the audit logs
once it has stopped; its part of the summary is ``trust_boundary``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from crossbound.broker import EmbeddedBroker, apply_tansu_workarounds, find_tansu_binary, prepare_topics
from crossbound.broker.closing import run_closed
from crossbound.broker.net import free_port
from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.broker.topicspec import topic_specs
from crossbound.cli.demo_env import participants_env, security_env
from crossbound.client import Identity
from crossbound.codec import Codec
from crossbound.codec.records import Verdict
from crossbound.errors import CrossboundError
from crossbound.participants import Registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import check_security, for_broker, load_components
from crossbound.settings import Settings
from crossbound.testing.encoding import Keyring, encode_fingerprint
from crossbound.testing.institutions import Institutions
from crossbound.testing.live import LiveBus
from crossbound.testing.processes import start_worker_process, stop_process, wait_until_ready
from crossbound.testing.stats import percentile
from crossbound.testing.traffic import FINGERPRINT_VARIANTS, Case, Traffic, fingerprint_scenarios
from crossbound.topics import Topics

__all__ = [
    "DEMO_TIMEOUT_S",
    "Boundary",
    "DemoResult",
    "register",
    "render",
    "run_demo",
    "simulate",
    "stored_fingerprints",
    "summarise",
]

DEMO_TIMEOUT_S = 3.0  # attestation timeout in the demo, so that "late" cases resolve quickly


class Boundary(Protocol):
    """What a secured demo adds (:class:`crossbound.cli.demo_secure.SecureBoundary`)."""

    def login(self, who: Identity) -> ClientSecurity:
        """How the client playing ``who`` connects: as ``who``."""

    def attempts(
        self, bootstrap: str, topics: Topics, codec: Codec, catalogue: Catalogue
    ) -> list[dict[str, str]]:
        """The forbidden attempts, run while the worker is up, each with how it was refused."""

    def audit(self, bootstrap: str, topics: Topics) -> dict[str, Any]:
        """Both sides' audit logs verified, once the worker has stopped."""

    def summary(self, attempts: list[dict[str, str]], audit: dict[str, Any]) -> dict[str, Any]:
        """The summary's ``trust_boundary`` object."""

    def passed(self, summary: dict[str, Any]) -> bool:
        """Whether the summary shows the boundary held."""

    def render(self, summary: dict[str, Any]) -> Iterator[str]:
        """Its lines of the summary."""


@dataclass
class DemoResult:
    """What the simulated institutions saw: per case key, the verdict or the dead letter."""

    published: int = 0
    started: float = 0.0
    finished: float = 0.0
    cases: dict[bytes, Case] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # verdicts the client refused: their reason
    dead_letters: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        """Requests with an outcome: a verdict (verified or refused) or a dead letter. A request with
        both (its timeout's verdict, then its late answer's dead letter) counts once."""
        return len({*self.verdicts, *self.refused, *self.dead_letters})


async def simulate(
    bootstrap: str,
    topics: Topics,
    codec: Codec,
    catalogue: Catalogue,
    cases: list[Case],
    deadline_s: float,
    rate: float = 0.0,
    security: ClientSecurity = PLAINTEXT,
    registry: Registry | None = None,
    login: Callable[[Identity], ClientSecurity] | None = None,
) -> DemoResult:
    """Publish every case (at ``rate`` per second, or in one burst when 0) through its requester's
    client, let the data holders' clients answer, and collect until each case is answered (a verified
    verdict, a refused one, or a dead letter). Each request is stamped ``created_at`` when it is sent.
    With ``registry``, every client signs and verifies (:mod:`crossbound.testing.institutions`); with
    ``login``, each connects as the participant it plays (the operator's bus as ``security``)."""
    result = DemoResult()
    progress = sys.stderr.isatty()
    clients = Institutions(
        bootstrap, topics, codec, catalogue, cases, security=security, registry=registry, login=login
    )
    # the operator's view: the dead letters, and the raw bytes no institution's client would send
    async with LiveBus(bootstrap, topics, codec, catalogue, security=security, holders=False) as bus, clients:
        outcome = clients.outcome
        waits: list[asyncio.Task[None]] = []
        result.started = time.monotonic()
        for i, case in enumerate(cases):
            if rate > 0:
                delay = result.started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if case.request is None:
                topic, key, value = bus.encode_case(case)
                await bus.send(topic, key, value)
            else:
                key = str(case.request["request_id"]).encode()
                waits.append(asyncio.create_task(clients.run(case, int(time.time() * 1000), deadline_s)))
            result.cases[key] = case
        result.published = len(result.cases)

        def answered() -> int:  # as DemoResult.answered counts them
            dead = {(key or b"").decode() for key, _, _ in bus.dead_letters}
            return len({*outcome.verdicts, *outcome.refused, *dead})

        end = time.monotonic() + deadline_s
        while answered() < len(cases) and time.monotonic() < end:
            if progress:
                print(
                    f"\r  published {result.published}  verdicts {len(outcome.verdicts)}"
                    f"  dead letters {len(bus.dead_letters)}",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
            await asyncio.sleep(0.1)
        result.finished = time.monotonic()
        if progress:
            print(file=sys.stderr)
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        result.verdicts = dict(outcome.verdicts)
        result.refused = dict(outcome.refused)
        result.dead_letters = {(key or b"").decode(): record for key, record, _ in bus.dead_letters}
    return result


async def register(
    bootstrap: str,
    topics: Topics,
    codec: Codec,
    catalogue: Catalogue,
    records: list[dict[str, Any]],
    stored: Callable[[], int],
    timeout_s: float,
    security: ClientSecurity = PLAINTEXT,
    registry: Registry | None = None,
    login: Callable[[Identity], ClientSecurity] | None = None,
) -> None:
    """Publish the data sources' fingerprint ``records`` and wait until ``stored()`` (the worker's count
    of records taken in) reaches their number: a request sent before would not find its record. With
    ``registry``, each is signed as its issuer (the keys beside it, as for the institutions' clients);
    with ``login`` too, each issuer publishes its own, connected as itself (on its own registry topic
    under the per_institution layout's ACLs)."""
    keyring = (
        None if registry is None else Keyring.from_key_dir(registry, Path(registry.path).parent / "keys")
    )
    by_issuer: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        issuer = record["issuer"]
        by_issuer.setdefault((issuer["scheme"], issuer["id"]), []).append(record)
    for (scheme, ident), theirs in by_issuer.items():
        found = None if registry is None or login is None else registry.find(scheme, ident)
        as_who = security if found is None or login is None else login(Identity.of(found))
        # a producer alone: a data source may write its registry topic and read nothing of the bus's
        async with AIOKafkaProducer(bootstrap_servers=bootstrap, **as_who.aiokafka_kwargs()) as producer:
            for record in theirs:
                topic, key, value = encode_fingerprint(record, codec, topics)
                signed = (
                    () if keyring is None else keyring.headers(codec, key, value, int(time.time() * 1000))
                )
                await producer.send(topic, value=value, key=key, headers=list(signed) or None)
            await producer.flush()
    end = time.monotonic() + timeout_s
    while await asyncio.to_thread(stored) < len(records):
        if time.monotonic() > end:
            raise CrossboundError(
                f"the worker took in fewer than {len(records)} fingerprints in {timeout_s} s"
            )
        await asyncio.sleep(0.2)


def stored_fingerprints(metrics_text: str | None) -> int:
    """``crossbound_fingerprints_total{result="stored"}`` over both sides, from a /metrics page."""
    total = 0.0
    for line in (metrics_text or "").splitlines():
        if line.startswith("crossbound_fingerprints_total{") and 'result="stored"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def summarise(
    result: DemoResult,
    metrics_text: str | None,
    rate: float = 0.0,
    attestation_timeout_s: float = DEMO_TIMEOUT_S,
) -> dict[str, Any]:
    """The demo's summary as one JSON-ready object (``attestation_timeout_s``: the worker's)."""
    outcomes: Counter[str] = Counter(v["outcome"] for v in result.verdicts.values())
    reasons: Counter[str] = Counter(d["reason"] for d in result.dead_letters.values())
    by_scenario: dict[str, Counter[str]] = {}
    matched = 0
    for key, case in result.cases.items():
        got = "UNANSWERED"
        verdict = result.verdicts.get(key.decode())
        if verdict is not None:
            got = verdict["outcome"]
        elif key.decode() in result.refused:
            got = "REFUSED"
        elif key.decode() in result.dead_letters:
            got = "DEADLETTER"
        by_scenario.setdefault(case.scenario_id, Counter())[got] += 1
        matched += got == case.expected

    def latency_ms(v: Verdict) -> float:
        return float((v["decided_at"] - v["request_created_at"]).total_seconds() * 1000)

    latencies = [latency_ms(v) for v in result.verdicts.values()]
    answered = [
        latency_ms(v)
        for v in result.verdicts.values()
        if all(f["code"] != "ATTESTATION_TIMEOUT" for f in v["findings"])
    ]
    looked_up = {k.decode() for k, c in result.cases.items() if c.scenario_id in fingerprint_scenarios()}
    by_lookup = [latency_ms(v) for rid, v in result.verdicts.items() if rid in looked_up]
    elapsed = max(1e-9, result.finished - result.started)
    summary: dict[str, Any] = {
        "published": result.published,
        "verdicts": {o: outcomes.get(o, 0) for o in ("ACCEPT", "REVIEW", "REJECT")},
        "dead_letters": len(result.dead_letters),
        "dead_letter_reasons": dict(sorted(reasons.items())),
        "verdicts_refused": dict(sorted(Counter(result.refused.values()).items())),
        "unanswered": result.published - result.answered,
        "by_scenario": {s: dict(sorted(c.items())) for s, c in sorted(by_scenario.items())},
        "expected_matched": matched,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.5), 1),
            "p99": round(percentile(latencies, 0.99), 1),
        },
        "latency_ms_without_timeouts": {
            "p50": round(percentile(answered, 0.5), 1),
            "p99": round(percentile(answered, 0.99), 1),
        },
        "latency_ms_by_fingerprint_lookup": {
            "p50": round(percentile(by_lookup, 0.5), 1),
            "p99": round(percentile(by_lookup, 0.99), 1),
        },
        "throughput_per_s": round(result.answered / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "attestation_timeout_s": attestation_timeout_s,
        "rate_per_s": rate or None,
    }
    if metrics_text is not None:
        total = 0.0
        for line in metrics_text.splitlines():
            if line.startswith("crossbound_verdicts_total{"):
                total += float(line.rsplit(" ", 1)[1])
        summary["metrics_verdicts_total"] = int(total)
        summary["fingerprints_stored"] = stored_fingerprints(metrics_text)
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
    if summary["verdicts_refused"]:
        yield "verdicts the institutions refused (not the platform's): " + ", ".join(
            f"{k} {n}" for k, n in summary["verdicts_refused"].items()
        )
    lat = summary["latency_ms"]
    yield (
        f"latency (request created -> verdict) p50 {lat['p50']} ms, p99 {lat['p99']} ms; "
        f"without the late cases (they wait the {summary['attestation_timeout_s']:g} s attestation timeout) "
        f"p50 {summary['latency_ms_without_timeouts']['p50']} ms, "
        f"p99 {summary['latency_ms_without_timeouts']['p99']} ms"
    )
    fp = summary["latency_ms_by_fingerprint_lookup"]
    yield f"latency of the requests answered by fingerprint lookup p50 {fp['p50']} ms, p99 {fp['p99']} ms"
    paced = f"published at {summary['rate_per_s']:g}/s" if summary["rate_per_s"] else "published in one burst"
    yield f"throughput {summary['throughput_per_s']} results/s over {summary['elapsed_s']} s ({paced})"
    yield f"outcomes as the simulation intended: {summary['expected_matched']}/{summary['published']}"
    if "metrics_verdicts_total" in summary:
        yield f"crossbound_verdicts_total on /metrics: {summary['metrics_verdicts_total']}"
        yield (
            f"fingerprints the data sources registered: {summary['fingerprints_stored']} "
            "(the *_fingerprint scenarios are answered by lookup, with no attestation round trip)"
        )


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310  our own loopback endpoint
            return str(resp.read().decode())
    except OSError:
        return None


def run_demo(
    settings: Settings,
    *,
    count: int,
    as_json: bool,
    keep_running: bool,
    seed: int,
    rate: float = 0.0,
    boundary: Boundary | None = None,
    attestation_timeout_s: float = DEMO_TIMEOUT_S,
) -> int:
    """Run the demo; exit code 0 when every record was answered as intended (and, with ``boundary``,
    when it held)."""
    if count < 1:
        raise CrossboundError("--count must be at least 1")
    check_security(settings)
    components = load_components(settings)  # the worker's codec, rule sets, topics and registry
    codec, catalogue, topics = components.codec, components.catalogue, components.topics
    say = (lambda msg: print(msg, file=sys.stderr)) if as_json else print
    with contextlib.ExitStack() as stack:
        if settings.kafka.broker is None:
            broker = stack.enter_context(EmbeddedBroker(binary=find_tansu_binary(settings.tansu_bin)))
            url, bootstrap = broker.url, broker.bootstrap
            apply_tansu_workarounds()  # the simulated institutions' consumers talk to Tansu too
        else:
            url, bootstrap = settings.kafka.broker, settings.kafka.bootstrap_servers
            if settings.kafka.compat_tansu:
                apply_tansu_workarounds()
        say(f"crossbound demo: broker {url}")
        tansu = settings.kafka.broker is None or bool(settings.kafka.compat_tansu)
        settings = for_broker(settings, tansu=tansu)  # Tansu is one node: replication factor 1
        specs = topic_specs(topics, settings.topic_settings(), settings.kafka.partitions)
        security = ClientSecurity.from_settings(settings.kafka.security)
        run_closed(prepare_topics(bootstrap, specs, security=security))
        rf = settings.kafka.replication_factor
        replication = [] if rf is None else ["--replication-factor", str(rf)]
        log_dir = Path(tempfile.mkdtemp(prefix="crossbound-demo-"))
        port = free_port(settings.metrics.port)
        worker = start_worker_process(
            url,
            metrics_port=port,
            log_path=log_dir / "worker.log",
            tansu=tansu,
            extra=[
                "--attestation-timeout",
                str(attestation_timeout_s),
                "--partitions",
                str(settings.kafka.partitions),
                *replication,
                *("--app-id", settings.pipeline.app_id, "--topic-prefix", settings.pipeline.topic_prefix),
                *("--schemas", str(settings.pipeline.schemas_dir)),
                *("--rulesets", str(settings.pipeline.rulesets_dir)),
            ],
            # the worker then sees the broker as the demo does (a --broker is Kafka unless told otherwise)
            env={
                "CROSSBOUND_KAFKA__COMPAT_TANSU": "true" if tansu else "false",
                **security_env(settings),
                **participants_env(settings),
            },
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
        traffic = Traffic(seed=seed)
        kinds = [(s, v) for s in fingerprint_scenarios() for v in FINGERPRINT_VARIANTS][:count]
        cases = list(traffic.mix(count - len(kinds)))  # --count is every request: the mix, then these
        registered = [traffic.fingerprint_case(s, v) for s, v in kinds]
        records = [record for case in registered for record in case.fingerprints]
        say(f"crossbound demo: the data sources publish {len(records)} document fingerprints")
        run_closed(
            register(
                bootstrap,
                topics,
                codec,
                catalogue,
                records,
                lambda: stored_fingerprints(_fetch(metrics_url)),
                timeout_s=60.0,
                security=security,
                registry=components.participants,
                login=None if boundary is None else boundary.login,
            )
        )
        cases += registered
        say(f"crossbound demo: publishing {count} requests across {len(catalogue.scenarios)} scenarios")
        result = run_closed(
            simulate(
                bootstrap,
                topics,
                codec,
                catalogue,
                cases,
                deadline_s=60.0 + count / 50,
                rate=rate,
                security=security,
                registry=components.participants,
                login=None if boundary is None else boundary.login,
            )
        )
        attempts = [] if boundary is None else boundary.attempts(bootstrap, topics, codec, catalogue)
        if worker.poll() is not None:
            tail = (log_dir / "worker.log").read_text(errors="replace")[-3000:]
            raise CrossboundError(f"the worker exited with code {worker.returncode}:\n{tail}")
        summary = summarise(result, _fetch(metrics_url), rate, attestation_timeout_s)
        if boundary is not None:
            stop_process(worker)  # a clean stop: the audit's last checkpoints
            say("crossbound demo: worker stopped; exporting and verifying both audit logs")
            summary["trust_boundary"] = boundary.summary(attempts, boundary.audit(bootstrap, topics))
        if as_json:
            print(json.dumps(summary, sort_keys=True))
        else:
            for line in render(summary):
                print(line)
            for line in [] if boundary is None else boundary.render(summary):
                print(line)
        if keep_running:
            say(f"pipeline up: broker {url}, metrics {metrics_url}; Ctrl-C to stop")
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    ok = summary["unanswered"] == 0 and summary["expected_matched"] == summary["published"]
    return 0 if ok and (boundary is None or boundary.passed(summary)) else 1
