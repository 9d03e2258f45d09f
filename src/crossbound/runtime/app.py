"""Faust wiring only: topics, tables, agents and timers, mapped onto a :class:`~crossbound.pipeline.Pipeline`.

The runtime contract (routing, the error policy, the hop records, what the timers do) is the
pipeline's; this module only turns Faust events into :class:`~crossbound.pipeline.Incoming` records,
produces what the pipeline returns, and calls its timers and rebalance hook.

Agents:

* ``validate`` consumes ``hk/sz.requests`` and ``hk/sz.attestations`` as one stream keyed by
  request_id, with the ``pending`` and ``answered`` tables;
* ``quota`` consumes ``<app>.quota`` (requests repartitioned by their limit key: the hop records) with
  the ``quota_usage`` table.

Both take events in batches (``take_events``): Faust's per-event cost is the bottleneck, and batching
amortises part of it (measured in benchmarks/). Tables place each key by Kafka's murmur2 partitioner
(``use_partitioner``), the same partitioner the inputs are checked against, so a batch, or the sweeper
timer, can change them outside of a single event. Everything an agent produces goes out with
Faust's producer; Faust flushes the producer before it commits offsets, so a record is never committed
before its outputs are written (at-least-once).

``kafka.delivery="exactly_once"`` (experimental, Kafka only) runs Faust with
``processing_guarantee="exactly_once"`` and sends each output with the ``transactional_id`` of its
source event's partition, the transaction Faust commits that event's offset in (a plain
``app.producer.send`` goes to Faust's non-transactional producer, outside every transaction). A timer
verdict (an attestation timeout) has no source event: it goes through the transaction of the input
partition of the request it answers, which is also the partition of its ``pending``/``answered`` keys.
The at_least_once path is unchanged.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import faust

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.broker.topicspec import topic_configs
from crossbound.metrics import Metrics
from crossbound.pipeline import Incoming, Outgoing, Pipeline, Tables
from crossbound.runtime.eos import (
    commit_dirty_transactions,
    install_commit_of_dirty_transactions,
    install_idempotent_producer,
)
from crossbound.runtime.faustfix import install_delivery_fixes
from crossbound.runtime.worker import Components
from crossbound.settings import Settings
from crossbound.topics import TABLES, Topics

__all__ = ["build_app", "faust_credentials"]

_RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def _raw_table(app: faust.App, name: str, partitions: int, configs: dict[str, str]) -> Any:
    assert name in TABLES, name  # Topics.changelogs() names the changelog topics the worker prepares
    table: Any = app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
        use_partitioner=True,
        extra_topic_configs=configs,  # should Faust create the changelog itself (the worker does first)
    )
    # Faust picks "json" for bytes; our keys and values are already bytes (request ids, Avro records).
    table.key_serializer = "raw"
    table.value_serializer = "raw"
    return table


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


def build_app(
    settings: Settings,
    components: Components,
    metrics: Metrics,
    bootstrap: str,
    security: ClientSecurity = PLAINTEXT,
) -> faust.App:
    """The Faust app of one worker, with its pipeline over the app's tables; its clients connect with
    ``security`` (TLS, SASL)."""
    pipe, kafka = settings.pipeline, settings.kafka
    topics: Topics = components.topics
    partitions = kafka.partitions
    changelog = settings.topic_settings().changelog
    datadir = Path(tempfile.gettempdir()) / f"crossbound-{pipe.app_id}-data"
    install_delivery_fixes()  # records Faust dropped after aiokafka handed them over (runtime/faustfix.py)
    if kafka.delivery == "exactly_once":
        install_commit_of_dirty_transactions()
    elif kafka.idempotence:  # resolved by the worker for its broker (off on Tansu)
        install_idempotent_producer()
    app = faust.App(
        pipe.app_id,
        broker=f"kafka://{bootstrap}",
        broker_credentials=faust_credentials(security),
        store="memory://",
        autodiscover=False,
        datadir=str(datadir),
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
    )
    inputs = app.topic(*topics.inputs(), partitions=partitions, **_RAW)
    quota_in = app.topic(topics.quota, partitions=partitions, **_RAW)
    for name in topics.all():  # declared so Faust knows them; created beforehand by the worker
        app.topic(name, partitions=partitions, **_RAW)
    changelog_configs = topic_configs(changelog)
    pending = _raw_table(app, "pending", partitions, changelog_configs)
    answered = _raw_table(app, "answered", partitions, changelog_configs)
    usage = _raw_table(app, "quota_usage", partitions, changelog_configs)
    pipeline = Pipeline(
        components.codec,
        components.catalogue,
        metrics,
        topics,
        Tables(pending, answered, usage),
        attestation_timeout_s=pipe.attestation_timeout_s,
        dedupe_retention_s=pipe.dedupe_retention_s,
        partitions=partitions,
    )

    async def emit(outs: list[Outgoing]) -> None:
        # Straight to Faust's producer (not Topic.send_soon): the same aiokafka producer that Faust
        # flushes before every offset commit, without a FutureMessage and buffer hop per record.
        send = app.producer.send
        for out in outs:
            await send(out.topic, out.key, out.value, out.partition, None, list(out.headers) or None)

    def incoming(event: Any) -> Incoming:
        msg = event.message
        ts = msg.timestamp
        return Incoming(
            msg.topic, msg.partition, msg.offset, msg.key, msg.value, None if ts is None else int(ts * 1000)
        )

    batch, within = pipe.batch_size, pipe.batch_within_s

    exactly_once = kafka.delivery == "exactly_once"

    def transactional_id(topic: str, partition: int) -> str:
        # the id Faust commits topic/partition's offsets with (faust/transport/consumer.py
        # TransactionManager.commit)
        return f"{app.conf.id}-{app.assignor.group_for_topic(topic)}-{partition}"

    async def emit_in_transaction(outs: list[Outgoing], topic: str, partition: int) -> None:
        if not outs:
            return
        send, tid = app.producer.send, transactional_id(topic, partition)
        for out in outs:
            headers = list(out.headers) or None
            await send(out.topic, out.key, out.value, out.partition, None, headers, transactional_id=tid)

    async def emit_for_source(outs: list[Outgoing], rec: Incoming) -> None:
        """exactly_once: every output in the transaction that commits its source record's offset."""
        await emit_in_transaction(outs, rec.topic, rec.partition)

    async def emit_plain(outs: list[Outgoing], rec: Incoming) -> None:
        await emit(outs)

    emit_outputs = emit_for_source if exactly_once else emit_plain

    handle = pipeline.handle

    async def run(stream: Any) -> None:
        # the pipeline's error policy answers every record: nothing to catch here
        async for events in stream.take_events(batch, within=within):
            for event in events:
                rec = incoming(event)
                await emit_outputs(handle(rec), rec)

    @app.agent(inputs, name="validate")
    async def validate(stream: Any) -> None:
        await run(stream)

    @app.agent(quota_in, name="quota")  # the hop records come back here, at their key's partition
    async def quota(stream: Any) -> None:
        await run(stream)

    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        metrics.set_ready(False)
        metrics.rebalance()

    async def on_ready(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        pipeline.on_rebalance()  # the tables may hold other partitions now
        metrics.set_ready(True)

    app.on_partitions_revoked.connect(on_revoked)
    app.on_rebalance_complete.connect(on_ready)

    if not exactly_once:

        @app.timer(interval=pipe.sweep_interval_s)
        async def sweep() -> None:
            await emit(pipeline.sweep())

    else:

        @app.timer(interval=pipe.sweep_interval_s)
        async def sweep_in_transactions() -> None:
            # Between a revoke's commit and the new assignment no transaction is open (a send fails
            # with IllegalOperation, or finds no producer for a revoked partition): skip that tick.
            if app.rebalancing or app.unassigned:
                return
            now: set[int] = set()
            for topic, partition, out in pipeline.sweep_sourced():
                await emit_in_transaction([out], topic, partition)
                now.add(partition)
            # commit what the sweeper sent (and, a tick later, its buffered table writes) even when
            # no input arrives on those partitions
            await commit_dirty_transactions(app, swept | now)
            swept.clear()
            swept.update(now)

        swept: set[int] = set()

    @app.timer(interval=max(10.0, pipe.sweep_interval_s))
    async def housekeeping() -> None:
        pipeline.housekeeping()  # forgetting, and the pending gauge (a full scan: not on every sweep)

    return app
