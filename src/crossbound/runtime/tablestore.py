"""Where the worker's tables live: Faust's memory store, or RocksDB on disk (``kafka.table_store``).

``memory`` (the default) keeps every table in the process: a restart reads each changelog from its
start, and memory grows with the keys the tables hold. ``rocksdb`` keeps them in one RocksDB database
per table partition under ``kafka.data_dir`` (through ``rocksdict``, the maintained binding Faust
supports: ``pip install 'crossbound[rocksdb]'``), with the changelog offset each database has
applied, so a worker restarted on the same disk reads only the changelog records written after that
offset, and what the process holds in memory is bounded by the options below, not by the keys.

Faust's RocksDB store puts a written key in the database of the *current event's* partition, and
fails outside an event. The worker's tables place keys by Kafka's partitioner instead
(``use_partitioner``), and its timers write them (attestation timeouts, forgetting), so
:class:`PartitionedStore` puts each key in the database of its murmur2 partition, the partition its
changelog record goes to: a database and its changelog partition hold the same keys, and the
database's applied offset is that partition's.
"""

from __future__ import annotations

import functools
import importlib.util
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from faust import stores
from faust.stores.rocksdb import RocksDBOptions, Store

from crossbound.errors import ConfigError
from crossbound.pipeline.partitioner import partition_for
from crossbound.settings import KafkaSettings

__all__ = ["SCHEME", "PartitionedStore", "shared_memory", "table_store_settings"]

SCHEME = "crossbound-rocksdb"
CACHE_BYTES = 48 * 2**20  # the process's one block cache: every table's databases share it
MEMTABLE_BYTES = 16 * 2**20  # all databases' write buffers together, reserved in that cache
WRITE_BUFFER_BYTES = 4 * 2**20  # per database, at most two of them (Faust's default: 64 MiB, three)
MAX_OPEN_FILES = 256  # per database: open files hold their index in memory


@functools.cache
def shared_memory() -> tuple[Any, Any]:
    """The process's block cache and the write buffer manager that reserves the memtables in it.

    Made on first use (not at import), once for the process: what RocksDB holds in memory is then
    :data:`CACHE_BYTES` in all, whatever the number of tables and partitions (with a cache per table
    and two write buffers per database, the bound grew with both, and each cache keeps the dead blocks
    of compacted files until it is full).
    """
    import rocksdict

    cache = rocksdict.Cache(CACHE_BYTES)
    manager = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(MEMTABLE_BYTES, False, cache)
    return cache, manager


class BoundedOptions(RocksDBOptions):
    """RocksDB options whose memory does not grow with the data: the process's one block cache, which
    also holds the files' index and filter blocks and reserves the memtables' memory, small write
    buffers (Faust's defaults reserve 2 GiB of block cache and 192 MiB of write buffers per database,
    and keep index blocks outside the cache)."""

    def __init__(self) -> None:
        super().__init__(
            max_open_files=MAX_OPEN_FILES,
            write_buffer_size=WRITE_BUFFER_BYTES,
            max_write_buffer_number=2,
            use_rocksdict=True,
        )
        import rocksdict

        self._rocksdict = rocksdict
        self.cache, self.write_buffers = shared_memory()

    def as_options(self) -> Any:
        rd = self._rocksdict
        options = rd.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_max_open_files(self.max_open_files)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_write_buffer_manager(self.write_buffers)
        options.set_target_file_size_base(self.target_file_size_base)
        table = rd.BlockBasedOptions()
        table.set_bloom_filter(10, True)
        table.set_block_cache(self.cache)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        options.set_block_based_table_factory(table)
        return options


class PartitionedStore(Store):
    """Faust's RocksDB store (rocksdict), each key in the database of its murmur2 partition."""

    def __init__(self, url: Any, app: Any, table: Any, **kwargs: Any) -> None:
        super().__init__(url, app, table, driver="rocksdict", **kwargs)
        self.rocksdb_options = BoundedOptions()
        self.partitions: int = table.partitions or app.conf.topic_partitions  # the worker sets both

    def _set(self, key: bytes, value: bytes | None) -> None:
        partition = partition_for(key, self.partitions)
        self._key_index[key] = partition
        self._db_for_partition(partition).put(key, value)

    def _visible_keys(self, db: Any) -> Iterator[bytes]:
        # Faust's opens and seeks a second iterator that it never reads, on every scan. The scans
        # fill the cache: they walk small, hot tables (pending, once a second) or the keys the
        # ledger's reads need next (the daily usage scan); read around the cache, a soak cost 21 %
        # more CPU for 1.7 MB less cache (README, Soak)
        for key in db.keys():  # noqa: SIM118  an Rdict, not a dict
            if key != self.offset_key:
                yield key


def table_store_settings(kafka: KafkaSettings, app_id: str) -> dict[str, Any]:
    """The ``faust.App`` settings (``store``, ``datadir``) of ``kafka.table_store``.

    Fails with a :class:`ConfigError` when the store cannot be used: rocksdict not installed, or a
    data directory that cannot be created or written.
    """
    if kafka.table_store == "memory":
        datadir = kafka.data_dir or Path(tempfile.gettempdir()) / f"crossbound-{app_id}-data"
        return {"store": "memory://", "datadir": str(datadir)}
    if importlib.util.find_spec("rocksdict") is None:
        raise ConfigError(
            "kafka.table_store=rocksdb (CROSSBOUND_KAFKA__TABLE_STORE) needs the rocksdict package: "
            "pip install 'crossbound[rocksdb]'"
        )
    assert kafka.data_dir is not None  # KafkaSettings requires it with rocksdb
    datadir = kafka.data_dir
    try:
        datadir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=datadir):
            pass
    except OSError as exc:
        raise ConfigError(
            f"kafka.data_dir (CROSSBOUND_KAFKA__DATA_DIR) {datadir}: cannot write there "
            f"({exc.strerror or type(exc).__name__})"
        ) from exc
    stores.STORES.aliases.setdefault(SCHEME, f"{__name__}:PartitionedStore")
    return {"store": f"{SCHEME}://", "datadir": str(datadir)}
