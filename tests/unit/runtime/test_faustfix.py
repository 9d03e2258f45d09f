"""The Faust consumer patches (crossbound.runtime.faustfix), driven without a broker.

``Consumer.getmany`` runs on a stand-in consumer whose aiokafka side is a real aiokafka
``SubscriptionState``: a record aiokafka handed over and Faust did not deliver must be fetched again
(its partition's position moved back to it). ``FlowControlEvent.resume`` of a running flow must keep
what is queued. Each test fails on unpatched Faust.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.structs import TopicPartition
from faust.transport.consumer import Consumer
from faust.transport.utils import DefaultSchedulingStrategy
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from crossbound.runtime.faustfix import install_delivery_fixes

TP0 = TopicPartition("r.hk.requests", 0)
TP1 = TopicPartition("r.hk.requests", 1)


@pytest.fixture(autouse=True)
def _patched() -> None:
    install_delivery_fixes()


class FakeAiokafka:
    """What the rewind touches of an ``AIOKafkaConsumer``: its subscription state and ``seek``."""

    def __init__(self, tps: list[TopicPartition]) -> None:
        self._subscription = SubscriptionState()
        self._subscription.assign_from_user(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._subscription.seek(tp, offset)

    def position(self, tp: TopicPartition) -> int:
        return int(self._subscription.subscription.assignment.state_value(tp).position)


class FakeThread:
    def __init__(self, ak: FakeAiokafka) -> None:
        self.ak = ak

    def _ensure_consumer(self) -> FakeAiokafka:
        return self.ak

    async def call_thread(self, fun: Callable[..., Any], *args: Any) -> Any:
        return fun(*args)


class FakeConsumer:
    """The attributes Faust's ``Consumer.getmany`` reads, around a batch aiokafka already returned."""

    def __init__(self, batch: dict[TopicPartition, list[int]], active: set[TopicPartition] | None = None):
        self.records = {tp: [SimpleNamespace(offset=o) for o in offsets] for tp, offsets in batch.items()}
        self.active = set(batch) if active is None else active
        self.ak = FakeAiokafka(list(batch))
        for tp, offsets in batch.items():  # aiokafka moved past every record it returned
            self.ak.seek(tp, offsets[-1] + 1)
        self._thread = FakeThread(self.ak)
        self.app = SimpleNamespace(
            consumer_generation_id=7, monitor=SimpleNamespace(track_tp_end_offset=lambda tp, hw: None)
        )
        self.should_stop = False
        self.flow_active = True
        self._buffered_partitions: set[TopicPartition] = set()
        self.scheduler = DefaultSchedulingStrategy()
        self.log = SimpleNamespace(dev=lambda *a, **k: None, warning=lambda *a, **k: None)
        self.sought_to_committed = 0

    async def _wait_next_records(self, timeout: float) -> tuple[Any, set[TopicPartition]]:  # noqa: ASYNC109
        return self.records, self.active

    def _to_message(self, tp: TopicPartition, record: Any) -> int:
        return int(record.offset)

    def highwater(self, tp: TopicPartition) -> int:
        return 100

    async def perform_seek(self) -> None:
        # seek_to_committed: a partition with no committed offset is not moved
        self.sought_to_committed += 1


async def drain(
    fake: FakeConsumer, after: int | None = None, then: Callable[[], None] | None = None
) -> list[tuple[TopicPartition, int]]:
    """Iterate ``Consumer.getmany`` as ``_drain_messages`` does; ``then()`` after ``after`` records."""
    got: list[tuple[TopicPartition, int]] = []
    async for tp, offset in Consumer.getmany(fake, timeout=1.0):  # type: ignore[arg-type]
        got.append((tp, offset))
        if after is not None and len(got) == after and then is not None:
            then()
    return got


def first_not_delivered(
    fake: FakeConsumer, delivered: list[tuple[TopicPartition, int]], tp: TopicPartition
) -> int:
    done = {o for t, o in delivered if t == tp}
    return next(r.offset for r in fake.records[tp] if r.offset not in done)


async def test_generation_change_mid_batch_fetches_the_rest_again() -> None:
    fake = FakeConsumer({TP0: [10, 11, 12, 13, 14], TP1: [20, 21, 22, 23, 24]})

    def new_generation() -> None:
        fake.app.consumer_generation_id = 8

    got = await drain(fake, after=3, then=new_generation)
    assert len(got) == 3
    for tp in (TP0, TP1):
        assert fake.ak.position(tp) == first_not_delivered(fake, got, tp)


async def test_flow_stopped_mid_batch_fetches_the_abandoned_record_again() -> None:
    fake = FakeConsumer({TP0: [10, 11, 12, 13, 14], TP1: [20, 21, 22, 23, 24]})

    def revoke() -> None:
        fake.flow_active = False  # Consumer.stop_flow: _drain_messages abandons the record in hand

    got = await drain(fake, after=3, then=revoke)
    last_tp, last_offset = got[-1]
    assert fake.ak.position(last_tp) == last_offset
    other = TP1 if last_tp == TP0 else TP0
    assert fake.ak.position(other) == first_not_delivered(fake, got, other)


async def test_batch_returned_while_the_flow_is_stopped_is_fetched_again() -> None:
    fake = FakeConsumer({TP0: [0, 1, 2], TP1: [5, 6]})
    fake.flow_active = False
    assert await drain(fake) == []
    assert fake.sought_to_committed == 1  # Faust's own seek to the committed offsets still runs
    assert (fake.ak.position(TP0), fake.ak.position(TP1)) == (0, 5)


async def test_records_of_a_partition_paused_after_the_fetch_are_fetched_again() -> None:
    fake = FakeConsumer({TP0: [10, 11], TP1: [20, 21, 22]}, active={TP0})
    got = await drain(fake)
    assert got == [(TP0, 10), (TP0, 11)]
    assert (fake.ak.position(TP0), fake.ak.position(TP1)) == (12, 20)


async def test_a_delivered_batch_moves_nothing() -> None:
    fake = FakeConsumer({TP0: [10, 11], TP1: [20]})
    assert len(await drain(fake)) == 3
    assert (fake.ak.position(TP0), fake.ak.position(TP1)) == (12, 21)


async def test_rewind_never_moves_a_position_forward() -> None:
    fake = FakeConsumer({TP0: [10, 11, 12, 13], TP1: [20, 21, 22, 23]})

    def seek_then_new_generation() -> None:
        fake.ak.seek(TP0, 3)  # e.g. perform_seek to an older committed offset
        fake.app.consumer_generation_id = 8

    await drain(fake, after=2, then=seek_then_new_generation)
    assert fake.ak.position(TP0) == 3


async def test_resume_of_a_running_flow_keeps_what_is_queued() -> None:
    flow = FlowControlEvent()
    queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()
    queue.put_nowait("event fetched during the recovery's seek")
    flow.resume()  # Recovery.on_recovery_completed, the flow already running
    assert queue.qsize() == 1


async def test_resume_after_a_suspension_still_clears() -> None:
    flow = FlowControlEvent()
    queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()
    queue.put_nowait("event of the previous assignment")
    flow.suspend()  # a revoke
    flow.resume()
    assert queue.qsize() == 0
    assert flow.is_active()


class FakeRecovery:
    """The attributes ``Recovery.on_recovery_completed`` reads; records the order of seek and resume."""

    def __init__(self, calls: list[str], stop_during_seek: bool = False) -> None:
        self.stop_during_seek = stop_during_seek

        async def noop(*a: Any, **k: Any) -> None:
            return None

        async def perform_seek() -> None:
            calls.append("seek")

        def resume_partitions(tps: set[TopicPartition]) -> None:
            calls.append(f"resume {sorted(tp.topic for tp in tps)}")

        stream, changelog = TopicPartition("r.hk.requests", 0), TopicPartition("app-pending-changelog", 0)
        consumer = SimpleNamespace(
            assignment=lambda: {stream, changelog},
            perform_seek=perform_seek,
            resume_partitions=resume_partitions,
            resume_flow=lambda: calls.append("resume_flow"),
        )
        self.app = SimpleNamespace(
            consumer=consumer,
            consumer_generation_id=3,
            on_rebalance_complete=SimpleNamespace(send=noop),
            conf=SimpleNamespace(broker_request_timeout=1.0),
            flow_control=FlowControlEvent(),
            _fetcher=SimpleNamespace(maybe_start=noop),
            assignor=SimpleNamespace(assigned_standbys=lambda: []),
            on_rebalance_end=lambda: None,
        )
        self.log = SimpleNamespace(info=lambda *a: None, dev=lambda *a: None, warning=lambda *a: None)
        self.tables = SimpleNamespace(
            values=list, on_actives_ready=lambda: None, on_standbys_ready=lambda: None
        )
        self.completed = SimpleNamespace(set=lambda: None)
        self.actives_for_table: dict[Any, Any] = {}
        self.standbys_for_table: dict[Any, Any] = {}

    def _set_recovery_ended(self) -> None: ...

    def _is_changelog_tp(self, tp: TopicPartition) -> bool:
        return tp.topic.endswith("-changelog")

    async def _wait(self, coro: Any, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await coro
        if self.stop_during_seek:  # what Faust's _wait raises when the service stops meanwhile
            from faust.tables.recovery import ServiceStopped

            raise ServiceStopped()


async def test_recovery_seeks_the_streams_before_it_resumes_them() -> None:
    from faust.tables.recovery import Recovery

    calls: list[str] = []
    await Recovery.on_recovery_completed(FakeRecovery(calls), 3)  # type: ignore[arg-type]
    assert calls == ["seek", "resume ['r.hk.requests']", "resume_flow"]


async def test_a_worker_stopped_during_the_seek_ends_recovery_quietly_and_resumes_nothing() -> None:
    from faust.tables.recovery import Recovery

    calls: list[str] = []
    await Recovery.on_recovery_completed(FakeRecovery(calls, stop_during_seek=True), 3)  # type: ignore[arg-type]
    assert calls == ["seek"]
