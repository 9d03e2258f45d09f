"""Sync and async context management for a broker that has ``start()`` and ``stop()``."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

__all__ = ["StartStop"]


class StartStop:
    """``with b:`` / ``async with b:`` and ``start_async``/``stop_async`` over ``start()`` and ``stop()``."""

    def start(self) -> Self:
        """Start and wait until ready; idempotent."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop; idempotent."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def start_async(self) -> Self:
        """:meth:`start` without blocking the event loop."""
        return await asyncio.to_thread(self.start)

    async def stop_async(self) -> None:
        """:meth:`stop` without blocking the event loop."""
        await asyncio.to_thread(self.stop)

    async def __aenter__(self) -> Self:
        return await self.start_async()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_async()
