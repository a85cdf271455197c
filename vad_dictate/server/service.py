"""The ``/v1/listen`` service: one asyncio task per stream around a :class:`ServerSession`.

The handshake (path, credentials, query, the stream limit) is checked before the
upgrade; then one loop per connection reads a frame, lets the session digest it
on a worker thread (engines may block) and sends what it returns. While a frame is
being digested nothing more is read, so a sender faster than the engine is held back
by TCP flow control instead of queueing audio in the server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import cast

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from vad_dictate.engines.base import Engine
from vad_dictate.errors import ConfigError
from vad_dictate.server.admission import StreamSlots, header_text
from vad_dictate.server.handshake import Connection, check_request
from vad_dictate.server.session import Close, Note, ServerOutput, ServerSession

# Engines cheap enough to serve many streams; the others get a few per core.
CHEAP_ENGINES = {"tone": 512}
# Whisper streams share one model and hold at most MAX_BUFFER of audio each; decodes queue.
SHARED_MODEL_STREAMS = {"whisper": 16}
# Frames waiting in a connection's queue, and the kernel's receive buffer: with the
# reads paused while the engine works, these bound the audio a fast sender has in flight.
MAX_QUEUE = 2
RECEIVE_BUFFER = 64 * 1024
log = logging.getLogger("vad_dictate.server.serve")


def default_max_streams(engine: Engine) -> int:
    """Concurrent streams an engine serves by default: two per core unless it is cheap."""
    per_core = 2 * (os.cpu_count() or 1)
    return CHEAP_ENGINES.get(engine.name, max(per_core, SHARED_MODEL_STREAMS.get(engine.name, 0)))


class _Wake(Enum):
    """Why the connection loop woke up without a message."""

    IDLE = "idle"
    SHUTDOWN = "shutdown"


class ListenService:
    """The server's behaviour, independent of how its event loop is run."""

    def __init__(
        self,
        engine: Engine,
        api_key: str | None,
        idle_timeout: float,
        max_streams: int | None = None,
    ) -> None:
        self.engine = engine
        self.api_key = api_key or None
        self.idle_timeout = idle_timeout
        self.slots = StreamSlots(max_streams or default_max_streams(engine))
        self._stopping = asyncio.Event()

    async def start(self, host: str, port: int) -> Server:
        """Listen on host:port (0 picks a free port)."""
        self._stopping = asyncio.Event()  # bound to this event loop
        try:
            server = await serve(
                self.handle,
                host,
                port,
                create_connection=Connection,
                process_request=self.process_request,
                process_response=self.process_response,
                select_subprotocol=self.select_subprotocol,
                compression=None,
                max_size=16 * 2**20,
                max_queue=MAX_QUEUE,
                # No keepalive pings: while the engine is behind, the client's pong waits
                # behind its audio, and a ping timeout would drop a healthy stream. Dead
                # clients are closed by the idle timeout instead.
                ping_interval=None,
            )
        except OSError as exc:
            raise ConfigError(
                f"Cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port."
            ) from exc
        for sock in server.sockets:  # accepted sockets inherit the listener's buffer size
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        return server

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Check path, credentials, query and the stream limit before the upgrade."""
        return check_request(conn, request, self.api_key, self.slots, self.engine.name)

    def process_response(
        self, conn: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        """Every response, 101 included, carries the request id."""
        response.headers["dg-request-id"] = cast(Connection, conn).request_id
        return None

    def select_subprotocol(
        self, conn: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """Browsers authenticate with subprotocols ``token, KEY``: answer ``token``."""
        return Subprotocol("token") if "token" in offered else None

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one stream until it closes."""
        conn = cast(Connection, ws)
        conn.handled = True
        assert conn.params is not None
        ticket = conn.ticket
        created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        path = header_text(conn.request.path if conn.request else "")
        log.info("%s: open %s", conn.request_id, path)
        session: ServerSession | None = None
        # Recognizers load models and resamplers build filters: keep both off the event loop.
        step: asyncio.Future[object] = asyncio.ensure_future(
            asyncio.to_thread(ServerSession, conn.params, self.engine, conn.request_id, created)
        )
        try:
            session = cast(ServerSession, await asyncio.shield(step))
            while True:
                message = await self._receive(ws)
                if message is _Wake.IDLE:
                    outs = session.idle_timeout()
                elif message is _Wake.SHUTDOWN:
                    outs = session.shutdown()
                else:
                    # Decoding may block (pocketsphinx): keep it off the event loop. While it
                    # runs nothing is read, so a sender faster than the engine is held back.
                    step = asyncio.ensure_future(asyncio.to_thread(_step, session, message))
                    outs = cast(list[ServerOutput], await asyncio.shield(step))
                if await self._dispatch(ws, conn.request_id, outs):
                    return
        except ConnectionClosed as exc:
            log.info("%s: client went away (%s)", conn.request_id, exc)
        finally:

            def release(_: object = None) -> None:
                built = session if session is not None else _built(step)
                if built is not None:
                    built.close()
                if ticket is not None:
                    ticket.release()

            if step.done():
                release()
            else:
                step.add_done_callback(release)  # cancelled mid-step: wait for the worker

    async def _receive(self, ws: ServerConnection) -> str | bytes | _Wake:
        """The next client message, or why there is none (idle timeout, server stopping)."""
        recv = asyncio.ensure_future(ws.recv())
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait(
                (recv, stop), timeout=self.idle_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (recv, stop):
                task.cancel()  # cancelling recv() loses no message
        if recv in done:
            return recv.result()
        return _Wake.SHUTDOWN if stop in done else _Wake.IDLE

    async def stop(self, server: Server) -> None:
        """Stop listening; every open stream gets its Metadata, then close 1001."""
        self._stopping.set()
        server.close(close_connections=False)
        await server.wait_closed()

    async def _dispatch(
        self, ws: ServerConnection, request_id: str, outs: list[ServerOutput]
    ) -> bool:
        for out in outs:
            if isinstance(out, Note):
                log.warning("%s: %s", request_id, out.text)
            elif isinstance(out, Close):
                log.info("%s: closing %d %s", request_id, out.code, out.reason)
                await ws.close(out.code, out.reason)
                return True
            else:
                await ws.send(out)
        return False


def _built(step: asyncio.Future[object]) -> ServerSession | None:
    """The session a finished construction step made, if that is what the step was."""
    if step.cancelled() or step.exception() is not None:
        return None
    result = step.result()
    return result if isinstance(result, ServerSession) else None


def _step(session: ServerSession, message: str | bytes) -> list[ServerOutput]:
    if isinstance(message, bytes):
        return session.receive_bytes(message)
    return session.receive_text(message)
