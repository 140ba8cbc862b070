"""The load run's page stand-in counts live events exactly, however TCP splits them."""

from __future__ import annotations

import asyncio
import time

from simulation.http import follow_events

EVENTS = b"retry: 2000\n\n" + b"".join(
    b'event: unit.updated\ndata: {"id": %d}\n\n' % n for n in range(40)
)


def test_every_event_is_counted_once_whatever_the_chunk_boundaries() -> None:
    async def scenario(step: int) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
            for i in range(0, len(EVENTS), step):  # cut anywhere, markers included
                writer.write(EVENTS[i : i + step])
                await writer.drain()
                await asyncio.sleep(0)
            await asyncio.sleep(0.6)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        seen = 0

        def count() -> None:
            nonlocal seen
            seen += 1

        async with server:
            why = await follow_events(
                f"http://127.0.0.1:{port}", "t", until=time.monotonic() + 0.5, on_event=count
            )
        assert why == ""
        return seen

    for step in (1, 3, 7, 8, 9, 64):
        assert asyncio.run(scenario(step)) == 40, step
