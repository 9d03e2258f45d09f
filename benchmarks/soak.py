"""Soak: many requests through the pipeline and its tables with a simulated clock; memory at intervals.

The traffic is every scenario's mix (:meth:`crossbound.testing.traffic.Traffic.mix`: valid, review,
invalid, mismatch, late, undecodable), stateful scenarios included, sent through
:class:`crossbound.testing.Harness` (the worker's :class:`~crossbound.pipeline.Pipeline` over dicts
for its Faust tables, without a broker). The clock advances ``86400 / --per-day`` seconds per
request and the worker's timers run after each one, so attestation timeouts fire, answered ids are
forgotten and ledgers pass their day windows; the run starts a few days before a new year (UTC+8), so
year windows pass too.

The people, accounts and documents come from a bounded population (``--population`` seeds of
``--chunk`` cases each, drawn again in turn with fresh request ids and times), as a real platform's
customers come back: a limit keyed by a person then holds one key per person for its window, and the
tables are flat once every retention and window is full. Fresh identities for every request would grow
``quota_usage`` by design (a year limit keeps each person's key for the year; ``window = "all"``
repeat checks for ever: README, Known limits).

Every ``--every`` requests the script prints the process RSS, each table's entries and bytes (keys plus
values), and the pipeline's in-process caches (the parked requests' decoded forms, the ids answered
here). The last line is one JSON object. The harness's list of what was published is cleared as it
goes (it is the test driver's, not the worker's).

``--store rocksdb`` keeps the three tables in RocksDB databases (rocksdict, with the worker's bounded
options of :mod:`crossbound.runtime.tablestore`) in a temporary directory, as ``kafka.table_store=rocksdb``
does, and adds the databases' size on disk to each row: RSS then shows what the process holds besides
the tables' data, which stays on disk.

    PYTHONPATH=src python benchmarks/soak.py [--requests 1000000] [--every 50000] [--per-day 50000]
        [--store memory|rocksdb]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from crossbound.testing import Harness
from crossbound.testing.traffic import Case, Traffic

START = datetime(2026, 12, 27, 16, 0, tzinfo=UTC).timestamp()  # 2026-12-28 00:00 in UTC+8


def cases(population: int, chunk: int, clock: Harness) -> Iterator[Case]:
    """Endless cases from ``population`` seeds in turn, each drawn at the clock's time, new request ids."""
    serial = 0
    while True:
        for seed in range(population):
            for case in Traffic(seed=seed, now=clock.now).mix(chunk):
                serial += 1
                rid = str(uuid.UUID(int=serial, version=4))
                if case.request is not None:
                    case.request["request_id"] = rid
                if case.attestation is not None:
                    case.attestation["request_id"] = rid
                yield case


def send(h: Harness, case: Case) -> None:
    """One case as its institutions send it: the request (or raw bytes), then the attestation, if any."""
    if case.request is None:
        h.send(h.topics.requests(case.requester_side.lower()), case.key, case.raw)
    else:
        h.send_request(case.request)
    if case.attestation is not None:
        h.send_attestation(case.attestation)


class RocksTable(MutableMapping[bytes, bytes]):
    """One table in a RocksDB database of its own, with the worker's bounded options."""

    def __init__(self, path: Path) -> None:
        import rocksdict

        from crossbound.runtime.tablestore import BoundedOptions

        self.path = path
        self.db = rocksdict.Rdict(str(path), BoundedOptions().as_options())
        self.count = 0  # kept as it goes (a fresh database): a RocksDB count is a full scan

    def __getitem__(self, key: bytes) -> bytes:
        value = self.db.get(key)
        if value is None:
            raise KeyError(key)
        return bytes(value)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        if key not in self.db:
            self.count += 1
        self.db[key] = value

    def __delitem__(self, key: bytes) -> None:
        if key not in self.db:
            raise KeyError(key)
        del self.db[key]
        self.count -= 1

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and key in self.db

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.db.keys())  # RocksDB iterators read a snapshot: the sweeps delete while they walk

    def __len__(self) -> int:
        return self.count

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def _size(table: MutableMapping[bytes, bytes]) -> int:
    return sum(len(k) + len(v) for k, v in table.items())


def sample(h: Harness, done: int, started: float) -> dict[str, Any]:
    """The figures of one interval row."""
    day = datetime.fromtimestamp(h.now + 8 * 3600, UTC).strftime("%Y-%m-%d")
    row: dict[str, Any] = {
        "requests": done,
        "day": day,
        "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
        "cpu_s": round(time.process_time() - started, 1),
    }
    for name, table in (("pending", h.pending), ("answered", h.answered), ("usage", h.usage)):
        row[name] = len(table)
        row[f"{name}_kb"] = round(_size(table) / 1024)
    row["parked_cache"] = len(h.pipeline.pending.cache)
    row["done_here"] = len(h.pipeline.answered.done_here)
    if isinstance(h.usage, RocksTable):
        disk = sum(t.disk_bytes() for t in (h.pending, h.answered, h.usage) if isinstance(t, RocksTable))
        row["disk_mb"] = round(disk / 2**20, 1)
    return row


COLUMNS = (
    ("requests", 9),
    ("day", 10),
    ("rss_mb", 7),
    ("cpu_s", 7),
    ("pending", 7),
    ("pending_kb", 10),
    ("answered", 8),
    ("answered_kb", 11),
    ("usage", 7),
    ("usage_kb", 8),
    ("parked_cache", 12),
    ("done_here", 9),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000, help="requests in all")
    parser.add_argument("--every", type=int, default=50_000, help="requests between two rows")
    parser.add_argument("--per-day", type=int, default=50_000, help="requests per simulated day")
    parser.add_argument("--population", type=int, default=100, help="traffic seeds drawn in turn")
    parser.add_argument("--chunk", type=int, default=500, help="cases per seed")
    parser.add_argument(
        "--store", choices=("memory", "rocksdb"), default="memory", help="where the tables live"
    )
    args = parser.parse_args()

    tables: dict[str, Any] = {}
    columns = COLUMNS
    if args.store == "rocksdb":
        root = Path(tempfile.mkdtemp(prefix="crossbound-soak-"))
        tables = {name: RocksTable(root / name) for name in ("pending", "answered", "usage")}
        columns = (*COLUMNS, ("disk_mb", 7))
    h = Harness.from_dirs(now=START, **tables)
    step = 86_400 / args.per_day
    print("  ".join(f"{name:>{width}}" for name, width in columns), flush=True)
    rows: list[dict[str, Any]] = []
    started = time.process_time()
    source = cases(args.population, args.chunk, h)
    for done in range(1, args.requests + 1):
        send(h, next(source))
        h.advance(step)  # the worker's timers: timeouts, forgetting, the ledger sweep
        h.published.clear()
        h.internal.clear()
        if done % args.every == 0 or done == args.requests:
            row = sample(h, done, started)
            rows.append(row)
            print("  ".join(f"{row[name]!s:>{width}}" for name, width in columns), flush=True)
    summary = {"store": args.store, "per_day": args.per_day, "population": args.population * args.chunk}
    print(json.dumps({**summary, "rows": rows}))


if __name__ == "__main__":
    main()
