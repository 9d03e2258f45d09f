"""Patches of Faust 0.15.3's consumer: a record aiokafka handed over is processed, or fetched again.

Faust marks an offset as read (``Consumer._read_offset``) when its fetcher hands the record to the
topic's queue, and counts offsets it skips over as acknowledged (``Consumer._add_gap``). Two paths
dropped records after that point with nothing to fetch them again, so the group's committed offset
passed records no agent ever saw (an at-least-once violation). Both are fixed here, by
:func:`install_delivery_fixes`, which the worker calls when it builds its app:

1. **The second resume of a recovery clears the queues.** ``Recovery.on_recovery_completed`` resumes
   the stream partitions, seeks them to the committed offsets (``perform_seek``, one broker round trip
   per partition), then calls ``app.flow_control.resume()``, whose ``clear_on_resume`` empties every
   topic queue. The flow is already running at that point (the recovery resumed it to read the
   changelogs), so the fetcher has been filling the queues from the stream partitions during the
   seek: those events are thrown away. ``perform_seek`` has already reset the read offsets to the
   committed ones, and the fetcher goes on with the rest of its batch; its next record of such a
   partition is then far past the read offset, ``_drain_messages`` records the distance as a gap,
   and the thrown-away offsets are committed unprocessed (on a partition with no commit yet there is
   no gap: its commits stop short of the hole and the records wait for the partition's next owner).
   Seen on Kafka as a request lost now and then in the restart tests. Fix:
   :meth:`FlowControlEvent.resume` of a flow that is not suspended does nothing. Clearing on resume
   is meant for what was queued before a suspension (a revoke suspends, clears and seeks back); a
   running flow's queues hold only records of the current assignment, which nothing will deliver
   again.

2. **``Consumer.getmany`` drops the rest of a batch.** aiokafka advances its position past every
   record it returns, but Faust's ``getmany`` stops yielding when the flow stops or the generation
   changes mid-batch, returns the whole batch unyielded when the flow is already stopped, and skips
   the records of partitions paused after the fetch (its fetch is given the consumer's *live*
   ``_active_partitions`` set: empty while a rebalance pauses everything, which aiokafka reads as
   "every partition"). Faust counts on a later ``perform_seek`` to the committed offsets to fetch them
   again, but the generation path seeks nothing, and aiokafka's ``seek_to_committed`` leaves a
   partition with no committed offset (or offset 0) where it is: seen on Kafka as the first record of
   a fresh partition lost when two workers rebalance. Fix: the same ``getmany``, which then rewinds
   every partition whose records it did not deliver to the first of them, so they are fetched again.
   When the flow stopped, the last record handed over counts as not delivered (``_drain_messages``
   abandons a record whose callback is still waiting when the flow is suspended). A rewind only ever
   moves a position back (never past a record); a later seek to the committed offset may move it
   further back.

3. **False gaps right after the recovery's seek.** In the same ``on_recovery_completed``, records the
   fetcher delivers between resuming the stream partitions and the end of ``perform_seek`` advance the
   read offsets, which ``perform_seek`` then resets to the committed offsets; the fetcher's next
   record of the batch in hand lands past the reset read offset, and ``_drain_messages`` records a
   gap over records it delivered but the agent may not have processed yet (gap offsets count as
   acknowledged). No loss while the worker runs on, but a crash, or a revoke (which empties the
   queues), before they are processed would let a commit pass them. Fix: the same
   ``on_recovery_completed``, seeking first and resuming the stream partitions after the seek, so
   nothing is delivered from them until their positions and read offsets agree.

The cost of these fixes is at most a record delivered twice, which the pipeline answers
idempotently, and up to a second more before a worker starts processing after a rebalance (the
fetcher idles a second when no partition is active).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

__all__ = ["getmany", "install_delivery_fixes", "on_recovery_completed", "rewind_positions"]

log = logging.getLogger(__name__)

_installed = False
_REWIND_TIMEOUT_S = 10.0


def install_delivery_fixes() -> None:
    """Patch ``FlowControlEvent.resume``, ``Consumer.getmany`` and ``Recovery.on_recovery_completed``
    (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    from faust.tables import recovery as faust_recovery
    from faust.transport import consumer as faust_consumer
    from mode.utils.queues import FlowControlEvent

    event_cls: Any = FlowControlEvent
    orig_resume = event_cls.resume

    def resume(self: Any) -> None:
        if self.is_active():
            return  # already flowing: nothing queued predates a suspension, keep it
        orig_resume(self)

    event_cls.resume = resume
    consumer_cls: Any = faust_consumer.Consumer
    consumer_cls.getmany = getmany
    recovery_cls: Any = faust_recovery.Recovery
    recovery_cls.on_recovery_completed = on_recovery_completed


async def getmany(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:  # noqa: ASYNC109
    """Faust 0.15.3's ``Consumer.getmany`` (same signature), rewinding what it did not yield."""
    records, active_partitions = await self._wait_next_records(timeout)
    generation_id = self.app.consumer_generation_id
    if records is None or self.should_stop:
        return
    yielded: dict[Any, int] = {}  # records yielded, per partition (a partition's records come in order)
    if self.flow_active:
        last_tp: Any = None
        to_message = self._to_message
        buffered = self._buffered_partitions
        for tp, record in self.scheduler.iterate(records):
            if not self.flow_active:
                break
            new_generation_id = self.app.consumer_generation_id
            if new_generation_id != generation_id:
                self.log.dev(
                    "Generation id changed from %r to %r. Cancelling getmany.",
                    generation_id,
                    new_generation_id,
                )
                break
            if active_partitions is None or tp in active_partitions or tp in buffered:
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                yielded[tp] = yielded.get(tp, 0) + 1
                last_tp = tp
                yield tp, to_message(tp, record)
        if last_tp is not None and not self.flow_active:
            # the flow stopped while (or since) the last record was handed over: _drain_messages
            # abandons a record whose callback waits when the flow is suspended
            yielded[last_tp] -= 1
        await rewind_positions(self, undelivered(records, yielded))
    else:
        self.log.dev("getmany called while flow not active. Seek back to committed offsets.")
        await rewind_positions(self, undelivered(records, yielded))
        try:
            await self.perform_seek()
        except Exception as ex:  # noqa: BLE001  as Faust does: the next rebalance seeks again
            self.log.warning(f"exception performing seek when flow not active {ex}")


def undelivered(records: Mapping[Any, list[Any]], yielded: Mapping[Any, int]) -> dict[Any, int]:
    """The first offset not yielded, of each partition of ``records`` with records not yielded."""
    return {
        tp: recs[yielded.get(tp, 0)].offset for tp, recs in records.items() if yielded.get(tp, 0) < len(recs)
    }


async def rewind_positions(consumer: Any, offsets: Mapping[Any, int]) -> None:
    """Move aiokafka's position of each partition back to ``offsets[tp]``, in the consumer's thread.

    Only a partition still assigned, with a position past that offset, is moved: never forwards, so
    this cannot skip a record (a reassignment or a seek to the committed offset that already moved it
    back wins).
    """
    if not offsets:
        return
    thread = getattr(consumer, "_thread", None)
    if thread is None:  # not the aiokafka driver
        return
    try:
        moved = await asyncio.wait_for(
            thread.call_thread(_rewind_in_thread, thread, dict(offsets)), timeout=_REWIND_TIMEOUT_S
        )
    except Exception as exc:  # noqa: BLE001  a rebalance in between resets the positions anyway
        log.warning("could not rewind %s after an undelivered batch: %r", sorted(offsets), exc)
        return
    if moved:
        log.debug("rewound %s to fetch undelivered records again", moved)


def _rewind_in_thread(thread: Any, offsets: Mapping[Any, int]) -> dict[Any, int]:
    ak_consumer = thread._ensure_consumer()
    subscription = ak_consumer._subscription.subscription
    assignment = None if subscription is None else subscription.assignment
    moved: dict[Any, int] = {}
    if assignment is None:
        return moved
    for tp, offset in offsets.items():
        state = assignment.state_value(tp)
        if state is None or not state.has_valid_position or state.position <= offset:
            continue
        ak_consumer.seek(tp, offset)
        moved[tp] = offset
    return moved


async def on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """Faust 0.15.3's ``Recovery.on_recovery_completed``, seeking before it resumes the streams."""
    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callback_coros = [
        asyncio.ensure_future(
            table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table])
        )
        for table in self.tables.values()
    ]
    if callback_coros:
        await asyncio.wait(callback_coros)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning(
            f"Recovery rebalancing again app id {self.app.consumer_generation_id} param {generation_id}"
        )
        return
    if assignment:
        # Faust resumes the stream partitions first: what it delivers from them during the seek
        # advances read offsets that the seek then resets (false gaps)
        self.log.info("Seek stream partitions to committed offsets.")
        from faust.tables.recovery import RebalanceAgain, ServiceStopped

        try:
            await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
        except (ServiceStopped, RebalanceAgain):
            # the worker stopped, or another rebalance began, during the seek: Faust's caller has
            # already left this task for the same reason, so raising would only log "Task exception
            # was never retrieved"; the next recovery (if any) resumes the streams
            return
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    self.completed.set()
    self.log.dev("Resume stream partitions")
    self.app.flow_control.resume()
    consumer.resume_flow()
    await self.app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")
