"""One admin round trip: a deadline or a client error becomes one BrokerError line; the client closes."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.broker.session import request_timeout_ms, round_trip
from crossbound.errors import BrokerError


class FakeClient:
    def __init__(self) -> None:
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1


async def _work_that(raise_: BaseException | None, *, sleep_s: float = 0.0, detail: str = "") -> FakeClient:
    client = FakeClient()

    async def start(bootstrap: str, timeout_s: float, security: ClientSecurity) -> FakeClient:
        assert (bootstrap, security) == ("b:9092", PLAINTEXT)
        return client

    async with round_trip("listing things", "b:9092", 0.05, PLAINTEXT, start, detail=lambda: detail) as got:
        assert got is client
        await asyncio.sleep(sleep_s)
        if raise_ is not None:
            raise raise_
    return client


async def test_the_client_is_closed_after_the_work() -> None:
    assert (await _work_that(None)).closed == 1


async def test_a_deadline_passed_names_the_work_the_broker_and_what_was_learnt() -> None:
    with pytest.raises(BrokerError) as caught:
        await _work_that(None, sleep_s=1.0, detail=" (2 of 3 seen)")
    assert str(caught.value) == "listing things on b:9092 did not finish within 0.05 s (2 of 3 seen)"


async def test_a_kafka_error_becomes_one_broker_error_line() -> None:
    with pytest.raises(BrokerError) as caught:
        await _work_that(KafkaConnectionError("refused"))
    assert str(caught.value).startswith("listing things on b:9092 failed: KafkaConnectionError")


async def test_a_broker_error_of_the_work_passes_through() -> None:
    with pytest.raises(BrokerError) as caught:
        await _work_that(BrokerError("b:9092 refused creating ACL x: SecurityDisabledError"))
    assert str(caught.value) == "b:9092 refused creating ACL x: SecurityDisabledError"


def test_the_request_timeout_is_at_least_a_second() -> None:
    assert request_timeout_ms(0.2) == 1000
    assert request_timeout_ms(15) == 15000
