"""Faust wiring only: topics, tables, agents and timers, mapped onto a :class:`~crossbound.pipeline.Pipeline`.

The runtime contract (routing, the error policy, the hop records, what the timers do) is the
pipeline's; this module only turns Faust events into :class:`~crossbound.pipeline.Incoming` records,
produces what the pipeline returns, and calls its timers and rebalance hook.

Agents:

* ``validate`` consumes ``hk/sz.requests`` and ``hk/sz.attestations`` as one stream keyed by
  request_id, with the ``pending`` and ``answered`` tables;
* ``quota`` consumes ``<app>.quota`` (requests repartitioned by their limit key: the hop records) with
  the ``quota_usage`` table;
* ``registry`` consumes ``hk/sz.fingerprints`` (the data sources' document fingerprints, keyed by
  digest) into ``fingerprints``, a *global* table: every worker holds all of it, so a request finds
  its document's record on whatever partition the request came (see
  :mod:`crossbound.pipeline.fingerprints` for the choice and its cost).

Both take events in batches (``take_events``): Faust's per-event cost is the bottleneck, and batching
amortises part of it (measured in benchmarks/). Tables place each key by Kafka's murmur2 partitioner
(``use_partitioner``), the same partitioner the inputs are checked against, so a batch, or the sweeper
timer, can change them outside of a single event. Everything an agent produces goes out with
Faust's producer, through a :class:`~crossbound.runtime.sending.Sender`: each batch's outputs are
awaited before the agent takes the next batch (so before Faust acknowledges the batch's offsets), and
an output the producer or broker refuses becomes its input's dead letter (``output_refused``) while
the worker goes on; every output is first checked against its topic's size budget
(:mod:`crossbound.runtime.limits`; ``output_too_large``). A record is never committed before its
outputs, or its dead letter, are written (at-least-once).

``kafka.delivery="exactly_once"`` (experimental, Kafka only) runs Faust with
``processing_guarantee="exactly_once"`` and sends each output with the ``transactional_id`` of its
source event's partition, the transaction Faust commits that event's offset in (a plain
``app.producer.send`` goes to Faust's non-transactional producer, outside every transaction). A timer
verdict (an attestation timeout) has no source event: it goes through the transaction of the input
partition of the request it answers, which is also the partition of its ``pending``/``answered`` keys.
The at_least_once path is unchanged.

With ``audit.enabled`` each agent's and the sweeper's outputs are followed by their audit entries in
the same send batch, the chains' heads go to the ``audit_heads`` table once the batch is settled, and
a timer (and the shutdown) writes the signed checkpoints (:mod:`crossbound.runtime.auditing`).

Faust's own per-event cost is the larger part of a verdict's (benchmarks/faust_profile.py splits a
worker's CPU by package). :data:`FAUST_SPEEDUPS` names the Faust settings this worker changes from
Faust's defaults to cut it, and the patch of Faust's consumer loop (:mod:`crossbound.runtime.faustloop`),
none of which changes what is delivered or committed;
``kafka.faust_stock`` leaves any of them at Faust's default, so benchmarks/faust_tuning.py can measure
what each buys in one run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from time import monotonic, time
from typing import Any

import faust
from faust.sensors.monitor import Monitor

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.broker.topicspec import topic_configs
from crossbound.errors import ConfigError
from crossbound.metrics import Metrics
from crossbound.pipeline import Incoming, Outgoing, Pipeline, Tables
from crossbound.pipeline.budget import OutputLimits
from crossbound.runtime.auditing import WorkerAudit, audit_signers
from crossbound.runtime.eos import (
    commit_dirty_transactions,
    install_commit_of_dirty_transactions,
    install_idempotent_producer,
)
from crossbound.runtime.faustfix import install_delivery_fixes
from crossbound.runtime.faustlogs import install_log_throttle
from crossbound.runtime.faustloop import install_loop_speedups
from crossbound.runtime.hoptimes import hop_times_from_env
from crossbound.runtime.limits import output_limits
from crossbound.runtime.sending import Send, Sender
from crossbound.runtime.settling import Settling
from crossbound.runtime.tablestore import table_store_settings
from crossbound.runtime.worker import Components
from crossbound.settings import Settings
from crossbound.topics import AUDIT_TABLE, REPLICATED_TABLES, TABLES, Topics

__all__ = ["FAUST_SPEEDUPS", "QuietMonitor", "build_app", "faust_credentials", "faust_speedups"]

_RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


class QuietMonitor(Monitor):
    """Faust's Monitor without its per-event bookkeeping (counters, timestamps, deques per message,
    event, send and table access): nothing reads it here (no Faust web server; crossbound's own
    Prometheus metrics count what matters). Rebalance and commit hooks are kept, and so is the one
    stamp Faust itself reads: ``stream_inbound_time``, per partition, which the aiokafka driver's
    stalled-stream check (``stream_processing_timeout``) compares with the fetch position; without it
    that check would log a stalled stream for every partition with a lag."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> dict[str, Any] | None:
        self.stream_inbound_time[tp] = monotonic()
        return None

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: dict[str, Any] | None = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None

    def on_table_del(self, table: Any, key: Any) -> None:
        return None

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None

    def track_tp_end_offset(self, tp: Any, offset: int) -> None:
        return None


#: The worker's Faust settings that differ from Faust's defaults for speed, by name (the names
#: ``kafka.faust_stock`` takes). What each bought: README, "Benchmarks".
FAUST_SPEEDUPS: dict[str, dict[str, Any]] = {
    # no per-event counters, timestamps and deques in Faust's Monitor
    "quiet_monitor": {"Monitor": QuietMonitor},
    # no tasks and asyncio.wait per record in Faust's consumer loop when a delivery need not wait
    # (no settings: a patch, runtime/faustloop.py, installed by build_app)
    "direct_delivery": {},
    # take_events without a drainer task: no sleep(0) and coroutines per event, no wait_first per
    # batch, no wake-up every batch window while idle (a patch too, runtime/fausttake.py)
    "direct_take": {},
    # the producer buffer (table changelog writes) without a settings read per message and a task
    # per message its flush waits for (a patch too, runtime/faustbuffer.py)
    "direct_buffer": {},
}


def faust_speedups(stock: frozenset[str]) -> dict[str, Any]:
    """The ``faust.App`` settings of :data:`FAUST_SPEEDUPS` not named in ``stock``."""
    unknown = sorted(stock - FAUST_SPEEDUPS.keys())
    if unknown:
        raise ConfigError(
            "kafka.faust_stock (CROSSBOUND_KAFKA__FAUST_STOCK) names no Faust speed-up: "
            f"{', '.join(unknown)}; known: {', '.join(FAUST_SPEEDUPS)}"
        )
    chosen: dict[str, Any] = {}
    for name, conf in FAUST_SPEEDUPS.items():
        if name not in stock:
            chosen.update(conf)
    return chosen


def _raw_table(
    app: faust.App, name: str, partitions: int, configs: dict[str, str], *, replicated: bool = False
) -> Any:
    """A table of bytes; ``replicated``: a global table, all of it on every worker.

    A global table has one changelog partition and recovers one record at a time: what Faust's
    GlobalTable needs with several workers, or one can loop in recovery (faust/tables/globaltable.py).
    """
    # Topics.kinds() and changelogs() name the changelog topics the worker prepares
    assert name in (*TABLES, AUDIT_TABLE), name
    assert replicated == (name in REPLICATED_TABLES), name
    recovery: dict[str, Any] = {"recovery_buffer_size": 1} if replicated else {}
    table: Any = (app.GlobalTable if replicated else app.Table)(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=1 if replicated else partitions,
        use_partitioner=True,  # keys placed by murmur2, not by the event's partition
        extra_topic_configs=configs,  # should Faust create the changelog itself (the worker does first)
        **recovery,
    )
    # Faust picks "json" for bytes; our keys and values are already bytes (request ids, Avro records).
    table.key_serializer = "raw"
    table.value_serializer = "raw"
    return table


def _limits(app: faust.App, settings: Settings, topics: Topics, reported: Mapping[str, int]) -> OutputLimits:
    """The output limits of this app's producer and topics (ConfigError if an input cannot fit)."""
    return output_limits(
        topics,
        producer_max=app.conf.producer_max_request_size,
        reported=reported,
        fallback=settings.kafka.max_message_bytes,
        max_record_bytes=settings.pipeline.max_record_bytes,
    )


def _plain_send(app: faust.App) -> Send:
    async def send(out: Outgoing, source: tuple[str, int] | None) -> Any:
        # Straight to Faust's producer (not Topic.send_soon): the same aiokafka producer that Faust
        # flushes before every offset commit, without a FutureMessage and buffer hop per record.
        headers = list(out.headers) or None
        return await app.producer.send(out.topic, out.key, out.value, out.partition, None, headers)

    return send


def _transactional_send(app: faust.App) -> Send:
    """exactly_once: every output in the transaction that commits its source record's offset."""

    async def send(out: Outgoing, source: tuple[str, int] | None) -> Any:
        assert source is not None, "exactly_once: every output has a source partition"
        # the id Faust commits topic/partition's offsets with (faust/transport/consumer.py
        # TransactionManager.commit)
        tid = f"{app.conf.id}-{app.assignor.group_for_topic(source[0])}-{source[1]}"
        headers = list(out.headers) or None
        return await app.producer.send(
            out.topic, out.key, out.value, out.partition, None, headers, transactional_id=tid
        )

    return send


def table_store(settings: Settings) -> dict[str, Any]:
    """Faust's ``store`` and ``datadir`` for ``kafka.table_store`` (:mod:`crossbound.runtime.tablestore`)."""
    return table_store_settings(settings.kafka, settings.pipeline.app_id)


def faust_credentials(security: ClientSecurity) -> faust.types.auth.CredentialsT | None:
    """Faust's ``broker_credentials`` for ``security`` (``None``: plain text)."""
    if security.protocol.startswith("SASL_"):
        password = None if security.password is None else security.password.get_secret_value()
        return faust.SASLCredentials(
            username=security.username,
            password=password,
            ssl_context=security.ssl_context,
            mechanism=security.sasl_mechanism,
        )
    if security.ssl_context is not None:
        return faust.SSLCredentials(security.ssl_context)
    return None


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    """A consumed record's headers as the pipeline takes them (aiokafka gives pairs; a mapping too)."""
    if not raw:
        return ()
    items = raw.items() if isinstance(raw, Mapping) else raw
    return tuple((str(k), bytes(v or b"")) for k, v in items)


def build_app(
    settings: Settings,
    components: Components,
    metrics: Metrics,
    bootstrap: str,
    security: ClientSecurity = PLAINTEXT,
    *,
    message_limits: Mapping[str, int] | None = None,
    on_fatal: Callable[[BaseException], None] | None = None,
) -> faust.App:
    """The Faust app of one worker, with its pipeline over the app's tables; its clients connect with
    ``security`` (TLS, SASL).

    ``message_limits``: each topic's ``max.message.bytes`` as the broker reported it (see
    :mod:`crossbound.runtime.limits`); ``on_fatal``: called with a send error that is not one
    record's fault (see :mod:`crossbound.runtime.sending`) before it is raised.
    """
    pipe, kafka = settings.pipeline, settings.kafka
    topics: Topics = components.topics
    partitions = kafka.partitions
    changelog = settings.topic_settings().changelog
    store = table_store(settings)  # a bad store setting fails before anything is patched
    signers = audit_signers(settings, components.participants, components.signers)  # audit on: keys there
    speedups = faust_speedups(kafka.faust_stock)  # an unknown name fails before anything is patched
    install_delivery_fixes()  # records Faust dropped after aiokafka handed them over (runtime/faustfix.py)
    install_log_throttle()  # Faust's "producer buffer full" lines, one a minute (runtime/faustlogs.py)
    if kafka.delivery == "exactly_once":
        install_commit_of_dirty_transactions()
    elif kafka.idempotence:  # resolved by the worker for its broker (off on Tansu)
        install_idempotent_producer()
    app = faust.App(
        pipe.app_id,
        broker=f"kafka://{bootstrap}",
        broker_credentials=faust_credentials(security),
        autodiscover=False,
        **store,
        web_enabled=False,
        topic_partitions=partitions,
        topic_replication_factor=changelog.replication_factor,  # changelogs and Faust's leader topic
        topic_allow_declare=True,
        broker_session_timeout=kafka.session_timeout_s,
        broker_heartbeat_interval=kafka.heartbeat_interval_s,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        processing_guarantee=kafka.delivery,
        producer_acks=kafka.producer_acks,
        producer_linger=kafka.producer_linger_s,
        producer_max_batch_size=262_144,
        producer_max_request_size=4 * pipe.max_record_bytes,
        consumer_max_fetch_size=8 * 1024 * 1024,
        table_standby_replicas=0,
        worker_redirect_stdouts=False,
        **speedups,
    )
    install_loop_speedups(app, FAUST_SPEEDUPS.keys() - kafka.faust_stock)
    inputs = app.topic(*topics.inputs(), partitions=partitions, **_RAW)
    quota_in = app.topic(topics.quota, partitions=partitions, **_RAW)
    registry_in = app.topic(*topics.registries(), partitions=partitions, **_RAW)
    for name in topics.all():  # declared so Faust knows them; created beforehand by the worker
        app.topic(name, partitions=partitions, **_RAW)
    changelog_configs = topic_configs(changelog)
    pending = _raw_table(app, "pending", partitions, changelog_configs)
    answered = _raw_table(app, "answered", partitions, changelog_configs)
    usage = _raw_table(app, "quota_usage", partitions, changelog_configs)
    fingerprints = _raw_table(app, "fingerprints", partitions, changelog_configs, replicated=True)
    pipeline = Pipeline(
        components.codec,
        components.catalogue,
        metrics,
        topics,
        Tables(pending, answered, usage, fingerprints),
        attestation_timeout_s=pipe.attestation_timeout_s,
        dedupe_retention_s=pipe.dedupe_retention_s,
        partitions=partitions,
        limits=_limits(app, settings, topics, message_limits or {}),
        participants=components.participants,
        signers=components.signers,
    )

    audit = None
    if settings.audit.enabled:
        heads = _raw_table(app, AUDIT_TABLE, partitions, changelog_configs)
        audit = WorkerAudit(
            components.codec, topics, heads, partitions, signers, metrics, pipeline.outputs.limits
        )

    def incoming(event: Any) -> Incoming:
        msg = event.message
        ts = msg.timestamp
        return Incoming(
            msg.topic,
            msg.partition,
            msg.offset,
            msg.key,
            msg.value,
            None if ts is None else int(ts * 1000),
            _headers(msg.headers),
        )

    batch, within = pipe.batch_size, pipe.batch_within_s

    exactly_once = kafka.delivery == "exactly_once"
    send = _transactional_send(app) if exactly_once else _plain_send(app)

    def sender() -> Sender:
        return Sender(send, pipeline, metrics, topics, on_fatal, pipeline.outputs.limits)

    handle = pipeline.handle
    stamps = hop_times_from_env()  # debug only, off by default: per-event times for benchmarks/

    async def run(stream: Any, audited: str | None) -> None:
        # the pipeline's error policy answers every record, the sender every refused output;
        # ``audited``: the audit stream of its decisions (None: the registry's records decide nothing)
        out = sender()
        audit_here = None if audited is None else audit
        if stamps is not None:
            stream.add_processor(stamps.processor(stream))  # runs before take_events' own
        # the audit's heads and exactly_once's transactions follow each batch: settled before the next
        ahead = 0 if audit_here is not None or exactly_once else pipe.settle_ahead
        settling = Settling(ahead) if ahead else None
        try:
            async for events in stream.take_events(batch, within=within):
                sent: list[float] | None = None if stamps is None else []
                yielded = 0.0 if stamps is None else time()
                for event in events:
                    rec = incoming(event)
                    outs = handle(rec)
                    if audit_here is not None and audited is not None:  # each decision's entry, same batch
                        outs = audit_here.of_input(audited, outs, rec, event.message.headers)
                    await out.send(outs, rec)
                    if sent is not None:
                        sent.append(time())
                if settling is not None:  # acknowledged once settled, while the next batches are taken
                    await settling.add(out.detach(), events, _stamped(events, yielded, sent))
                    continue
                await out.settle()  # before the next batch: Faust acknowledges this one's offsets then
                if stamps is not None and sent is not None:
                    stamps.batch(events, yielded, sent, time())
                if audit_here is not None and audited is not None:
                    audit_here.persist(audited)  # acknowledged: the chains' heads may now be saved
            if settling is not None:
                await settling.drain()
        finally:
            if settling is not None:
                settling.cancel()

    def _stamped(events: Any, yielded: float, sent: list[float] | None) -> Callable[[], None] | None:
        if stamps is None or sent is None:
            return None
        return lambda: stamps.batch(events, yielded, sent, time())

    @app.agent(inputs, name="validate")
    async def validate(stream: Any) -> None:
        await run(stream, "in")

    @app.agent(quota_in, name="quota")  # the hop records come back here, at their key's partition
    async def quota(stream: Any) -> None:
        await run(stream, "hop")

    @app.agent(registry_in, name="registry")  # document fingerprints into the global table
    async def registry(stream: Any) -> None:
        await run(stream, None)

    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        metrics.set_ready(False)
        metrics.rebalance()
        if audit is not None and args:
            audit.revoke(tp.partition for tp in args[0])

    async def on_ready(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        pipeline.on_rebalance()  # the tables may hold other partitions now
        metrics.set_ready(True)

    app.on_partitions_revoked.connect(on_revoked)
    app.on_rebalance_complete.connect(on_ready)

    def timed(out: Outgoing, topic: str, partition: int) -> list[Outgoing]:
        return [out] if audit is None else audit.of_timer(out, topic, partition)

    if not exactly_once:
        sweeps = sender()

        @app.timer(interval=pipe.sweep_interval_s)
        async def sweep() -> None:
            for topic, partition, out in pipeline.sweep_sourced():  # sourced: for a refusal's dead letter
                await sweeps.send(timed(out, topic, partition), None, (topic, partition))
            await sweeps.settle()
            if audit is not None:
                audit.persist("timer")

    else:

        @app.timer(interval=pipe.sweep_interval_s)
        async def sweep_in_transactions() -> None:
            # Between a revoke's commit and the new assignment no transaction is open (a send fails
            # with IllegalOperation, or finds no producer for a revoked partition): skip that tick.
            if app.rebalancing or app.unassigned:
                return
            now: set[int] = set()
            for topic, partition, out in pipeline.sweep_sourced():
                await sweeps.send(timed(out, topic, partition), None, (topic, partition))
                now.add(partition)
            await sweeps.settle()
            if audit is not None:
                audit.persist("timer")
            # commit what the sweeper sent (and, a tick later, its buffered table writes) even when
            # no input arrives on those partitions
            await commit_dirty_transactions(app, swept | now)
            swept.clear()
            swept.update(now)

        swept: set[int] = set()
        sweeps = sender()

    if stamps is not None:
        stamps.install_consumer_stamps()
        stamps.install_gc_stamps()
        app.task(stamps.probe)

    @app.timer(interval=max(10.0, pipe.sweep_interval_s))
    async def housekeeping() -> None:
        pipeline.housekeeping()  # forgetting, and the pending gauge (a full scan: not on every sweep)

    if audit is not None:
        _checkpoints(app, audit, settings.audit.checkpoint_interval_s)
    return app


def _checkpoints(app: faust.App, audit: WorkerAudit, interval_s: float) -> None:
    """The audit's signed checkpoints: on a timer, and once more when the worker stops."""

    async def produce(out: Outgoing) -> Any:
        return await (await app.producer.send(out.topic, out.key, out.value, None, None, None))

    @app.timer(interval=interval_s)
    async def audit_checkpoint() -> None:
        await audit.checkpoint(produce)

    async def at_shutdown(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await audit.checkpoint(produce)  # the consumer is stopped: these heads are the last ones

    app.on_before_shutdown.connect(at_shutdown)
