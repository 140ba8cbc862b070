"""A TCP proxy that can cut a tablet's network: the tablet talks to the proxy, the
proxy to the server or relay. ``cut()`` drops every open connection and refuses
new ones, as a tunnel or a dead LTE cell would; ``restore()`` lets traffic through
again on the same port."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class TcpProxy:
    target_host: str
    target_port: int
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    _server: asyncio.Server | None = None
    _links: set[asyncio.StreamWriter] = field(default_factory=set)
    cuts: int = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._handle, self.listen_host, self.listen_port, reuse_address=True
        )
        self.listen_port = int(self._server.sockets[0].getsockname()[1])
        return self.listen_port

    @property
    def url_host(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    async def cut(self) -> None:
        """Drop every link and stop listening."""
        self.cuts += 1
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._links):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._links.clear()

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        await self.cut()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}
        try:
            await asyncio.gather(
                _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
            )
        except asyncio.CancelledError:
            pass  # the event loop is closing: the link just ends
        finally:
            for w in (writer, up_writer):
                self._links.discard(w)
                with contextlib.suppress(Exception):
                    w.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.transport.abort()
