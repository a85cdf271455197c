"""Opening a websocket to the server and naming what went wrong, in the error tree's terms."""

from __future__ import annotations

from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from vad_dictate.client.capture import SessionOptions
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


def close_failure(ws: ClientConnection) -> retry.Failure:
    """How the connection ended: its close frame, classified (None: no frame at all)."""
    return retry.classify_close(ws.close_code, ws.close_reason or "")


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
