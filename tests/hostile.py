"""Small hostile servers for end-to-end tests, on 127.0.0.1, each on its own thread.

:class:`HostileProxy` forwards to the real local server (like tests/faultproxy.py) but
misbehaves per connection: closes at once, closes on every Finalize, talks forever
after CloseStream instead of closing, or reads the client's audio slowly.
:class:`SilentListener` accepts TCP connections and never answers the websocket handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

from tests.faultproxy import FaultProxy


class CountingConnection(ServerConnection):
    """Counts the audio bytes its websocket layer has parsed off the socket: what the
    client's pongs can vouch for, whether or not the proxy has taken them yet."""

    parsed_audio = 0

    def process_event(self, event: Event) -> None:
        super().process_event(event)
        if isinstance(event, Frame) and event.opcode is Opcode.BINARY:
            self.parsed_audio += len(event.data)


class HostileProxy(FaultProxy):
    """``close_at_once``: connection number -> close code sent right after the handshake;
    ``close_on_finalize``: close code for every Finalize; ``chatter_s``: after CloseStream,
    never close, send an unknown message this often; ``read_bytes_per_s``: take the client's
    audio no faster than this (``audio_read`` counts the bytes taken)."""

    def __init__(
        self,
        upstream: str,
        close_at_once: dict[int, int] | None = None,
        close_on_finalize: int | None = None,
        chatter_s: float = 0.0,
        read_bytes_per_s: float = 0.0,
    ) -> None:
        super().__init__(upstream)
        self.read_bytes_per_s = read_bytes_per_s
        self.audio_read = 0
        self._clients: list[ServerConnection] = []
        self.close_at_once = close_at_once or {}
        self.close_on_finalize = close_on_finalize
        self.chatter_s = chatter_s

    connection_class = CountingConnection

    @property
    def audio_parsed(self) -> int:
        """Audio bytes the proxy's websocket layer has read from clients (see
        CountingConnection); ``audio_read`` lags it by the websocket's own queue."""
        return sum(c.parsed_audio for c in self._clients if isinstance(c, CountingConnection))

    async def _handle(self, client: ServerConnection) -> None:
        self.connections += 1
        self._clients.append(client)
        code = self.close_at_once.get(self.connections)
        if code is not None:
            await client.close(code, "hostile")
            return
        path = client.request.path if client.request else "/v1/listen"
        query = path.split("?", 1)[1] if "?" in path else ""
        async with connect(f"{self.upstream}?{query}", proxy=None, max_size=None) as up:
            closing = asyncio.Event()
            tasks = [
                asyncio.create_task(self._up(client, up, closing)),
                asyncio.create_task(self._down(client, up, closing)),
                asyncio.create_task(self._chat(client, closing)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await client.close()

    async def _up(
        self, client: ServerConnection, up: ClientConnection, closing: asyncio.Event
    ) -> None:
        async for message in client:
            self.client_messages += 1
            if isinstance(message, bytes) and self.read_bytes_per_s > 0:
                await asyncio.sleep(len(message) / self.read_bytes_per_s)
            if isinstance(message, bytes):
                self.audio_read += len(message)
            if isinstance(message, str) and '"Finalize"' in message:
                self.finalizes += 1
                if self.close_on_finalize is not None:
                    await client.close(self.close_on_finalize, "hostile")
                    return
            if isinstance(message, str) and '"CloseStream"' in message and self.chatter_s > 0:
                closing.set()
                continue  # never passed on: the stream stays open
            with contextlib.suppress(ConnectionClosed):
                await up.send(message)

    async def _down(
        self, client: ServerConnection, up: ClientConnection, closing: asyncio.Event
    ) -> None:
        with contextlib.suppress(ConnectionClosed):  # e.g. the real server's idle timeout
            async for message in up:
                self.server_messages += 1
                await client.send(message)
        if self.chatter_s > 0:
            await asyncio.Event().wait()  # the real server closed: this one never does

    async def _chat(self, client: ServerConnection, closing: asyncio.Event) -> None:
        await closing.wait()
        while True:
            await client.send('{"type":"SomethingNew"}')
            await asyncio.sleep(self.chatter_s)


class SilentListener:
    """A TCP port that accepts connections and never says a word."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self.accepted = threading.Event()  # a client is waiting for its handshake
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> SilentListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._sock.accept()
                self._held.append(conn)
                self.accepted.set()
