"""Pipelined settles: an event's offset is committable only once its batch's outputs are written.

No broker: Faust's own ``ConsumerMessage`` (its reference count and final ack) with a consumer that
records the acks, ``take_events``' acknowledgement played by hand, and a producer whose futures the
test completes or fails.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from faust.types.tuples import ConsumerMessage
from prometheus_client import CollectorRegistry

from crossbound.pipeline import Incoming, Outgoing
from crossbound.runtime.sending import Sender
from crossbound.runtime.settling import Settling
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics

PCN = "payment_connect_northbound"
TOPICS = Topics()


class Consumer:
    """Records which offsets Faust would now count as acknowledged (committable)."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: Any) -> bool:
        self.acked.append(message.offset)
        return True


class Event:
    """What ``take_events`` yields: Faust's ``Event.ack`` is ``message.ack(app.consumer)``."""

    def __init__(self, consumer: Consumer, rec: Incoming) -> None:
        self.consumer = consumer
        self.rec = rec
        self.message = ConsumerMessage(
            rec.topic, rec.partition, rec.offset, 0.0, 0, None, rec.key, rec.value, None
        )
        self.message.incref()  # the conductor's reference: one stream reads the topic

    def ack(self) -> bool:
        return bool(self.message.ack(self.consumer))


class Producer:
    """Hands out futures the test completes (``complete``) or fails (``fail``)."""

    def __init__(self) -> None:
        self.futures: list[tuple[Outgoing, asyncio.Future[None]]] = []

    async def send(self, out: Outgoing, source: tuple[str, int] | None) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.futures.append((out, fut))
        return fut

    def complete(self, exc: BaseException | None = None, topic: str | None = None) -> None:
        for out, fut in self.futures:
            if fut.done() or (topic is not None and out.topic != topic):
                continue
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)


def _setup() -> tuple[Harness, Producer, Sender, Consumer]:
    h = Harness.from_dirs(now=examples.FIXTURE_TIME.timestamp(), registry=CollectorRegistry())
    producer = Producer()
    return h, producer, Sender(producer.send, h.pipeline, h.metrics, TOPICS), Consumer()


def _events(h: Harness, consumer: Consumer, offsets: range) -> list[Event]:
    traffic = Traffic(seed=11, now=h.now)
    events = []
    for offset in offsets:
        case = traffic.case(PCN, "invalid")  # rejected by its request rules: a verdict at once
        assert case.request is not None
        key, value = h.encode_request(case.request)
        events.append(
            Event(consumer, Incoming(TOPICS.requests("hk"), 0, offset, key, value, int(h.now * 1000)))
        )
    return events


async def _hand_over(settling: Settling, sender: Sender, h: Harness, events: list[Event]) -> list[str]:
    """One batch as the agent runs it: handled, sent, handed to the settles, then ``take_events``'
    own acknowledgement (when the agent asks for the next batch)."""
    done: list[str] = []
    for event in events:
        await sender.send(h.pipeline.handle(event.rec), event.rec)
    await settling.add(sender.detach(), events, lambda: done.append("settled"))
    for event in events:
        event.ack()
    return done


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_batch_is_acknowledged_only_when_its_outputs_are_written_and_the_next_goes_on() -> None:
    h, producer, sender, consumer = _setup()
    settling = Settling(ahead=2)
    first = await _hand_over(settling, sender, h, _events(h, consumer, range(0, 2)))
    await _turns()
    assert consumer.acked == []  # take_events acknowledged; the outputs are not written yet
    second = await _hand_over(settling, sender, h, _events(h, consumer, range(2, 3)))  # not blocked
    assert len(settling) == 2
    assert len(producer.futures) == 3  # the second batch's verdict went out before the first settled
    producer.complete()
    await settling.drain()
    assert consumer.acked == [0, 1, 2]
    assert first == second == ["settled"]


async def test_batches_settle_in_order_whatever_order_their_outputs_are_written() -> None:
    h, producer, sender, consumer = _setup()
    settling = Settling(ahead=4)
    await _hand_over(settling, sender, h, _events(h, consumer, range(0, 1)))
    await _hand_over(settling, sender, h, _events(h, consumer, range(1, 2)))
    producer.futures[1][1].set_result(None)  # the second batch's verdict written first
    await _turns()
    assert consumer.acked == []  # it waits for the first batch
    producer.futures[0][1].set_result(None)
    await settling.drain()
    assert consumer.acked == [0, 1]


async def test_at_most_ahead_batches_are_settling_while_the_agent_works() -> None:
    h, producer, sender, consumer = _setup()
    settling = Settling(ahead=1)
    await _hand_over(settling, sender, h, _events(h, consumer, range(0, 1)))
    blocked = asyncio.ensure_future(_hand_over(settling, sender, h, _events(h, consumer, range(1, 2))))
    await _turns()
    assert not blocked.done()  # the second hand-over waits for the first settle
    assert len(producer.futures) == 2  # its outputs went out already
    producer.futures[0][1].set_result(None)
    await blocked
    assert consumer.acked == [0]
    assert len(settling) == 1
    producer.complete()
    await settling.drain()
    assert consumer.acked == [0, 1]


async def test_a_refused_output_becomes_its_inputs_dead_letter_before_the_input_is_acknowledged() -> None:
    h, producer, sender, consumer = _setup()
    settling = Settling(ahead=2)
    await _hand_over(settling, sender, h, _events(h, consumer, range(0, 1)))
    producer.complete(MessageSizeTooLargeError(), topic=TOPICS.verdicts("hk"))
    await _turns()
    assert consumer.acked == []  # its dead letter is on its way, not yet written
    [(dead, _)] = [(o, f) for o, f in producer.futures if o.topic == TOPICS.deadletter("hk")]
    assert h.codec.decode(dead.value)[1]["reason"] == "output_refused"
    producer.complete()
    await settling.drain()
    assert consumer.acked == [0]


async def test_a_producer_failure_is_raised_in_the_agent_and_nothing_after_it_is_acknowledged() -> None:
    h, producer, sender, consumer = _setup()
    fatal: list[BaseException] = []
    sender.on_fatal = fatal.append
    settling = Settling(ahead=4)
    await _hand_over(settling, sender, h, _events(h, consumer, range(0, 1)))
    await _hand_over(settling, sender, h, _events(h, consumer, range(1, 2)))
    producer.futures[0][1].set_exception(KafkaTimeoutError())
    producer.futures[1][1].set_result(None)
    await _turns()
    with pytest.raises(KafkaTimeoutError):
        await _hand_over(settling, sender, h, _events(h, consumer, range(2, 3)))
    settling.cancel()
    await _turns()
    assert [type(e) for e in fatal] == [KafkaTimeoutError]
    assert consumer.acked == []


def test_ahead_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Settling(ahead=0)
