"""``vad-dictate serve``: a local Deepgram-compatible ``/v1/listen`` websocket server.

A thin asyncio shell around :class:`~vad_dictate.server_session.ServerSession`:
the handshake (path, credentials, query), one loop per connection that reads a
frame, lets the session digest it on a worker thread (engines may block) and
sends what it returns, and the idle timer. Run it from the command line
(:func:`run_serve`) or inside another program (:class:`BackgroundServer`).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import importlib
import json
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from http import HTTPStatus
from types import TracebackType
from typing import cast
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from vad_dictate.engines.base import Engine
from vad_dictate.errors import ConfigError
from vad_dictate.server.session import (
    Close,
    Note,
    ParamError,
    ServerOutput,
    ServerSession,
    StreamParams,
    parse_params,
)

LISTEN_PATH = "/v1/listen"
DEFAULT_PORT = 8765
ENGINES = {
    "tone": ("vad_dictate.engines.tone", "ToneEngine"),
    "pocketsphinx": ("vad_dictate.engines.sphinx", "SphinxEngine"),
}
log = logging.getLogger("vad_dictate.server.serve")


def load_engine(name: str) -> Engine:
    """Load a recognition engine by name ("tone" or "pocketsphinx")."""
    if name not in ENGINES:
        raise ConfigError(f"Unknown engine '{name}'; use one of: {', '.join(ENGINES)}.")
    module_name, class_name = ENGINES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"The {name} engine cannot be loaded ({exc}); reinstall vad-dictate or use "
            "--engine tone."
        ) from exc
    return cast(Engine, getattr(module, class_name)())


class _Wake(Enum):
    """Why the connection loop woke up without a message."""

    IDLE = "idle"
    SHUTDOWN = "shutdown"


class _Connection(ServerConnection):
    """A connection that remembers its request id and its validated query."""

    request_id: str = ""
    params: StreamParams | None = None


def _offered_subprotocols(request: Request) -> list[str]:
    values = request.headers.get_all("Sec-WebSocket-Protocol")
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def _authorized(request: Request, key: str) -> bool:
    """Accept ``Authorization: Token K`` / ``Bearer K`` or subprotocols ``token, K``."""
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and hmac.compare_digest(
        credential.strip().encode(), key.encode()
    ):
        return True
    offered = _offered_subprotocols(request)
    return "token" in offered and any(
        hmac.compare_digest(p.encode(), key.encode()) for p in offered
    )


def _error(conn: ServerConnection, status: HTTPStatus, code: str, message: str) -> Response:
    """A failed upgrade as Deepgram sends it: JSON body and a dg-error header."""
    request_id = cast(_Connection, conn).request_id
    body = json.dumps({"err_code": code, "err_msg": message, "request_id": request_id})
    response = conn.respond(status, body)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    response.headers["dg-error"] = message
    return response


class ListenService:
    """The server's behaviour, independent of how its event loop is run."""

    def __init__(self, engine: Engine, api_key: str | None, idle_timeout: float) -> None:
        self.engine = engine
        self.api_key = api_key or None
        self.idle_timeout = idle_timeout
        self._stopping = asyncio.Event()

    async def start(self, host: str, port: int) -> Server:
        """Listen on host:port (0 picks a free port)."""
        self._stopping = asyncio.Event()  # bound to this event loop
        try:
            return await serve(
                self.handle,
                host,
                port,
                create_connection=_Connection,
                process_request=self.process_request,
                process_response=self.process_response,
                select_subprotocol=self.select_subprotocol,
                compression=None,
                max_size=16 * 2**20,
            )
        except OSError as exc:
            raise ConfigError(
                f"Cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port."
            ) from exc

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Check path, credentials and query before the upgrade."""
        c = cast(_Connection, conn)
        c.request_id = str(uuid.uuid4())
        url = urlsplit(request.path)
        if url.path.rstrip("/") != LISTEN_PATH:
            return _error(conn, HTTPStatus.NOT_FOUND, "NOT_FOUND", f"No such path: {url.path}")
        if self.api_key is not None and not _authorized(request, self.api_key):
            return _error(conn, HTTPStatus.UNAUTHORIZED, "INVALID_AUTH", "Invalid credentials.")
        try:
            c.params = parse_params(url.query)
        except ParamError as exc:
            return _error(conn, HTTPStatus.BAD_REQUEST, "Bad Request", str(exc))
        return None

    def process_response(
        self, conn: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        """Every response, 101 included, carries the request id."""
        c = cast(_Connection, conn)
        response.headers["dg-request-id"] = c.request_id or str(uuid.uuid4())
        return None

    def select_subprotocol(
        self, conn: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """Browsers authenticate with subprotocols ``token, KEY``: answer ``token``."""
        return Subprotocol("token") if "token" in offered else None

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one stream until it closes."""
        conn = cast(_Connection, ws)
        assert conn.params is not None
        created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        session = ServerSession(conn.params, self.engine, conn.request_id, created)
        log.info("%s: open %s", conn.request_id, conn.request.path if conn.request else "")
        step: asyncio.Future[list[ServerOutput]] | None = None
        try:
            while True:
                message = await self._receive(ws)
                if message is _Wake.IDLE:
                    outs = session.idle_timeout()
                elif message is _Wake.SHUTDOWN:
                    outs = session.shutdown()
                else:
                    # Decoding may block (pocketsphinx): keep it off the event loop.
                    step = asyncio.ensure_future(asyncio.to_thread(_step, session, message))
                    outs = await asyncio.shield(step)
                if await self._dispatch(ws, conn.request_id, outs):
                    return
        except ConnectionClosed as exc:
            log.info("%s: client went away (%s)", conn.request_id, exc)
        finally:
            if step is not None and not step.done():
                # Cancelled mid-step: release the recognizers once the worker is done.
                step.add_done_callback(lambda _: session.close())
            else:
                session.close()

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


def _step(session: ServerSession, message: str | bytes) -> list[ServerOutput]:
    if isinstance(message, bytes):
        return session.receive_bytes(message)
    return session.receive_text(message)


def _url(server: Server, host: str) -> str:
    port = server.sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"ws://{shown}:{port}{LISTEN_PATH}"


class BackgroundServer:
    """The server on its own thread and event loop, for embedding (e.g. offline dictation)."""

    def __init__(
        self,
        engine: Engine,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        idle_timeout: float = 10.0,
    ) -> None:
        self._service = ListenService(engine, api_key, idle_timeout)
        self._host, self._port = host, port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._url = ""
        self._error: BaseException | None = None

    def start(self) -> str:
        """Start serving; return the ``ws://host:port/v1/listen`` URL."""
        if self._thread is not None:
            return self._url
        self._thread = threading.Thread(target=self._run, name="vad-dictate-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        return self._url

    def stop(self) -> None:
        """Close every connection and the listener; wait for the thread to end."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        self._thread = None

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            server = await self._service.start(self._host, self._port)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._url = _url(server, self._host)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._service.stop(server)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to a parser."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (0: any free port; the URL says which)"
    )
    parser.add_argument(
        "--engine",
        default="pocketsphinx",
        metavar="|".join(ENGINES),
        help="recognition engine (tone: the deterministic test engine)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="require this key from clients (default: $DEEPGRAM_API_KEY; unset: open server)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close streams on which the client sent nothing for this long",
    )


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; print the URL as the only line on stdout."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s"
        )
    if args.idle_timeout <= 0:
        raise ConfigError(f"--idle-timeout must be positive, not {args.idle_timeout}.")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535 (0: any free one), not {args.port}.")
    engine = load_engine(args.engine)
    api_key = args.api_key or os.environ.get("DEEPGRAM_API_KEY") or None
    service = ListenService(engine, api_key, args.idle_timeout)
    asyncio.run(_serve_until_signal(service, args.host, args.port))
    return 0


async def _serve_until_signal(service: ListenService, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = await service.start(host, port)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({reason}); choose another --port or --host "
            "(--port 0 picks a free one)."
        ) from exc
    print(_url(server, host), flush=True)
    log.info("serving with the %s engine; stop with Ctrl-C", service.engine.name)
    try:
        await stop.wait()
    finally:
        await service.stop(server)
