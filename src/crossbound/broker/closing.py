"""Run a Kafka client coroutine to its end, sockets included.

aiokafka closes some connections without waiting for them (its bootstrap connection, a connection
that failed a login): the socket closes later, in a loop callback. On TLS that takes the close_notify
exchange with the broker, several turns of the loop. A loop closed before then (``asyncio.run``
returning, a test's loop torn down) leaves the transport to the garbage collector, which warns
"unclosed transport" wherever it happens to run. :func:`run_closed` and :func:`sockets_closed` wait
for those sockets, with a bound, so a finished command leaves nothing open behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["open_sockets", "run_closed", "sockets_closed"]

T = TypeVar("T")

#: long enough for a loaded broker to answer close_notify, short enough not to hold up an exit
CLOSE_WAIT_S = 5.0


def open_sockets(loop: asyncio.AbstractEventLoop) -> int:
    """How many socket transports of ``loop`` still hold their socket (closing ones included)."""
    # BaseSelectorEventLoop keeps fd -> transport (weakly); a transport drops its socket once closed.
    transports = getattr(loop, "_transports", None)
    if transports is None:  # another loop implementation: nothing to look at
        return 0
    return sum(1 for transport in list(transports.values()) if getattr(transport, "_sock", None) is not None)


async def sockets_closed(timeout_s: float = CLOSE_WAIT_S, *, allowed: int = 0) -> bool:
    """Until at most ``allowed`` sockets of the running loop are open, or ``timeout_s``; True if so."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    await asyncio.sleep(0)  # the close callbacks already scheduled
    while open_sockets(loop) > allowed:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _then_closed(work: Coroutine[Any, Any, T], allowed: int) -> T:
    try:
        return await work
    finally:
        await sockets_closed(allowed=allowed)


def run_closed(work: Coroutine[Any, Any, T], *, allowed: int = 0) -> T:
    """``asyncio.run(work)``, then (success or failure) until its sockets have closed."""
    return asyncio.run(_then_closed(work, allowed))
