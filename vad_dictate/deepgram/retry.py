"""How the client reacts to a refused handshake or a close frame, and how long it waits.

One place for retry classification (auth / rejected / retry / normal) and backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FailureKind = Literal["auth", "rejected", "retry", "normal"]


@dataclass(frozen=True, slots=True)
class Failure:
    """How the client should react to a failed handshake or a close frame."""

    kind: FailureKind
    message: str

    @property
    def retryable(self) -> bool:
        """True when the client may reconnect with backoff."""
        return self.kind == "retry"


def classify_handshake(status: int, dg_error: str | None = None) -> Failure:
    """Classify an HTTP status that refused the websocket upgrade."""
    detail = f" ({dg_error.strip()})" if dg_error else ""
    if status in (401, 403):
        what = "rejected the API key" if status == 401 else "refused permission for this request"
        return Failure(
            "auth",
            f"The server {what} (HTTP {status}){detail}; check DEEPGRAM_API_KEY "
            "or the api_key setting.",
        )
    if status in (408, 429) or status >= 500:
        return Failure("retry", f"The server is unavailable (HTTP {status}){detail}.")
    return Failure(
        "rejected",
        f"The server rejected the request (HTTP {status}){detail}; check the "
        "model, language and other connection settings.",
    )


def classify_close(code: int | None, reason: str = "") -> Failure:
    """Classify a websocket close (``None`` when the connection dropped without a frame)."""
    if code == 1000:
        return Failure("normal", "The server closed the stream normally.")
    low = reason.lower()
    if code == 1008 or "data-0000" in low:
        return Failure(
            "rejected", f"The server could not decode the audio (close {code}: {reason})."
        )
    if "net-0001" in low or "net0001" in low:
        return Failure("retry", "The server closed the idle connection (NET-0001).")
    shown = f"close {code}" if code is not None else "no close frame"
    return Failure("retry", f"The connection was lost ({shown}{': ' + reason if reason else ''}).")


def backoff_delay(attempt: int, jitter: float, cap: float = 10.0) -> float:
    """Seconds to wait before reconnect ``attempt`` (0-based); ``jitter`` is uniform in [0, 1).

    The first retry is nearly immediate (a blip should cost nothing); later ones
    grow exponentially with "equal jitter" up to ``cap`` so many clients do not
    reconnect in lockstep.
    """
    if attempt <= 0:
        return 0.05 + 0.05 * jitter
    base = min(cap, 0.25 * 2.0 ** min(attempt, 32))
    return base / 2 + base / 2 * jitter
