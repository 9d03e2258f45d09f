"""The Faust floor: the least a Faust agent shaped like crossbound's can do per record.

Consumes ``<src>`` in batches with ``take_events`` (as crossbound's agents do), writes one entry per
record to a raw, murmur2-partitioned table (as crossbound's dedupe table), and sends the record on to
``<dst>`` through Faust's producer: no decoding, no rules. Run by ``bench.py`` as a worker process,
with the same settings and client workarounds as ``crossbound worker`` on that engine: on Tansu the
Tansu client workarounds and a 3 s session timeout, on Kafka neither (Kafka refuses sessions under 6 s).

``--tuned`` adds the worker's Faust speed-ups (``crossbound.runtime.app.FAUST_SPEEDUPS``, the
consumer loop's included); without it the floor runs on Faust's defaults, the reference the
worker's figures are compared with.

    python benchmarks/faust_floor.py BOOTSTRAP SRC DST APP_ID [--engine tansu|kafka] [--tuned]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

import faust
import uvloop

from crossbound.broker import ENGINES, apply_tansu_workarounds
from crossbound.runtime.app import faust_speedups
from crossbound.runtime.faustloop import LOOP_SPEEDUPS, install_loop_speedups
from crossbound.settings import KafkaSettings


def main(bootstrap: str, src_name: str, dst_name: str, app_id: str, engine: str, tuned: bool) -> None:
    tansu = engine == "tansu"
    if tansu:
        apply_tansu_workarounds()
    # as crossbound.testing.processes.start_worker_process: 3 s on Tansu, the worker's default elsewhere
    session_timeout = 3.0 if tansu else KafkaSettings().session_timeout_s
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        autodiscover=False,
        datadir=f"/tmp/{app_id}-data",
        web_enabled=False,
        topic_partitions=4,
        broker_session_timeout=session_timeout,
        broker_heartbeat_interval=1,
        broker_commit_interval=1.0,
        producer_linger=0.005,
        producer_max_batch_size=262_144,
        table_standby_replicas=0,
        **(faust_speedups(frozenset()) if tuned else {}),
    )
    install_loop_speedups(app, LOOP_SPEEDUPS if tuned else ())
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    src = app.topic(src_name, partitions=4, **raw)
    dst = app.topic(dst_name, partitions=4, **raw)
    table: Any = app.Table("floor", key_type=bytes, value_type=bytes, partitions=4, use_partitioner=True)
    table.key_serializer = "raw"
    table.value_serializer = "raw"

    @app.agent(src)
    async def forward(stream: Any) -> None:
        async for events in stream.take_events(1000, within=0.01):
            for event in events:
                msg = event.message
                table[msg.key] = msg.value
                await app.producer.send(dst.get_topic_name(), msg.key, msg.value, msg.partition, None, None)

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    logging.basicConfig(level="WARNING")
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    for name in ("aiokafka", "faust", "mode"):
        logging.getLogger(name).setLevel("WARNING")
    worker.execute_from_commandline()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("bootstrap", "src", "dst", "app_id"):
        parser.add_argument(name)
    parser.add_argument("--engine", choices=ENGINES, default="tansu")
    parser.add_argument("--tuned", action="store_true", help="with the worker's Faust speed-ups")
    args = parser.parse_args()
    main(args.bootstrap, args.src, args.dst, args.app_id, args.engine, args.tuned)
