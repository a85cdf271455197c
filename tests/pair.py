"""An in-memory client<->server pair: ClientCore wired to the server's pure ServerSession.

No socket, no event loop, no clock: time is simulated, so a whole dictation session
over tone audio, faults included, runs in-process in milliseconds. Faults break the
link the ways tests/faultproxy.py breaks a real one (a 1011 close, a drop with no
close frame, a stall, refused handshakes, hostile messages), counted the same way:
by client messages, by Finalizes, or by server messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vad_dictate.audio.block import AudioBlock, Int16Array
from vad_dictate.client.actions import (
    Action,
    Connect,
    Finish,
    Notice,
    Print,
    ShowInterim,
    Transmit,
)
from vad_dictate.client.core import ClientCore, SessionOptions
from vad_dictate.client.pipeline import PipelineSettings
from vad_dictate.client.ticks import TICK_S
from vad_dictate.deepgram import protocol as proto
from vad_dictate.deepgram import retry
from vad_dictate.engines.base import Engine
from vad_dictate.engines.tone import ToneEngine
from vad_dictate.errors import TransportError
from vad_dictate.server.session import Close, Note, ServerSession, parse_params
from vad_dictate.vad.events import EndpointerSettings

RATE = 16000
BLOCK_S = 0.02

FaultKind = Literal["close1011", "abort", "stall", "inject", "refuse", "close1000"]


@dataclass
class Fault:
    """Break the link when the client has sent ``at`` messages (or Finalizes, or the server
    has sent ``at`` messages), like tests/faultproxy.py's Fault."""

    at: int
    kind: FaultKind
    payload: list[str | bytes] = field(default_factory=list)  # "inject": sent to the client
    refuse: int = 0  # "refuse": handshakes refused after the drop
    after_finalize: bool = False
    server_messages: bool = False  # "stall" only: count messages to the client
    on_close_stream: bool = False  # fire when CloseStream arrives (``at`` is ignored)


def options(**changes: object) -> SessionOptions:
    """Session options for the pair: the app's defaults, unpaced replay unless asked."""
    base: dict[str, object] = {
        "url": "ws://pair/v1/listen",
        "api_key": None,
        "connect": proto.ConnectOptions(endpointing=300),
        "endpointer": EndpointerSettings(),
        "pipeline": PipelineSettings(),
        "replay_speed": 0.0,
    }
    base.update(changes)
    return SessionOptions(**base)  # type: ignore[arg-type]


def app_options(**changes: object) -> SessionOptions:
    """The app's own defaults, replay paced as the app paces it: for the real Session."""
    paced = SessionOptions.__dataclass_fields__["replay_speed"].default
    return options(**{"replay_speed": paced, **changes})


class Pair:
    """One client core and whatever server sessions it connects to, on a simulated clock."""

    def __init__(
        self,
        opts: SessionOptions | None = None,
        faults: list[Fault] | None = None,
        *,
        engine: Engine | None = None,
        channels: int = 1,
        stall_all: bool = False,
        lag_s: float = 0.0,
        server_speed: float = 0.0,
        close_on_open: dict[int, int] | None = None,
        close_on_finalize: int | None = None,
        chatter_s: float = 0.0,
        answer_pings: bool = True,
    ) -> None:
        self.options = opts or options()
        self.core = ClientCore(self.options, channels, RATE)
        self.engine = engine or ToneEngine()
        self.channels = channels
        self.faults = sorted(faults or [], key=lambda f: f.at)
        self.stall_all = stall_all
        self.lag_s = lag_s  # the server's answers arrive this much later
        self.server_speed = server_speed  # x real time the server decodes at (0: at once)
        self._busy_until = 0.0
        self.close_on_open = close_on_open or {}  # connection number -> close code at once
        self.close_on_finalize = close_on_finalize  # close code on every Finalize
        self.chatter_s = chatter_s  # after CloseStream: never close, send a message this often
        self._chatting_since: float | None = None
        self.answer_pings = answer_pings  # False: the link swallows pings (a dead peer)
        self.pings = 0
        self._inbox: list[tuple[float, int, str | Close | Note | Transmit]] = []
        self.now = 0.0
        self.server: ServerSession | None = None
        self.stalled = False
        self.connect_at: float | None = None
        self.connections = 0
        self.refused = 0
        self.client_messages = self.finalizes = self.server_messages = 0
        self.fired: list[str] = []
        self.audio_log: list[tuple[int, float, int]] = []  # (connection, time, frames)
        self.printed: list[Print] = []
        self.notices: list[str] = []
        self.interims: list[str] = []
        self.finish: Finish | None = None
        self.delays: list[float] = []  # every Connect's wait
        self.close_sent_at: float | None = None
        self._refuse = 0
        self.hook: Callable[[Pair, Transmit], None] | None = None  # sees every sent message

    # -- driving --------------------------------------------------------------------------------

    def dictate(self, audio: Int16Array, speed: float = 1.0, limit_s: float = 600.0) -> Finish:
        """Play ``audio`` (n,) or (n, ch) at ``speed`` x real time (0: as fast as it is taken),
        then end the input and run until the session finishes (or ``limit_s`` passes)."""
        frames = audio if audio.ndim == 2 else audio[:, None]
        self.do(self.core.start())
        block = round(BLOCK_S * RATE)
        for start in range(0, len(frames), block):
            chunk = np.ascontiguousarray(frames[start : start + block])
            self.do(self.core.audio(AudioBlock(chunk, start, self.now)))
            self.settle()
            if speed > 0:
                self.advance(len(chunk) / RATE / speed)
            while speed == 0 and self.core.input_waits(live=False):
                self.advance(TICK_S)  # a file waits for the network
            if self.core.done:
                break
        self.do(self.core.input_ended(self.now))
        return self.run_until_done(limit_s)

    def run_until_done(self, limit_s: float = 600.0) -> Finish:
        """Let time pass until the core finishes."""
        end = self.now + limit_s
        self.settle()
        while self.finish is None and self.now < end:
            self.advance(TICK_S)
        assert self.finish is not None, f"the session did not end within {limit_s} s"
        return self.finish

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass, ticking the core as the shell would."""
        end = self.now + seconds
        while self.now < end - 1e-9 and self.finish is None:
            self.now = min(end, math.floor(self.now / TICK_S + 1 + 1e-9) * TICK_S)
            self.do(self.core.tick(self.now))
            self._chatter()
            self.settle()

    def settle(self) -> None:
        """Carry out everything due now: connects, sends, the server's answers."""
        while self.finish is None:
            if self.connect_at is not None and self.now >= self.connect_at:
                self._handshake()
                continue
            if self.server is None:
                return
            due = [m for m in self._inbox if m[0] <= self.now]
            if due:
                self._inbox = [m for m in self._inbox if m[0] > self.now]
                self._answer([out for _, conn, out in due if conn == self.connections])
                continue
            message = self.core.next_send(self.now)
            if not isinstance(message, Transmit):
                return
            self.do(self.core.sent(message, self.now))
            self._deliver(message)

    def do(self, actions: list[Action]) -> None:
        """Carry out the core's actions."""
        for action in actions:
            if isinstance(action, Print):
                self.printed.append(action)
            elif isinstance(action, Notice):
                self.notices.append(action.text)
            elif isinstance(action, ShowInterim):
                self.interims.append(action.text)
            elif isinstance(action, Connect):
                self.delays.append(action.delay)
                self._drop_server()
                self.connect_at = self.now + action.delay
            elif isinstance(action, Finish):
                self._drop_server()
                self.finish, self.connect_at = action, None

    # -- what came out --------------------------------------------------------------------------

    def lines(self) -> list[str]:
        """Printed utterances, lower case, without the final full stop."""
        return [p.item.text.rstrip(".").lower() for p in self.printed]

    def words(self) -> list[str]:
        """Every printed word, in order, without punctuation."""
        return [w.strip(".,") for w in " ".join(self.lines()).split()]

    # -- the simulated link ---------------------------------------------------------------------

    def _handshake(self) -> None:
        self.connect_at = None
        if self._refuse > 0:
            self._refuse -= 1
            self.refused += 1
            error = TransportError("The server is unavailable (HTTP 503) (injected outage).")
            self.do(self.core.connect_failed(error, self.now))
            return
        self.connections += 1
        query = "&".join(f"{k}={v}" for k, v in proto.query_params(self.core.options.connect))
        params = parse_params(query)
        self.server = ServerSession(params, self.engine, f"pair-{self.connections}", "now")
        self._busy_until, self._chatting_since = self.now, None
        self.stalled = self.stall_all
        self.do(self.core.connected(self.now))
        if self.connections in self.close_on_open:
            self._server_closed(self.close_on_open[self.connections], "hostile")

    def _deliver(self, message: Transmit) -> None:
        server = self.server
        if server is None:
            return
        if message.kind == "ping":  # answered once the server has read what came before
            self.pings += 1
            if not self.answer_pings:
                return
            if self.lag_s > 0 or self.server_speed > 0:
                due = max(self._busy_until, self.now) + self.lag_s
                self._inbox.append((due, self.connections, message))
            else:
                self.do(self.core.pong(message, self.now))
            return
        self.client_messages += 1
        is_finalize = message.kind == "finalize"
        self.finalizes += is_finalize
        if isinstance(message.payload, bytes):
            self.audio_log.append((self.connections, self.now, message.frames))
        outs: list[str | Close | Note] = []
        if is_finalize and self.close_on_finalize is not None:
            self._server_closed(self.close_on_finalize, "hostile")
            return
        if message.kind == "close":
            self.close_sent_at = self.now
        if message.kind == "close" and self.chatter_s > 0:
            self._chatting_since = self.now  # swallowed: the server never closes
            return
        if self.stalled:
            pass  # a stalled link: the server gets nothing more, and says nothing
        elif isinstance(message.payload, bytes):
            outs = server.receive_bytes(message.payload)
        else:
            outs = server.receive_text(message.payload)
        if self.hook is not None:
            self.hook(self, message)
        for fault in self._due(is_finalize, message.kind == "close"):
            self.fired.append(f"{fault.kind}@{self.client_messages}")
            if self._fire(fault):
                return
        if self.server_speed > 0:
            work = message.frames / RATE / self.server_speed
            self._busy_until = max(self._busy_until, self.now) + work
        if self.lag_s > 0 or self.server_speed > 0:
            due = max(self._busy_until, self.now) + self.lag_s
            self._inbox += [(due, self.connections, out) for out in outs]
            return
        self._answer(outs)

    def _answer(self, outs: Sequence[str | Close | Note | Transmit]) -> None:
        for out in outs:
            if isinstance(out, Transmit) and self.server is not None:
                self.do(self.core.pong(out, self.now))  # the link answers even when stalled
                continue
            if self.server is None or self.finish is not None or self.stalled:
                return
            if isinstance(out, Note | Transmit):
                continue
            if isinstance(out, Close):
                self._server_closed(out.code, out.reason)
                return
            self._to_client(out)

    def _to_client(self, raw: str | bytes) -> None:
        if self.stalled:
            return
        self.server_messages += 1
        for fault in [f for f in self.faults if f.server_messages and f.at <= self.server_messages]:
            self.faults.remove(fault)
            self.fired.append(f"stall@server{self.server_messages}")
            self.stalled = True
            return
        self.do(self.core.received(proto.parse_server_message(raw), self.now))

    def _chatter(self) -> None:
        since = self._chatting_since
        if since is not None and self.server is not None and self.now - since >= self.chatter_s:
            self._chatting_since = self.now
            self._to_client('{"type":"SomethingNew"}')

    def _due(self, is_finalize: bool, is_close: bool) -> list[Fault]:
        due = [
            f
            for f in self.faults
            if not f.server_messages
            and (
                (f.on_close_stream and is_close)
                or (f.after_finalize and is_finalize and f.at <= self.finalizes)
                or (not f.after_finalize and not f.on_close_stream and f.at <= self.client_messages)
            )
        ]
        for f in due:
            self.faults.remove(f)
        return due

    def _fire(self, fault: Fault) -> bool:
        """Apply ``fault``; True when the connection is gone."""
        if fault.kind in ("close1011", "close1000"):
            code = 1011 if fault.kind == "close1011" else 1000
            self._server_closed(code, "injected error" if code == 1011 else "")
            return True
        if fault.kind in ("abort", "refuse"):
            self._refuse = fault.refuse
            self._drop_server()
            self.do(self.core.lost(retry.classify_close(None), self.now))
            return True
        if fault.kind == "stall":
            self.stalled = True
            return False
        for raw in fault.payload:
            self._to_client(raw)
        return False

    def _server_closed(self, code: int, reason: str) -> None:
        self._drop_server()
        self.do(self.core.lost(retry.classify_close(code, reason), self.now))

    def _drop_server(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
