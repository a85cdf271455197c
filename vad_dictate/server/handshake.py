"""The HTTP side of ``/v1/listen``: path, credentials, query and admission before the upgrade."""

from __future__ import annotations

import hmac
import json
import uuid
from http import HTTPStatus
from typing import cast
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from vad_dictate.server.admission import StreamSlots, Ticket, header_text
from vad_dictate.server.params import ParamError, StreamParams, parse_params

LISTEN_PATH = "/v1/listen"


class Connection(ServerConnection):
    """A connection that remembers its request id, its validated query and its stream slot."""

    request_id: str = ""
    params: StreamParams | None = None
    ticket: Ticket | None = None
    handled = False  # the handler runs and owns the ticket from then on

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # A handshake that fails after admission never reaches the handler.
        if self.ticket is not None and not self.handled:
            self.ticket.release()


def offered_subprotocols(request: Request) -> list[str]:
    values = request.headers.get_all("Sec-WebSocket-Protocol")
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def authorized(request: Request, key: str) -> bool:
    """Accept ``Authorization: Token K`` / ``Bearer K`` or subprotocols ``token, K``."""
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and hmac.compare_digest(
        credential.strip().encode(errors="surrogateescape"), key.encode()
    ):
        return True
    offered = offered_subprotocols(request)
    return "token" in offered and any(
        hmac.compare_digest(p.encode(errors="surrogateescape"), key.encode()) for p in offered
    )


def error_response(conn: ServerConnection, status: HTTPStatus, code: str, message: str) -> Response:
    """A failed upgrade as Deepgram sends it: JSON body and a dg-error header (printable ASCII)."""
    request_id = cast(Connection, conn).request_id
    safe = header_text(message)
    body = json.dumps({"err_code": code, "err_msg": safe, "request_id": request_id})
    response = conn.respond(status, body)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    response.headers["dg-error"] = safe
    return response


def check_request(
    conn: ServerConnection, request: Request, api_key: str | None, slots: StreamSlots, engine: str
) -> Response | None:
    """Admit the stream (None) or answer 404, 401, 400 or 429; an admitted one holds a slot."""
    c = cast(Connection, conn)
    c.request_id = str(uuid.uuid4())
    url = urlsplit(request.path)
    if url.path.rstrip("/") != LISTEN_PATH:
        return error_response(conn, HTTPStatus.NOT_FOUND, "NOT_FOUND", f"No such path: {url.path}")
    if api_key is not None and not authorized(request, api_key):
        return error_response(conn, HTTPStatus.UNAUTHORIZED, "INVALID_AUTH", "Invalid credentials.")
    try:
        c.params = parse_params(url.query)
    except ParamError as exc:
        return error_response(conn, HTTPStatus.BAD_REQUEST, "Bad Request", str(exc))
    if not slots.take():
        return error_response(
            conn,
            HTTPStatus.TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            f"This server already serves {slots.limit} streams with the {engine} engine "
            "(its --max-streams); retry later.",
        )
    c.ticket = Ticket(slots)
    return None
