"""What the client core asks its shell to do: small frozen values, nothing that acts.

The shell sends what :meth:`ClientCore.next_send` hands it and carries out the
actions every other input returns, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vad_dictate.client.assembler import Committed
from vad_dictate.client.assembler import ShowInterim as ShowInterim  # also an action
from vad_dictate.client.pipeline import CancelScore, Outgoing, ScoreTurn
from vad_dictate.errors import VadDictateError

TransmitKind = Literal["silence", "configure", "keepalive", "ping", "audio", "finalize", "close"]


@dataclass(frozen=True, slots=True)
class Transmit:
    """One websocket message to send now; report it with ``ClientCore.sent`` once it left.

    A ``ping`` is a websocket ping frame (``payload`` unused); report its pong with
    ``ClientCore.pong``: the server has read everything sent before it.
    """

    payload: bytes | str
    kind: TransmitKind
    connection: int  # the connection it belongs to: a report from an older one is ignored
    frames: int = 0  # audio frames in ``payload``; a ping: the frames sent before it
    item: Outgoing | None = None  # the outbox item it carries (audio or Finalize)


@dataclass(frozen=True, slots=True)
class Print:
    """Write a finished utterance to the outputs."""

    item: Committed
    latency_ms: float | None


@dataclass(frozen=True, slots=True)
class Notice:
    """A line for stderr; ``verbose`` lines are left out in quiet mode."""

    text: str
    verbose: bool = False
    alert: str = ""  # an event a desktop notification reports too (mic_lost, mic_back)


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A machine-readable status line (JSONL output only)."""

    record: dict[str, object]


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The one-word session state changed (connecting, listening, speech, ...)."""

    state: str


@dataclass(frozen=True, slots=True)
class Connect:
    """Drop any current connection, wait ``delay`` seconds, then open a new one."""

    delay: float


@dataclass(frozen=True, slots=True)
class ReopenInput:
    """The input device failed: reset it, wait ``delay`` seconds and open it again."""

    delay: float


@dataclass(frozen=True, slots=True)
class Finish:
    """Close the connection and end the session: exit 0, or raise ``error``."""

    error: VadDictateError | None = None

    @property
    def exit_code(self) -> int:
        """The process exit code this ending maps to."""
        return 0 if self.error is None else self.error.exit_code


Action = (
    Print
    | ShowInterim
    | Notice
    | StatusRecord
    | StateChanged
    | Connect
    | ReopenInput
    | Finish
    | ScoreTurn  # run the end-of-turn model off the capture path; answer turn_scored
    | CancelScore  # that run's answer is no longer wanted: stop it if it runs
)
