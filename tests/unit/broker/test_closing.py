"""Waiting for sockets a client closed without waiting (aiokafka's bootstrap connection)."""

from __future__ import annotations

import asyncio

from crossbound.broker.closing import open_sockets, run_closed, sockets_closed


async def _serve() -> tuple[asyncio.Server, int]:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_connection_closed_without_waiting_is_open_until_the_loop_turns() -> None:
    server, port = await _serve()
    async with server:
        loop = asyncio.get_running_loop()
        before = open_sockets(loop)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert open_sockets(loop) > before
        writer.close()  # not awaited, as aiokafka closes its bootstrap connection
        assert open_sockets(loop) > before
        server.close()
        assert await sockets_closed(timeout_s=5.0)
        assert open_sockets(loop) == 0


async def test_a_connection_still_open_is_reported_after_the_timeout() -> None:
    server, port = await _serve()
    async with server:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert not await sockets_closed(timeout_s=0.05)
        finally:
            writer.close()
            await writer.wait_closed()


def test_run_closed_returns_the_result_once_its_sockets_have_closed() -> None:
    async def work() -> asyncio.BaseTransport:
        server, port = await _serve()
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()  # not awaited
            return writer.transport

    transport = run_closed(work())
    assert transport.is_closing()
    assert transport.get_extra_info("socket") is not None  # it had one
    assert "closed" in repr(transport)  # asyncio's mark of a transport whose socket is closed
