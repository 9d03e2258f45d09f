"""Faust wiring only: topics, tables, agents and the sweeper timer around a :class:`Processor`.

Agents:

* ``validate`` consumes ``hk/sz.requests``, ``hk/sz.attestations`` and ``<app>.control`` as one
  co-partitioned stream keyed by request_id, with the ``pending`` and ``answered`` tables;
* ``quota`` consumes ``<app>.quota`` (requests repartitioned by their limit key) with the
  ``quota_usage`` table.

Everything an agent produces goes out with ``send_soon``; Faust flushes the producer before it commits
offsets, so a record is never committed before its outputs are written (at-least-once).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust

from crossbound.metrics import Metrics
from crossbound.pipeline.processor import Processor
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.settings import Settings
from crossbound.topics import Topics

__all__ = ["build_app"]

log = logging.getLogger(__name__)
_RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


def _raw_table(app: faust.App, name: str, partitions: int) -> Any:
    table = app.Table(name, key_type=bytes, value_type=bytes, partitions=partitions)
    # Faust picks "json" for bytes; our keys and values are already bytes (request ids, Avro records).
    table.key_serializer = "raw"
    table.value_serializer = "raw"
    return table


def build_app(settings: Settings, processor: Processor, metrics: Metrics, bootstrap: str) -> faust.App:
    """The Faust app of one worker."""
    pipe, kafka = settings.pipeline, settings.kafka
    topics: Topics = processor.topics
    partitions = kafka.partitions
    datadir = Path(tempfile.gettempdir()) / f"crossbound-{pipe.app_id}-data"
    app = faust.App(
        pipe.app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        autodiscover=False,
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        broker_session_timeout=kafka.session_timeout_s,
        broker_heartbeat_interval=kafka.heartbeat_interval_s,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        producer_linger=kafka.producer_linger_s,
        producer_max_batch_size=262_144,
        producer_max_request_size=4 * pipe.max_record_bytes,
        consumer_max_fetch_size=8 * 1024 * 1024,
        table_standby_replicas=0,
        worker_redirect_stdouts=False,
    )
    inputs = app.topic(*topics.inputs(), partitions=partitions, **_RAW)
    quota_in = app.topic(topics.quota, partitions=partitions, **_RAW)
    outputs = {name: app.topic(name, partitions=partitions, **_RAW) for name in topics.all()}
    pending = _raw_table(app, "pending", partitions)
    answered = _raw_table(app, "answered", partitions)
    usage = _raw_table(app, "quota_usage", partitions)

    def emit(outs: list[Outgoing]) -> None:
        for out in outs:
            outputs[out.topic].send_soon(
                key=out.key, value=out.value, partition=out.partition, headers=list(out.headers) or None
            )

    def incoming(event: Any) -> Incoming:
        msg = event.message
        ts = msg.timestamp
        return Incoming(msg.topic, msg.partition, msg.offset, msg.key, msg.value, None if ts is None else int(ts * 1000))

    @app.agent(inputs, name="validate")
    async def validate(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            rec = incoming(event)
            try:
                outs = processor.handle(rec, pending, answered)
            except Exception as exc:  # noqa: BLE001  the one policy hook: count, dead-letter, go on
                log.error("internal error on %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, type(exc).__name__)
                outs = processor.internal_error(rec, exc)
            emit(outs)
            yield None

    @app.agent(quota_in, name="quota")
    async def quota(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            rec = incoming(event)
            try:
                outs = processor.on_quota(rec, usage)
            except Exception as exc:  # noqa: BLE001  an internal record we wrote ourselves: a bug
                log.error("internal error on %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, type(exc).__name__)
                outs = []
            emit(outs)
            yield None

    @app.timer(interval=pipe.sweep_interval_s)
    async def sweep() -> None:
        pending_items = list(pending.items())
        emit(list(processor.sweep(pending_items, ())))
        metrics.set_pending(processor.pending_counts(v for _, v in pending_items))

    @app.timer(interval=max(30.0, pipe.sweep_interval_s))
    async def forget() -> None:
        emit(list(processor.sweep((), list(answered.items()))))

    return app
