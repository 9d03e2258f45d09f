"""The worker's send path with a fake producer: a refused output is its input's dead letter, the loop goes on.

No broker: :class:`FakeProducer` refuses chosen topics the two ways aiokafka does (raising at ``send``,
wrapped in Faust's ``ProducerSendError``; or failing the record's future, the broker's answer), and the
test drives the agent's loop as ``runtime/app.py`` does: handle, send, settle once per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from faust.exceptions import ProducerSendError
from prometheus_client import CollectorRegistry

from crossbound.pipeline import Incoming, Outgoing
from crossbound.pipeline.budget import OutputLimits
from crossbound.runtime.sending import Sender, per_record
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics

PCN = "payment_connect_northbound"  # HK -> SZ
TOPICS = Topics()

Refusal = Callable[[Outgoing], BaseException | None]


class FakeProducer:
    """Records what it is handed; ``at_send`` raises at once, ``in_future`` fails the record's future."""

    def __init__(self, at_send: Refusal = lambda out: None, in_future: Refusal = lambda out: None) -> None:
        self.at_send = at_send
        self.in_future = in_future
        self.written: list[Outgoing] = []

    async def send(self, out: Outgoing, source: tuple[str, int] | None) -> asyncio.Future[None]:
        exc = self.at_send(out)
        if exc is not None:
            raise ProducerSendError(f"Error while sending: {exc!r}") from exc
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failure = self.in_future(out)
        if failure is None:
            self.written.append(out)
            fut.set_result(None)
        else:
            fut.set_exception(failure)
        return fut

    def on(self, topic: str) -> list[Outgoing]:
        return [o for o in self.written if o.topic == topic]


def _harness() -> Harness:
    return Harness.from_dirs(now=examples.FIXTURE_TIME.timestamp(), registry=CollectorRegistry())


def _requests(h: Harness, variant: str, n: int, seed: int = 7) -> list[Incoming]:
    traffic = Traffic(seed=seed, now=h.now)
    recs = []
    for i in range(n):
        case = traffic.case(PCN, variant)
        assert case.request is not None
        key, value = h.encode_request(case.request)
        recs.append(Incoming(TOPICS.requests("hk"), 0, i, key, value, int(h.now * 1000)))
    return recs


async def _run(sender: Sender, h: Harness, batches: list[list[Incoming]]) -> None:
    """The agent's loop (runtime/app.py ``run``): each batch handled and sent, then settled."""
    for batch in batches:
        for rec in batch:
            await sender.send(h.pipeline.handle(rec), rec)
        await sender.settle()


def _dead(producer: FakeProducer, h: Harness, side: str) -> list[dict[str, Any]]:
    return [h.codec.decode(o.value)[1] for o in producer.on(TOPICS.deadletter(side))]


def _failed(h: Harness, record: str, reason: str) -> float:
    labels = {"record": record, "reason": reason}
    return h.registry.get_sample_value("crossbound_outputs_failed_total", labels) or 0.0


def _verdicts_refused(exc: BaseException) -> Refusal:
    return lambda out: exc if out.topic == TOPICS.verdicts("hk") else None


@pytest.mark.parametrize("where", ["at_send", "in_future"])
async def test_a_refused_verdict_is_its_inputs_dead_letter_and_the_next_input_is_answered(where: str) -> None:
    h = _harness()
    refuse = _verdicts_refused(MessageSizeTooLargeError())
    producer = FakeProducer(**{where: refuse})
    sender = Sender(producer.send, h.pipeline, h.metrics, TOPICS)
    first, second = _requests(h, "invalid", 2)  # rejected by their request rules: a verdict at once
    await _run(sender, h, [[first]])
    [dead] = _dead(producer, h, "hk")
    assert dead["reason"] == "output_refused"
    assert dead["request_id"] == first.key.decode()  # type: ignore[union-attr]
    assert dead["source_offset"] == first.offset
    assert "MessageSizeTooLargeError" in dead["detail"]
    assert "'hk.verdicts'" in dead["detail"]
    assert _failed(h, "verdict", "refused") == 1
    producer.at_send = producer.in_future = lambda out: None  # the topic takes records again
    await _run(sender, h, [[second]])
    [verdict] = producer.on(TOPICS.verdicts("hk"))
    assert verdict.key == second.key
    assert len(_dead(producer, h, "hk")) == 1


async def test_a_refused_attestation_request_leaves_nothing_parked() -> None:
    h = _harness()
    producer = FakeProducer(
        in_future=lambda out: (
            TopicAuthorizationFailedError() if out.topic == TOPICS.attestation_requests("sz") else None
        )
    )
    sender = Sender(producer.send, h.pipeline, h.metrics, TOPICS)
    [rec] = _requests(h, "valid", 1)
    await _run(sender, h, [[rec]])
    [dead] = _dead(producer, h, "hk")
    assert dead["reason"] == "output_refused"
    assert h.pending == {}
    h.now += h.attestation_timeout_s + 1
    await sender.send(h.pipeline.sweep(), None)  # the sweeper timer: no timeout verdict follows
    await sender.settle()
    assert producer.on(TOPICS.verdicts("hk")) == []


async def test_a_dead_letter_refused_too_is_counted_lost_and_the_worker_goes_on() -> None:
    h = _harness()
    producer = FakeProducer(
        at_send=lambda out: UnknownTopicOrPartitionError() if out.topic.endswith("deadletter") else None,
        in_future=_verdicts_refused(MessageSizeTooLargeError()),
    )
    sender = Sender(producer.send, h.pipeline, h.metrics, TOPICS)
    recs = _requests(h, "invalid", 3)
    await _run(sender, h, [recs[:2], recs[2:]])
    assert producer.written == []
    assert _failed(h, "verdict", "refused") == 3
    assert _failed(h, "dead_letter", "lost") == 3


async def test_one_outcome_per_input_whatever_is_refused() -> None:
    h = _harness()
    refused = {3, 4, 9, 15}  # offsets whose first output is refused, by the producer or the broker

    def pick(out: Outgoing, exc: BaseException) -> BaseException | None:
        if out.topic.endswith("deadletter"):
            return None
        offset = next(r.offset for r in recs if r.key == out.key)
        return exc if offset in refused and offset % 2 == 0 else None

    def pick_future(out: Outgoing) -> BaseException | None:
        if out.topic.endswith("deadletter"):
            return None
        offset = next(r.offset for r in recs if r.key == out.key)
        return MessageSizeTooLargeError() if offset in refused and offset % 2 else None

    recs = _requests(h, "invalid", 10) + _requests(h, "valid", 10, seed=8)
    recs = [Incoming(r.topic, r.partition, i, r.key, r.value, r.timestamp_ms) for i, r in enumerate(recs)]
    producer = FakeProducer(
        at_send=lambda out: pick(out, TopicAuthorizationFailedError()), in_future=pick_future
    )
    sender = Sender(producer.send, h.pipeline, h.metrics, TOPICS)
    await _run(sender, h, [recs[:7], recs[7:14], recs[14:]])
    outcomes: dict[bytes | None, list[str]] = {}
    for out in producer.written:
        outcomes.setdefault(out.key, []).append(out.topic)
    assert sorted(outcomes) == sorted(r.key for r in recs)
    assert all(len(topics) == 1 for topics in outcomes.values()), outcomes
    dead = {d["source_offset"] for d in _dead(producer, h, "hk")}
    assert dead == refused


async def test_a_failure_that_is_not_one_records_stops_the_worker() -> None:
    h = _harness()
    producer = FakeProducer(in_future=lambda out: KafkaTimeoutError())
    fatal: list[BaseException] = []
    sender = Sender(producer.send, h.pipeline, h.metrics, TOPICS, on_fatal=fatal.append)
    [rec] = _requests(h, "invalid", 1)
    with pytest.raises(KafkaTimeoutError):
        await _run(sender, h, [[rec]])
    assert [type(e) for e in fatal] == [KafkaTimeoutError]
    assert _dead(producer, h, "hk") == []


def test_which_errors_are_one_records() -> None:
    for exc in (MessageSizeTooLargeError(), TopicAuthorizationFailedError(), UnknownTopicOrPartitionError()):
        assert per_record(exc)
        wrapped = ProducerSendError("x")
        wrapped.__cause__ = exc
        assert per_record(wrapped)
    assert not per_record(KafkaTimeoutError())
    assert not per_record(ProducerSendError("No transaction producer found"))
    assert not per_record(RuntimeError("boom"))


async def test_a_record_refused_with_its_batch_is_sent_again_alone() -> None:
    h = _harness()
    attempts: dict[bytes | None, int] = {}

    def first_attempt(out: Outgoing) -> BaseException | None:
        # the broker refused the batch (too large together), not the record: it fits its topic alone
        attempts[out.key] = attempts.get(out.key, 0) + 1
        return MessageSizeTooLargeError() if attempts[out.key] == 1 else None

    producer = FakeProducer(in_future=first_attempt)
    limits = OutputLimits(1_000_000)
    sender = Sender(producer.send, h.pipeline, h.metrics, TOPICS, limits=limits)
    recs = _requests(h, "invalid", 3)
    await _run(sender, h, [recs])
    assert sorted(o.key for o in producer.on(TOPICS.verdicts("hk"))) == sorted(r.key for r in recs)
    assert _dead(producer, h, "hk") == []
    assert _failed(h, "verdict", "refused") == 0
    # a record over its topic's limit by itself is not tried again: its input's dead letter
    tight = Sender(producer.send, h.pipeline, h.metrics, TOPICS, limits=OutputLimits(100))
    await _run(tight, h, [_requests(h, "invalid", 1, seed=9)])
    assert [d["reason"] for d in _dead(producer, h, "hk")] == ["output_refused"]


async def test_a_refused_timeout_verdict_dead_letters_its_request() -> None:
    h = _harness()
    producer = FakeProducer(in_future=_verdicts_refused(TopicAuthorizationFailedError()))
    sender = Sender(producer.send, h.pipeline, h.metrics, TOPICS)
    [rec] = _requests(h, "valid", 1)
    await _run(sender, h, [[rec]])
    h.now += h.attestation_timeout_s + 1
    for topic, partition, out in h.pipeline.sweep_sourced():  # the sweeper timer, as runtime/app.py
        await sender.send([out], None, (topic, partition))
    await sender.settle()
    [dead] = _dead(producer, h, "hk")
    assert (dead["reason"], dead["source_topic"], dead["source_offset"]) == (
        "output_refused",
        rec.topic,
        -1,
    )
    assert dead["request_id"] == rec.key.decode()  # type: ignore[union-attr]
