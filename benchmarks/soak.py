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
the tables' data, which stays on disk. Its columns from RocksDB's properties (block cache, memtables,
table readers) and glibc's heap (taken, in use, arenas) say what that RSS is made of; ``--tracemalloc``
adds Python's side (slow: hours for a million).

    PYTHONPATH=src python benchmarks/soak.py [--requests 1000000] [--every 50000] [--per-day 50000]
        [--store memory|rocksdb] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import ItemsView, Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

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


class _ScanItems(ItemsView[bytes, bytes]):
    """A table's items read as the worker's store reads them: one iterator, not a get per key."""

    def __init__(self, table: RocksTable) -> None:
        super().__init__(table)
        self.table = table

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self.table.db.items():
            yield cast(bytes, key), cast(bytes, value)  # raw mode: bytes


class RocksTable(MutableMapping[bytes, bytes]):
    """One table in a RocksDB database of its own, with the worker's bounded options (the process's
    block cache and write buffer manager, shared by the three)."""

    def __init__(self, path: Path) -> None:
        import rocksdict

        from crossbound.runtime.tablestore import BoundedOptions

        self.path = path
        self.options = BoundedOptions()
        self.db = rocksdict.Rdict(str(path), self.options.as_options())
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
        # RocksDB iterators read a snapshot: the sweeps delete while they walk
        return cast(Iterator[bytes], self.db.keys())

    def items(self) -> _ScanItems:
        return _ScanItems(self)

    def __len__(self) -> int:
        return self.count

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def prop(self, name: str) -> int:
        """One of RocksDB's integer properties of this database (``rocksdb.`` + ``name``)."""
        return self.db.property_int_value(f"rocksdb.{name}") or 0


class _Mallinfo2(ctypes.Structure):
    _fields_ = [  # glibc's struct mallinfo2, in its order
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost",
        )
    ]  # fmt: skip


def malloc_figures() -> dict[str, Any]:
    """glibc's own account of the C heap: what it took from the system (``heap_mb``: all arenas plus
    mmapped blocks), what of it is in use (``used_mb``), and how many arenas it has (``arenas``: one
    per thread that allocated, up to 8 per core unless ``MALLOC_ARENA_MAX`` says fewer). Empty when
    the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return {}
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    figures: dict[str, Any] = {
        "heap_mb": round((info.arena + info.hblkhd) / 2**20, 1),
        "used_mb": round((info.uordblks + info.hblkhd) / 2**20, 1),
    }
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile("r") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        if stream:
            libc.malloc_info(0, ctypes.c_void_p(stream))
            libc.fclose(ctypes.c_void_p(stream))
            figures["arenas"] = len(re.findall(r"<heap nr=", out.read()))
    return figures


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
    row.update(malloc_figures())
    if tracemalloc.is_tracing():
        row["py_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
    tables: tuple[object, ...] = (h.pending, h.answered, h.usage)
    rocks = [t for t in tables if isinstance(t, RocksTable)]
    if rocks:
        row["disk_mb"] = round(sum(t.disk_bytes() for t in rocks) / 2**20, 1)
        caches = {id(t.options.cache): t.options.cache for t in rocks}.values()  # shared ones once
        row["cache_mb"] = round(sum(c.get_usage() for c in caches) / 2**20, 1)
        row["pinned_mb"] = round(sum(c.get_pinned_usage() for c in caches) / 2**20, 1)
        for column, name in ROCKS_PROPERTIES:
            row[column] = round(sum(t.prop(name) for t in rocks) / 2**20, 1)
    return row


ROCKS_PROPERTIES = (  # the --store rocksdb columns from RocksDB's properties, summed over the databases
    ("memtab_mb", "cur-size-all-mem-tables"),  # the active and unflushed memtables
    ("memtab_all_mb", "size-all-mem-tables"),  # and those flushed but still pinned (by an iterator)
    ("readers_mb", "estimate-table-readers-mem"),  # table readers' index and filters outside the cache
)


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
MALLOC_COLUMNS = (("heap_mb", 7), ("used_mb", 7), ("arenas", 6))
ROCKS_COLUMNS = (
    ("disk_mb", 7),
    ("cache_mb", 8),
    ("pinned_mb", 9),
    ("memtab_mb", 9),
    ("memtab_all_mb", 13),
    ("readers_mb", 10),
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
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace Python's allocations: a py_mb column, and the lines that grew most on stderr",
    )
    args = parser.parse_args()

    tables: dict[str, Any] = {}
    columns: tuple[tuple[str, int], ...] = COLUMNS
    if malloc_figures():
        columns = (*columns, *MALLOC_COLUMNS)
    if args.tracemalloc:
        tracemalloc.start()
        columns = (*columns, ("py_mb", 6))
    if args.store == "rocksdb":
        root = Path(tempfile.mkdtemp(prefix="crossbound-soak-"))
        tables = {name: RocksTable(root / name) for name in ("pending", "answered", "usage")}
        columns = (*columns, *ROCKS_COLUMNS)
    h = Harness.from_dirs(now=START, **tables)
    step = 86_400 / args.per_day
    print("  ".join(f"{name:>{width}}" for name, width in columns), flush=True)
    rows: list[dict[str, Any]] = []
    first: tracemalloc.Snapshot | None = None
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
            print("  ".join(f"{row.get(name, '')!s:>{width}}" for name, width in columns), flush=True)
            if args.tracemalloc and first is None:
                first = tracemalloc.take_snapshot()
    if first is not None:
        own = [tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__)]
        last = tracemalloc.take_snapshot().filter_traces(own)
        changed = sorted(last.compare_to(first.filter_traces(own), "lineno"), key=lambda d: -d.size_diff)
        print("Python allocations grown most since the first row:", *changed[:10], sep="\n ", file=sys.stderr)
    summary = {"store": args.store, "per_day": args.per_day, "population": args.population * args.chunk}
    summary["malloc_arena_max"] = os.environ.get("MALLOC_ARENA_MAX")
    print(json.dumps({**summary, "rows": rows}))


if __name__ == "__main__":
    main()
