"""The table store setting: memory or RocksDB on disk, each key in its partition's database, bad values."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest
from faust.stores.rocksdb import Store
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from crossbound.errors import ConfigError
from crossbound.metrics import Metrics
from crossbound.pipeline.partitioner import partition_for
from crossbound.runtime import tablestore
from crossbound.runtime.app import build_app
from crossbound.runtime.tablestore import (
    CACHE_BYTES,
    MEMTABLE_BYTES,
    PartitionedStore,
    shared_memory,
    table_store_settings,
)
from crossbound.runtime.worker import load_components
from crossbound.settings import KafkaSettings, Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CROSSBOUND_"):
            monkeypatch.delenv(name)


def _app(settings: Settings) -> Any:
    return build_app(settings, load_components(settings), Metrics(CollectorRegistry()), "127.0.0.1:1")


def _rocks(data_dir: Path, app_id: str = "cbrocks") -> Any:
    return _app(Settings(pipeline={"app_id": app_id}, kafka={"table_store": "rocksdb", "data_dir": data_dir}))


def test_memory_is_the_default_and_rocksdb_is_chosen_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings().kafka.table_store == "memory"
    assert _app(Settings(pipeline={"app_id": "cbmem"})).conf.store.scheme == "memory"
    monkeypatch.setenv("CROSSBOUND_KAFKA__TABLE_STORE", "rocksdb")
    monkeypatch.setenv("CROSSBOUND_KAFKA__DATA_DIR", str(tmp_path / "w1"))
    settings = Settings()
    assert (settings.kafka.table_store, settings.kafka.data_dir) == ("rocksdb", tmp_path / "w1")
    app = _app(settings)
    assert isinstance(app.tables["quota_usage"].data, PartitionedStore)
    assert Path(app.conf.datadir) == tmp_path / "w1"


def test_an_unknown_store_and_rocksdb_without_a_data_dir_are_refused() -> None:
    with pytest.raises(ValidationError, match="'memory' or 'rocksdb'"):
        KafkaSettings(table_store="disk")  # type: ignore[arg-type]
    with pytest.raises(
        ValidationError, match=r"table_store=rocksdb needs data_dir \(CROSSBOUND_KAFKA__DATA_DIR\)"
    ):
        KafkaSettings(table_store="rocksdb")


def test_a_data_dir_that_cannot_be_written_fails_naming_it(tmp_path: Path) -> None:
    in_the_way = tmp_path / "file"
    in_the_way.write_text("")
    kafka = KafkaSettings(table_store="rocksdb", data_dir=in_the_way / "data")
    with pytest.raises(ConfigError, match=f"kafka.data_dir .*{in_the_way / 'data'}: cannot write there"):
        table_store_settings(kafka, "cbx")


def test_rocksdb_without_rocksdict_installed_fails_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tablestore.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        ConfigError, match=r"needs the rocksdict package: pip install 'crossbound\[rocksdb\]'"
    ):
        table_store_settings(KafkaSettings(table_store="rocksdb", data_dir=tmp_path), "cbx")


def test_a_key_written_outside_an_event_goes_to_the_database_of_its_partition(tmp_path: Path) -> None:
    """The timers write the tables with no current event: Faust's own store fails there."""
    store = _rocks(tmp_path).tables["answered"].data
    key = b"4c3f5f0e-6a3e-4a53-9a43-1d0b2f6a7e10"
    with pytest.raises(AssertionError):
        Store._set(store, key, b"value")  # Faust's: the partition of the current event, and there is none
    store._set(key, b"value")
    partition = partition_for(key, 4)
    assert store._db_for_partition(partition).get(key) == b"value"
    assert all(store._db_for_partition(p).get(key) is None for p in range(4) if p != partition)
    assert store._get(key) == b"value"
    store._del(key)
    assert store._get(key) is None


def test_what_was_written_is_on_disk_for_the_next_process(tmp_path: Path) -> None:
    store = _rocks(tmp_path).tables["quota_usage"].data
    keys = [f"pcn|LEI:{i}".encode() for i in range(40)]
    for key in keys:
        store._set(key, b"ledger " + key)
    store._dbs.clear()  # as the process's end closes them
    gc.collect()
    again = _rocks(tmp_path).tables["quota_usage"].data
    for key in keys:
        assert again._db_for_partition(partition_for(key, 4)).get(key) == b"ledger " + key
    assert again.rocksdb_options.cache.get_usage() <= CACHE_BYTES


def _filled(store: Any, n: int = 3_000) -> Any:
    """The database of partition 0 with ``n`` keys of incompressible values, flushed to a table file."""
    db = store._db_for_partition(0)
    for i in range(n):
        db.put(f"k{i:05}".encode(), os.urandom(200))
    db.flush()
    return db


def test_every_table_shares_the_process_cache_which_also_holds_the_memtables(tmp_path: Path) -> None:
    shared_memory.cache_clear()  # a cache of this test's own: nothing read or written in it yet
    app = _rocks(tmp_path)
    stores = [app.tables[name].data for name in ("pending", "answered", "quota_usage", "fingerprints")]
    cache, write_buffers = shared_memory()
    assert all(s.rocksdb_options.cache is cache for s in stores)
    assert all(s.rocksdb_options.write_buffers is write_buffers for s in stores)
    assert (write_buffers.enabled(), write_buffers.get_buffer_size()) == (True, MEMTABLE_BYTES)
    dbs = [s._db_for_partition(0) for s in stores]
    assert cache.get_usage() < 2**20
    for i, db in enumerate(dbs):
        db.put(f"key {i}".encode(), b"value")
    memtables = sum(db.property_int_value("rocksdb.cur-size-all-mem-tables") for db in dbs)
    # the write buffer manager reserves the memtables' memory in the cache: the one bound is the cache's
    assert write_buffers.get_usage() == memtables
    assert memtables <= cache.get_usage() <= CACHE_BYTES


def test_a_scan_reads_every_key_but_the_offset_key_and_caches_what_it_reads(tmp_path: Path) -> None:
    shared_memory.cache_clear()
    store = _rocks(tmp_path).tables["quota_usage"].data
    db = _filled(store)
    db.put(store.offset_key, b"41")
    cache = store.rocksdb_options.cache

    def unpinned() -> int:  # blocks no one holds: not the memtables' reservation, not level 0's index
        return int(cache.get_usage() - cache.get_pinned_usage())

    before = unpinned()
    keys = list(store._visible_keys(db))
    assert keys == [f"k{i:05}".encode() for i in range(3_000)]  # in order, the offset key left out
    assert dict(store._visible_items(db)).keys() == set(keys)
    assert unpinned() > before + 3_000 * 200 // 2  # the data blocks it read are cached
