"""Patches of Faust 0.15.3's producer: an idempotent at-least-once producer, and the exactly_once commit.

:func:`install_idempotent_producer` (``kafka.idempotence``, on by default on Kafka): Faust makes its
producer idempotent only in exactly_once mode (``Producer._settings_extra``), so at least once a batch
that the broker wrote but whose answer was lost in a leader change is written again by the retry: a
repeated verdict, or an attestation request asked twice. With idempotence the broker drops the retried
copy.

:func:`install_commit_of_dirty_transactions`, only when ``kafka.delivery=exactly_once``:

Faust commits a transaction only when its source partition has new offsets to commit
(``TransactionManager.commit`` groups the offsets by transactional id and
``Producer.commit_transactions`` walks that map). A transaction that received records but has no new
offsets -- a sweeper verdict (attestation timeout) on a partition with no later input, a timer's table
write -- stays open until the next input on that partition, or until the broker aborts it at
``transaction.timeout.ms`` and the verdict is lost to ``read_committed`` readers. The patch remembers
which transactions were sent records and commits those too, with no offsets; the sweeper also commits
the transactions of the partitions it answered in, when nothing else would
(:func:`commit_dirty_transactions`).

This is part 3 of the colleague's ``eos_fix`` (see the README, "Delivery guarantees"); the rest
(commit gate, buffer drain, hard exit on a failed transactional send) is not ported.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["commit_dirty_transactions", "install_commit_of_dirty_transactions", "install_idempotent_producer"]

_installed = False
_idempotent = False


def install_idempotent_producer() -> None:
    """Make Faust's (non-transactional) producer idempotent, with acks=all (once per process)."""
    global _idempotent
    if _idempotent:
        return
    _idempotent = True
    from faust.transport.drivers import aiokafka as driver

    producer_cls: Any = driver.Producer
    orig_extra = producer_cls._settings_extra

    def _settings_extra(self: Any) -> Mapping[str, Any]:
        return {**orig_extra(self), "acks": "all", "enable_idempotence": True}

    producer_cls._settings_extra = _settings_extra


def install_commit_of_dirty_transactions() -> None:
    """Patch Faust's aiokafka ``Producer.send`` and ``Producer.commit_transactions`` (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    from faust.transport.drivers import aiokafka as driver

    producer_cls: Any = driver.Producer
    orig_send = producer_cls.send

    async def send(self: Any, *args: Any, transactional_id: str | None = None, **kw: Any) -> Any:
        result = await orig_send(self, *args, transactional_id=transactional_id, **kw)
        if transactional_id:
            # marked after the send, not before: a send that waited for the transaction's lock while
            # a commit held it lands in the next transaction, which must be marked (an extra mark
            # costs one empty commit)
            self.__dict__.setdefault("_crossbound_dirty", set()).add(transactional_id)
        return result

    async def commit_transactions(
        self: Any,
        tid_to_offset_map: Mapping[str, Mapping[Any, int]],
        group_id: str,
        start_new_transaction: bool = True,
        *,
        only: Collection[str] | None = None,
    ) -> None:
        dirty: set[str] = self.__dict__.setdefault("_crossbound_dirty", set())
        extra = dirty if only is None else dirty.intersection(only)
        for tid in sorted(set(tid_to_offset_map) | extra):
            offsets = tid_to_offset_map.get(tid)
            async with self._trn_locks[tid]:
                txp = self._transaction_producers.get(tid)
                dirty.discard(tid)
                if txp is None:
                    if offsets:
                        driver.logger.warning(f"Commit invoked for unknown transaction {tid}")
                    continue
                if not txp._txn_manager.is_in_transaction():
                    # already ended (a revoke's or stop's commit): no record can have joined it since
                    # (a send would have failed), so offsets of events handled after that stay
                    # uncommitted and are handled again by the next owner
                    if offsets:
                        driver.logger.warning(f"Not committing offsets outside a transaction: {tid}")
                    continue
                if offsets:
                    await txp.send_offsets_to_transaction(offsets, group_id)
                await txp.commit_transaction()
                if start_new_transaction:
                    await txp.begin_transaction()

    producer_cls.send = send
    producer_cls.commit_transactions = commit_transactions


async def commit_dirty_transactions(app: Any, partitions: Collection[int]) -> None:
    """Commit the dirty transactions of ``partitions`` (records sent since their last commit, no offsets).

    Faust commits only when some partition has new offsets, so an idle worker would leave a timer's
    transactions open. The sweeper calls this for the partitions it answered in (this tick and the
    last, for the table writes still buffered then); not for every dirty transaction, because
    committing an event's records ahead of its offset turns a crash into a duplicate.
    """
    producer = app.producer
    dirty = producer.__dict__.get("_crossbound_dirty")
    if not dirty or not partitions:
        return
    suffixes = {f"-{p}" for p in partitions}
    tids = [tid for tid in dirty if tid[tid.rfind("-") :] in suffixes]
    if tids:
        await producer.commit_transactions({}, app.conf.id, only=tids)
