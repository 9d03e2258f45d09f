"""Start a worker: load and check everything first, then run Faust until stopped.

Order of start-up, so that a bad file fails before anything connects:

1. parse every schema (and check every older version against the current one);
2. load and compile every rule file, then the participant registry (``pipeline.participants``), whose
   scenarios must be the rule sets' and which the ``per_institution`` topic layout needs, and with it
   the worker's signing key of each side (``pipeline.signing_key_hk``, ``..._sz``), each one of the
   registry's ``[[platform]]`` keys (:func:`crossbound.signing.platform_signer`);
3. start the embedded Tansu broker when no ``--broker`` is given;
4. create the topics (Faust's table changelogs included) with the settings of their kind, and check
   that existing ones match them (partitions, replication factor, configs); a mismatch fails here;
5. serve ``/metrics``; run the Faust worker, with a watch on the broker beside it
   (:mod:`crossbound.runtime.brokerwatch`): a broker that lost the worker's state (a memory-only
   Tansu restarted, a Kafka formatted anew) stops the worker with :data:`EXIT_BROKER_RESET` (75), not
   ready with the reason and one ERROR line, so that an orchestrator restarts it; the restarted worker
   creates its topics again at step 4.

Between 4 and 5 the worker reads each topic's ``max.message.bytes`` (where the broker reports it) for
its output budget, and fails start-up if an input at ``pipeline.max_record_bytes`` could not be
carried (:mod:`crossbound.runtime.limits`). A send error that is not one record's fault
(:mod:`crossbound.runtime.sending`) stops the worker the same way as a broker reset, with
:data:`EXIT_PRODUCER_FAILED` (69).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NoReturn

from prometheus_client import CollectorRegistry

from crossbound import __version__
from crossbound.broker import EmbeddedBroker, apply_tansu_workarounds, find_tansu_binary, prepare_topics
from crossbound.broker.admin import message_limits
from crossbound.broker.closing import run_closed
from crossbound.broker.security import ClientSecurity
from crossbound.broker.topicspec import topic_specs
from crossbound.codec import Codec, SchemaRegistry
from crossbound.domain import Side
from crossbound.errors import ConfigError
from crossbound.metrics import Metrics
from crossbound.metrics_server import serve_metrics
from crossbound.participants import Registry, load_registry
from crossbound.pipeline.issuers import issuers
from crossbound.rules import Catalogue, load_catalogue
from crossbound.runtime.auditing import audit_signers
from crossbound.runtime.brokerwatch import EXIT_BROKER_RESET, watch_broker
from crossbound.runtime.resets import BrokerReset, ResetDetector
from crossbound.settings import Settings
from crossbound.signing import Signer, platform_signer
from crossbound.topics import Topics

__all__ = [
    "EXIT_BROKER_RESET",
    "EXIT_PRODUCER_FAILED",
    "Components",
    "check_delivery",
    "check_security",
    "for_broker",
    "load_components",
    "on_tansu",
    "run_worker",
    "scenario_sides",
]

log = logging.getLogger(__name__)

EXIT_PRODUCER_FAILED = 69  # EX_UNAVAILABLE: the producer failed for a reason that is not one record's


@dataclass(frozen=True, slots=True)
class Components:
    """What a worker is made of, built once from the settings."""

    codec: Codec
    catalogue: Catalogue
    topics: Topics
    participants: Registry | None = None
    signers: Mapping[str, Signer] = field(default_factory=dict)  # by side (hk, sz), with participants


def scenario_sides(catalogue: Catalogue) -> dict[str, tuple[Side, Side]]:
    """Scenario id -> (requester side, attester side): what a registry's roles are checked against."""
    return {sid: (Side(rs.requester_side), Side(rs.attester_side)) for sid, rs in catalogue.scenarios.items()}


def load_components(settings: Settings, *, signers: bool = True) -> Components:
    """Parse schemas, compile rule sets, read the participant registry and (``signers``) the worker's
    signing keys; raises ConfigError naming the file (and the rule or entry) and the fault."""
    pipe = settings.pipeline
    registry = SchemaRegistry.load(pipe.schemas_dir)
    codec = Codec(registry, max_record_bytes=pipe.max_record_bytes)
    catalogue = load_catalogue(pipe.rulesets_dir, registry, timedelta(seconds=pipe.clock_skew_s))
    participants = None
    if pipe.participants is not None:
        participants = load_registry(pipe.participants, scenario_sides(catalogue))
    elif pipe.topic_layout == "per_institution":
        raise ConfigError(
            "pipeline.topic_layout=per_institution needs the participant registry "
            "(CROSSBOUND_PIPELINE__PARTICIPANTS): its topics are the participants'"
        )
    known = () if participants is None else participants.participants
    keys = tuple((p.side.topic, p.key) for p in known)
    directory = {(p.scheme.value, p.identifier): p.key for p in known}
    issuing = () if participants is None else issuers(participants, catalogue)
    topics = Topics(pipe.topic_prefix, pipe.app_id, pipe.topic_layout, keys, issuing, directory)
    loaded = _signers(settings, participants) if signers else {}
    return Components(codec, catalogue, topics, participants, loaded)


def _signers(settings: Settings, participants: Registry | None) -> dict[str, Signer]:
    """The worker's platform signer of each side: required with a registry, refused without one."""
    pipe = settings.pipeline
    paths = {Side.HK: pipe.signing_key_hk, Side.SZ: pipe.signing_key_sz}
    if participants is None:
        if any(paths.values()):
            raise ConfigError(
                "pipeline.signing_key_hk/_sz need the participant registry "
                "(CROSSBOUND_PIPELINE__PARTICIPANTS): its [[platform]] keys are what institutions "
                "verify the worker's signatures with"
            )
        return {}
    loaded = {}
    for side, path in paths.items():
        if path is None:
            raise ConfigError(
                f"pipeline.participants is set, so signatures are required: pipeline.signing_key_"
                f"{side.topic} (CROSSBOUND_PIPELINE__SIGNING_KEY_{side.value}) must name the worker's "
                f"private key for {side.value}, one of the registry's [[platform]] keys"
            )
        loaded[side.topic] = platform_signer(path, participants, side)
    return loaded


def for_broker(settings: Settings, *, tansu: bool) -> Settings:
    """The settings to use on the broker: on Tansu (one node) replication factor 1 for every topic,
    unless ``kafka.replication_factor`` says otherwise; ``kafka.idempotence`` resolved for it."""
    if tansu and settings.kafka.replication_factor is None:
        settings = settings.single_node()
    idempotence = settings.kafka.idempotent_producer(tansu=tansu)
    return settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"idempotence": idempotence})}
    )


def check_delivery(settings: Settings, *, tansu: bool) -> None:
    """Refuse ``kafka.delivery=exactly_once`` on Tansu (embedded, or ``compat_tansu`` on)."""
    if tansu and settings.kafka.delivery == "exactly_once":
        raise ConfigError(
            "kafka.delivery=exactly_once (--delivery, CROSSBOUND_KAFKA__DELIVERY) needs Kafka "
            "transactions, which Tansu does not have (embedded broker or compat_tansu on): use "
            "at_least_once there, repeats are answered idempotently"
        )


def check_security(settings: Settings) -> None:
    """Refuse TLS or SASL settings with the embedded broker: Tansu speaks plain text, and clients that
    try a TLS handshake or a SASL login there fail without saying why."""
    protocol = settings.kafka.security.protocol
    if settings.kafka.broker is None and protocol != "PLAINTEXT":
        raise ConfigError(
            f"kafka.security.protocol={protocol} needs a --broker (CROSSBOUND_KAFKA__BROKER): the "
            "embedded Tansu broker speaks plain text only"
        )


def on_tansu(settings: Settings) -> bool:
    """Whether the worker talks to Tansu: the embedded broker, or ``compat_tansu`` on."""
    compat = settings.kafka.compat_tansu
    return settings.kafka.broker is None or bool(compat)


class _Halt:
    """What the worker does when its broker lost its state (or, :meth:`producer_failed`, its producer
    failed for a reason that is not one record's): not ready with the reason, the metric, one
    ERROR line, the worker's own resources closed (an embedded broker stopped), and an exit with
    :data:`EXIT_BROKER_RESET` at once: no graceful Faust stop, whose commits and flushes would write
    the old log's offsets and outputs into the empty broker."""

    def __init__(
        self, metrics: Metrics, stack: ExitStack, exit: Callable[[int], NoReturn] = os._exit
    ) -> None:
        self.reason: str | None = None
        self._metrics = metrics
        self._stack = stack
        self._exit = exit

    def __call__(self, reset: BrokerReset) -> None:
        self.reason = f"broker reset: {reset.detail}"
        self._metrics.found_broker_reset(reset.what)
        log.error(
            "the broker lost this worker's state (%s): exiting with code %d so that the worker is "
            "restarted on the broker as it is now; what was in flight must be published again",
            reset.detail,
            EXIT_BROKER_RESET,
        )
        try:
            self._stack.close()
        finally:
            sys.stderr.flush()
            self._exit(EXIT_BROKER_RESET)

    def producer_failed(self, exc: BaseException) -> None:
        """A send failed for a reason that is not one record's (see :mod:`crossbound.runtime.sending`):
        not ready with the reason, one ERROR line, exit with :data:`EXIT_PRODUCER_FAILED` at once (what
        was not committed is processed again by the next process)."""
        self.reason = f"producer failed: {type(exc).__name__}"
        self._metrics.set_ready(False)
        log.error("the producer failed (%s): exiting with code %d", type(exc).__name__, EXIT_PRODUCER_FAILED)
        try:
            self._stack.close()
        finally:
            sys.stderr.flush()
            self._exit(EXIT_PRODUCER_FAILED)


def _quiet_loggers(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for name in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _participants(components: Components) -> str:
    registry = components.participants
    if registry is None:
        return ""
    signing = ", ".join(s.key_id for s in components.signers.values())
    return (
        f", {len(registry.participants)} participants ({registry.path}, {components.topics.layout} "
        f"topics), signatures required, signing as {signing}"
    )


def run_worker(settings: Settings) -> int:
    """Run the production worker in this process until SIGINT/SIGTERM; returns the exit code."""
    import faust

    check_delivery(settings, tansu=on_tansu(settings))  # before anything loads or connects
    check_security(settings)
    components = load_components(settings)
    audit_signers(settings, components.participants, components.signers)  # before anything connects
    _quiet_loggers(settings.log_level)
    with ExitStack() as stack:
        if settings.kafka.broker is None:
            broker = stack.enter_context(EmbeddedBroker(binary=find_tansu_binary(settings.tansu_bin)))
            bootstrap = broker.bootstrap
            print(f"crossbound: embedded Tansu broker on {broker.url}", file=sys.stderr, flush=True)
        else:
            bootstrap = settings.kafka.bootstrap_servers
        security = ClientSecurity.from_settings(settings.kafka.security)
        compat = settings.kafka.compat_tansu
        if compat is None:
            compat = settings.kafka.broker is None
        if compat:
            apply_tansu_workarounds()
        settings = for_broker(settings, tansu=compat or settings.kafka.broker is None)
        specs = topic_specs(components.topics, settings.topic_settings(), settings.kafka.partitions)
        run_closed(prepare_topics(bootstrap, specs, security=security))
        reported = run_closed(message_limits(bootstrap, list(specs), security=security))
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        metrics.set_build_info(__version__)
        for rs in components.catalogue.scenarios.values():
            metrics.set_ruleset_info(rs.scenario_id, rs.version, rs.digest)
        halt = _Halt(metrics, stack)
        if settings.metrics.enabled:
            server = serve_metrics(
                registry, settings.metrics.host, settings.metrics.port, reason=lambda: halt.reason
            )
            stack.callback(server.close)
            print(f"crossbound: metrics on {server.url}", file=sys.stderr, flush=True)
        from crossbound.runtime.app import build_app

        app = build_app(
            settings,
            components,
            metrics,
            bootstrap,
            security,
            message_limits=reported,
            on_fatal=halt.producer_failed,
        )
        topics = components.topics
        detector = ResetDetector(topics.all(), topics.changelogs())
        interval = settings.kafka.reset_check_interval_s

        async def watch() -> None:
            await watch_broker(bootstrap, detector, halt, interval_s=interval, security=security)

        app.task(watch)  # started with the app, in its event loop

        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
            pass
        worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
        _quiet_loggers(settings.log_level)
        print(
            f"crossbound: worker {settings.pipeline.app_id} on {bootstrap} ({security.describe()}), "
            f"{len(components.catalogue.scenarios)} scenarios{_participants(components)}",
            file=sys.stderr,
            flush=True,
        )
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0
