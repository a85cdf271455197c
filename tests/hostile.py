"""Small hostile servers for end-to-end tests, on 127.0.0.1, each on its own thread.

:class:`HostileProxy` forwards to the real local server (like tests/faultproxy.py) but
misbehaves per connection: closes at once, closes on every Finalize, or talks forever
after CloseStream instead of closing. :class:`SilentListener` accepts TCP connections
and never answers the websocket handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tests.faultproxy import FaultProxy


class HostileProxy(FaultProxy):
    """``close_at_once``: connection number -> close code sent right after the handshake;
    ``close_on_finalize``: close code for every Finalize; ``chatter_s``: after CloseStream,
    never close, send an unknown message this often."""

    def __init__(
        self,
        upstream: str,
        close_at_once: dict[int, int] | None = None,
        close_on_finalize: int | None = None,
        chatter_s: float = 0.0,
    ) -> None:
        super().__init__(upstream)
        self.close_at_once = close_at_once or {}
        self.close_on_finalize = close_on_finalize
        self.chatter_s = chatter_s

    async def _handle(self, client: ServerConnection) -> None:
        self.connections += 1
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
