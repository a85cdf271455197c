"""The websocket to the server: opening it (failures named in the error tree's terms),
and :class:`Link`, which carries the core's messages out and the server's events in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Protocol
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from vad_dictate.audio.block import AudioBlock
from vad_dictate.client.actions import Transmit
from vad_dictate.client.capture import SessionOptions
from vad_dictate.client.pipeline import SendAudio, SendFinalize
from vad_dictate.deepgram import protocol as proto
from vad_dictate.deepgram import retry
from vad_dictate.errors import AuthError, RequestRejected, TransportError

OPEN_TIMEOUT_S = 10.0
MAX_MESSAGE_BYTES = 16 * 2**20


async def open_connection(opts: SessionOptions) -> ClientConnection:
    """Open the websocket; a failure raises AuthError, RequestRejected or TransportError."""
    url = proto.build_url(opts.url, opts.connect)
    host = urlsplit(url).hostname or ""
    loopback = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    try:
        return await connect(
            url,
            additional_headers=proto.auth_headers(opts.api_key),
            open_timeout=OPEN_TIMEOUT_S,
            max_size=MAX_MESSAGE_BYTES,
            proxy=None if loopback else True,
            ping_interval=None,  # the core pings, and tells a busy server from a gone one
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        failure = retry.classify_handshake(status, exc.response.headers.get("dg-error"))
        if failure.kind == "auth":
            raise AuthError(failure.message) from exc
        if failure.kind == "rejected":
            raise RequestRejected(failure.message) from exc
        raise TransportError(failure.message) from exc
    except (OSError, InvalidHandshake, TimeoutError, websockets.InvalidURI) as exc:
        raise TransportError(
            f"Cannot reach the server at {_where(opts.url)} ({_describe(exc)}); check the "
            "network and the --url setting."
        ) from exc


class Recorder(Protocol):
    """Diagnostics hooks (``--record``): everything the session hears, decides, sends, gets."""

    def audio(self, block: AudioBlock) -> None: ...

    def sent(self, item: SendAudio | SendFinalize | str) -> None: ...

    def received(self, raw: str | bytes) -> None: ...


class Link:
    """One open connection: the core's messages out, the server's events in, both recorded."""

    def __init__(self, ws: ClientConnection, recorder: Recorder | None = None) -> None:
        self.ws, self.recorder = ws, recorder

    async def send(self, message: Transmit, ponged: Callable[[Transmit], None]) -> bool:
        """Send ``message`` (False: the connection has ended); for a ping, ``ponged(message)``
        runs when its pong arrives."""
        try:
            if message.kind == "ping":
                pong = asyncio.ensure_future(await self.ws.ping())
                pong.add_done_callback(
                    lambda f: None if f.cancelled() or f.exception() else ponged(message)
                )
                return True
            await self.ws.send(message.payload)
        except ConnectionClosed:
            return False
        if self.recorder is not None and message.item is not None:
            self.recorder.sent(message.item)
        return True

    async def events(self) -> AsyncIterator[proto.ServerEvent]:
        """The server's messages, parsed, until the connection ends."""
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                if self.recorder is not None:
                    self.recorder.received(raw)
                yield proto.parse_server_message(raw)

    def failure(self) -> retry.Failure:
        """How the connection ended: its close frame, classified (None: no frame at all)."""
        return retry.classify_close(self.ws.close_code, self.ws.close_reason or "")

    async def close(self) -> None:
        """Close (a no-op once closed)."""
        await self.ws.close()


async def open_link(
    opts: SessionOptions, recorder: Recorder | None, stop: asyncio.Event
) -> Link | None:
    """:func:`open_connection`, or None once ``stop`` is set (a handshake may hang)."""
    opening = asyncio.create_task(open_connection(opts))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not opening.done():
        opening.cancel()
        await asyncio.gather(opening, return_exceptions=True)
        return None
    return Link(opening.result(), recorder)


def _where(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: never its userinfo, where a key may hide."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, websockets.InvalidURI):
        return "not a valid ws:// or wss:// URL"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
