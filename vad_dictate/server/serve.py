"""``vad-dictate serve``: a local Deepgram-compatible ``/v1/listen`` websocket server.

The service itself is :class:`~vad_dictate.server.service.ListenService`; this
module loads an engine and runs it from the command line (:func:`run_serve`) or
inside another program (:class:`BackgroundServer`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import cast

from websockets.asyncio.server import Server

from vad_dictate.engines.base import Engine
from vad_dictate.errors import ConfigError
from vad_dictate.server.admission import exposure_problem
from vad_dictate.server.handshake import LISTEN_PATH
from vad_dictate.server.service import ListenService

DEFAULT_PORT = 8765
ENGINES = {
    "tone": ("vad_dictate.engines.tone", "ToneEngine"),
    "pocketsphinx": ("vad_dictate.engines.sphinx", "SphinxEngine"),
    "whisper": ("vad_dictate.engines.whisper", "WhisperEngine"),
}
log = logging.getLogger("vad_dictate.server.serve")


def load_engine(name: str, model: str = "tiny.en", threads: int = 0) -> Engine:
    """Load a recognition engine by name; ``model`` and ``threads`` are whisper's."""
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
    engine_class = getattr(module, class_name)
    if name == "whisper":
        return cast(Engine, engine_class(model, threads))
    return cast(Engine, engine_class())


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
        max_streams: int | None = None,
    ) -> None:
        self._service = ListenService(engine, api_key, idle_timeout, max_streams)
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
        "--model",
        default="tiny.en",
        help="whisper model: tiny.en, base.en, base, small.en, ... or a model directory",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="whisper decoding threads (0: one per core)"
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="require this key from clients; it shows in the process list, so prefer "
        "$DEEPGRAM_API_KEY (the default) or --api-key-file",
    )
    parser.add_argument(
        "--api-key-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="require the key stored in this file (its first line)",
    )
    parser.add_argument(
        "--allow-open",
        action="store_true",
        help="listen on a non-loopback --host without any key (anyone who reaches it may use it)",
    )
    parser.add_argument(
        "--max-streams",
        type=int,
        default=None,
        metavar="N",
        help="streams served at once; more are refused with 429 (default: 512 for tone, "
        "16 for whisper, two per CPU core for other engines)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close streams on which the client sent nothing for this long",
    )


def _read_key_file(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigError(f"Cannot read --api-key-file {path} ({reason}).") from exc
    key = lines[0].strip() if lines else ""
    if not key:
        raise ConfigError(f"--api-key-file {path} is empty; put the key on its first line.")
    return key


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from --api-key-file, --api-key or $DEEPGRAM_API_KEY, in that order."""
    if args.api_key_file is not None:
        return _read_key_file(args.api_key_file)
    if args.api_key:
        log.warning(
            "--api-key shows the key in the process list; use DEEPGRAM_API_KEY or --api-key-file"
        )
        return str(args.api_key)
    return os.environ.get("DEEPGRAM_API_KEY") or None


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
    if args.max_streams is not None and args.max_streams < 1:
        raise ConfigError(f"--max-streams must be at least 1, not {args.max_streams}.")
    api_key = _api_key(args)
    problem = exposure_problem(args.host, api_key is not None, args.allow_open)
    if problem is not None:
        raise ConfigError(problem)
    engine = load_engine(args.engine, args.model, args.threads)
    service = ListenService(engine, api_key, args.idle_timeout, args.max_streams)
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
    log.info("serving with %s; stop with Ctrl-C", service.engine.describe())
    try:
        await stop.wait()
    finally:
        await service.stop(server)
