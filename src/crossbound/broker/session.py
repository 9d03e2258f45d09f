"""One administrative round trip to a broker: a started client, a deadline, and one error type.

Every admin call of the project (topics, configs, ACLs) has the same shape: start a client, do the
work within ``timeout_s``, close the client whatever happens; a deadline passed or a Kafka client
error becomes one :class:`~crossbound.errors.BrokerError` line naming what was being done and the
broker. :func:`round_trip` is that shape once; :func:`started_admin` and :func:`started_client` are
the two clients it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.errors import BrokerError

__all__ = ["request_timeout_ms", "round_trip", "started_admin", "started_client"]


class _Closable(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


def request_timeout_ms(timeout_s: float) -> int:
    """The client's per-request timeout for a round trip of ``timeout_s`` (at least one second)."""
    return max(1000, int(timeout_s * 1000))


async def started_admin(
    bootstrap: str, timeout_s: float, security: ClientSecurity = PLAINTEXT
) -> AIOKafkaAdminClient:
    """A started admin client (closed again if starting fails)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="crossbound-admin",
        request_timeout_ms=request_timeout_ms(timeout_s),
        **security.aiokafka_kwargs(),
    )
    try:
        await admin.start()
    except BaseException:
        await admin.close()
        raise
    return admin


async def started_client(
    bootstrap: str, timeout_s: float, security: ClientSecurity = PLAINTEXT
) -> AIOKafkaClient:
    """A bootstrapped low-level client, for requests the admin client lacks (ACLs)."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        client_id="crossbound-acls",
        request_timeout_ms=request_timeout_ms(timeout_s),
        **security.aiokafka_kwargs(),
    )
    try:
        await client.bootstrap()
    except BaseException:
        await client.close()
        raise
    return client


@asynccontextmanager
async def round_trip(
    what: str,
    bootstrap: str,
    timeout_s: float,
    security: ClientSecurity,
    start: Callable[[str, float, ClientSecurity], Awaitable[C]],
    *,
    detail: Callable[[], str] | None = None,
) -> AsyncIterator[C]:
    """The client ``start(bootstrap, timeout_s, security)`` gives (:func:`started_admin`,
    :func:`started_client`), for work that must end within ``timeout_s``.

    ``what`` says what the work does ("creating topics [...]"); ``detail`` adds what was learnt
    before a deadline passed. A :class:`BrokerError` raised by the work passes through unchanged.
    """
    try:
        async with asyncio.timeout(timeout_s):
            client = await start(bootstrap, timeout_s, security)
            try:
                yield client
            finally:
                await client.close()
    except TimeoutError as exc:
        more = "" if detail is None else detail()
        raise BrokerError(f"{what} on {bootstrap} did not finish within {timeout_s:g} s{more}") from exc
    except KafkaError as exc:
        raise BrokerError(f"{what} on {bootstrap} failed: {exc!r}") from exc
