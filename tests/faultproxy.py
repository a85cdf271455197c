"""A websocket proxy that injects faults between the app and the local server.

It forwards every message both ways and, when the running count of client
messages reaches a scheduled point, breaks the connection the way networks and
servers do: a 1011 close, a drop with no close frame, a stall, refused
handshakes, or hostile messages injected towards the client. It runs on its own
thread and event loop, so the app under test can be a real subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

FaultKind = Literal["close1011", "abort", "stall", "inject", "refuse"]


@dataclass
class Fault:
    """Break the connection when the client has sent ``at`` messages in total.

    With ``after_finalize`` set, ``at`` counts Finalize messages instead, and the
    fault fires right after that Finalize reached the server: between the
    Finalize and its acknowledgement.
    """

    at: int
    kind: FaultKind
    payload: list[str | bytes] = field(default_factory=list)  # for "inject"
    refuse: int = 0  # for "refuse": handshakes to refuse after the break
    after_finalize: bool = False
    server_messages: bool = False  # "stall" only: ``at`` counts messages to the client


class FaultProxy:
    """Proxy ``upstream`` (a ws:// URL of the local server) with scheduled faults."""

    connection_class = ServerConnection  # how the client side of the proxy is served

    def __init__(
        self, upstream: str, faults: list[Fault] | None = None, stall_all: bool = False
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.stall_all = stall_all  # every connection is answered by silence
        self.faults = sorted(faults or [], key=lambda f: f.at)
        self.client_messages = 0
        self.finalizes = 0
        self.server_messages = 0
        self.connections = 0
        self.refused = 0
        self.fired: list[str] = []
        self.audio_log: list[tuple[int, float, int]] = []  # (connection, arrival time, bytes)
        self.first_audio: dict[int, bytes] = {}  # each connection's first audio message
        self.text_log: list[tuple[int, float, str]] = []  # (connection, arrival time, text)
        self._refuse = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.url = ""

    def start(self) -> str:
        """Start on a free loopback port; return the URL clients use."""
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.url = fut.result(timeout=10)
        return self.url

    def stop(self) -> None:
        """Stop the proxy and its thread."""
        if self._server is not None:
            server = self._server

            async def close() -> None:
                server.close()
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> str:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            max_size=None,
            create_connection=self.connection_class,
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/v1/listen"

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self._refuse > 0:
            self._refuse -= 1
            self.refused += 1
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "injected outage\n")
        return None

    async def _handle(self, client: ServerConnection) -> None:
        self.connections += 1
        path = client.request.path if client.request else "/v1/listen"
        query = path.split("?", 1)[1] if "?" in path else ""
        headers = Headers()
        if client.request and "Authorization" in client.request.headers:
            headers["Authorization"] = client.request.headers["Authorization"]
        async with connect(
            f"{self.upstream}?{query}", additional_headers=headers, proxy=None, max_size=None
        ) as up:
            stalled = asyncio.Event()
            if self.stall_all:
                stalled.set()
            upward = asyncio.create_task(self._client_to_server(client, up, stalled))
            downward = asyncio.create_task(self._server_to_client(client, up, stalled))
            await asyncio.wait({upward, downward}, return_when=asyncio.FIRST_COMPLETED)
            for task in (upward, downward):
                task.cancel()
            await asyncio.gather(upward, downward, return_exceptions=True)
        with contextlib.suppress(Exception):
            await client.close()

    async def _client_to_server(
        self, client: ServerConnection, up: ClientConnection, stalled: asyncio.Event
    ) -> None:
        closing = False
        async for message in client:
            if closing:
                continue  # keep reading so the client's close frame gets through
            self.client_messages += 1
            if isinstance(message, bytes):
                self.audio_log.append((self.connections, time.monotonic(), len(message)))
                self.first_audio.setdefault(self.connections, message)
            else:
                self.text_log.append((self.connections, time.monotonic(), message))
            is_finalize = isinstance(message, str) and '"Finalize"' in message
            if not stalled.is_set():
                with contextlib.suppress(ConnectionClosed):
                    await up.send(message)
            self.finalizes += is_finalize
            for fault in self._due(is_finalize):
                self.fired.append(f"{fault.kind}@{self.client_messages}")
                if fault.kind == "close1011":
                    self._tasks.add(asyncio.create_task(client.close(1011, "injected error")))
                    closing = True
                    break
                if await self._fire(fault, client, stalled):
                    return

    def _due(self, is_finalize: bool) -> list[Fault]:
        # One fault a message: the first may close the connection, so a second one due at
        # the same message waits for the next message it applies to (it was lost before).
        for f in self.faults:
            if not f.server_messages and (
                (f.after_finalize and is_finalize and f.at <= self.finalizes)
                or (not f.after_finalize and f.at <= self.client_messages)
            ):
                self.faults.remove(f)
                return [f]
        return []

    async def _fire(self, fault: Fault, client: ServerConnection, stalled: asyncio.Event) -> bool:
        """Apply ``fault``; True when the connection is gone."""
        if fault.kind == "abort":
            client.transport.abort()  # no close frame: the client sees 1006
            return True
        if fault.kind == "refuse":
            self._refuse = fault.refuse
            client.transport.abort()
            return True
        if fault.kind == "stall":
            stalled.set()  # keep reading the client, answer nothing, forward nothing
            return False
        for raw in fault.payload:
            await client.send(raw)
        return False

    async def _server_to_client(
        self, client: ServerConnection, up: ClientConnection, stalled: asyncio.Event
    ) -> None:
        async for message in up:
            if stalled.is_set():
                continue
            self.server_messages += 1
            due = [f for f in self.faults if f.server_messages and f.at <= self.server_messages]
            for fault in due:
                self.faults.remove(fault)
                self.fired.append(f"stall@server{self.server_messages}")
                stalled.set()
            if not stalled.is_set():
                await client.send(message)


def results(
    start: float, duration: float, words: list[tuple[str, float, float]], **flags: bool
) -> str:
    """A well-formed Results message (for injecting duplicates and out-of-range spans)."""
    return json.dumps(
        {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": duration,
            "start": start,
            "is_final": flags.get("is_final", True),
            "speech_final": flags.get("speech_final", False),
            "channel": {
                "alternatives": [
                    {
                        "transcript": " ".join(w for w, _, _ in words),
                        "confidence": 0.9,
                        "words": [
                            {"word": w, "start": s, "end": e, "confidence": 0.9}
                            for w, s, e in words
                        ],
                    }
                ]
            },
            "from_finalize": flags.get("from_finalize", False),
        }
    )
