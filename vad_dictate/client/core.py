"""The client's rules without I/O: what to send, print, wait for, retry and when to stop.

:class:`ClientCore` owns the Pipeline (audio -> what to send), the Outbox (what was
sent and confirmed, across connections) and the Assembler (results -> utterances).
Its shell feeds it events with the time they happened (``audio``, ``received``,
``sent``, ``connected``, ``connect_failed``, ``lost``, ``tick``, ``stop`` and the
controls), asks ``next_send`` what goes on the wire, and carries out the actions
every input returns (see :mod:`vad_dictate.client.actions`). No clock is read here.

The rules that decide the session's fate:

- **Opening.** Every connection starts with ``CONNECT_SILENCE_MS`` of silence, then
  resends everything not yet confirmed (the outbox replays it), no faster than
  ``replay_speed`` x real time on a reconnect.
- **Stall.** A Finalize that meets ``ack_timeout`` of server silence holds the timeout
  commits (they would print nothing for words the server never got to); after
  ``max(2 * ack_timeout, STALL_MIN_S)`` of silence the connection is presumed dead and
  its utterances are replayed on a new one. Only once per utterance: the same one
  meeting silence again means the server had nothing to say for it, and the normal
  timeout commits it.
- **Alive.** The wire pings (see :mod:`~vad_dictate.client.wire`). A server that
  neither answers a ping nor says anything else for ``PONG_TIMEOUT_S`` is gone: the
  connection is lost and replayed. One that is merely busy (reading slowly, so the pong
  waits behind audio) keeps sending results and is left alone.
- **Closing.** Once the input has ended and everything is sent, CloseStream goes out.
  The server is waited for while it keeps talking, at most ``close_timeout`` of
  silence, and never beyond ``close_timeout`` plus the audio it has not answered yet.
  A server that closes without Metadata while Finalizes are unanswered is replayed once.
- **Reconnecting.** :class:`~vad_dictate.client.link.ConnectionPolicy` decides the
  backoff and when to give up; giving up prints what the results gave and exits
  with the failure.
- **Stopping.** A stop request while a connection is up ends the input; the stream
  then closes as above. With no connection up (or once it drops), it ends the session
  at once with what was confirmed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum

from vad_dictate.client import actions as act
from vad_dictate.client.actions import Action, Transmit
from vad_dictate.client.assembler import Assembler, AssemblerEvent, Committed, UtteranceInfo
from vad_dictate.client.capture import CaptureCore, SessionOptions
from vad_dictate.client.link import ConnectionPolicy, GiveUp, Verdict
from vad_dictate.client.pipeline import SendAudio, SendFinalize
from vad_dictate.client.wire import Wire
from vad_dictate.deepgram import protocol as proto
from vad_dictate.deepgram import retry
from vad_dictate.errors import RequestRejected, TransportError, VadDictateError

STALL_MIN_S = 5.0  # silence from the server that means it is gone
CONNECT_SILENCE_MS = 100  # a connection that never got audio may not hold
MAX_WARNINGS = 5  # bad server messages reported, of any number received
SLOWEST_SERVER_X = 0.25  # x real time: the close wait allows a local engine on a busy machine
PONG_TIMEOUT_S = 20.0  # a ping unanswered, and the server silent, this long: it is gone

__all__ = ["CONNECT_SILENCE_MS", "ClientCore", "Phase", "SessionOptions"]


class Phase(Enum):
    """Where the session's connection is."""

    DOWN = "down"  # none: waiting to connect, or handshaking
    OPEN = "open"
    CLOSING = "closing"  # CloseStream sent; waiting for the server to close
    DONE = "done"


class ClientCore(CaptureCore):
    """One dictation session's decisions, over as many connections as it takes."""

    def __init__(
        self,
        options: SessionOptions,
        channels: int,
        rate: int,
        *,
        paused: bool = False,
        jitter: Callable[[], float] = lambda: 0.5,
    ) -> None:
        super().__init__(options, channels, rate, paused)
        self.assembler = self._new_assembler()
        self.policy = ConnectionPolicy(options.give_up_s, options.close_timeout)
        self.phase = Phase.DOWN
        self.unconfirmed = 0  # utterances committed without the server's acknowledgement
        self._jitter = jitter  # uniform in [0, 1): spreads reconnects of many clients
        self.wire = Wire(rate, options.replay_speed, options.keepalive_s)
        self._stale: Assembler | None = None  # words of a lost connection, until replayed
        self._stalled: set[int] = set()  # utterances whose Finalize met a silent server
        self._last_end: UtteranceInfo | None = None
        self._last_received = 0.0
        self._close_sent_at = self._close_deadline = 0.0
        self._got_metadata = False
        self._violations = 0

    def _new_assembler(self) -> Assembler:
        return Assembler(self.channels, self.rate, self.options.ack_timeout)

    # -- queries --------------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Connections opened so far."""
        return self.policy.connections

    @property
    def done(self) -> bool:
        """True once the session has ended (a Finish was returned)."""
        return self.phase is Phase.DONE

    def input_waits(self, live: bool) -> bool:
        """True while the input should wait for the network before the next block: a source
        that can wait (``live`` False: a file) while the core is backlogged, until a stop."""
        return not live and not self.stop_requested and not self.done and self.backlogged()

    def state(self) -> str:
        """One word for the live view: paused, reconnecting, finalizing, speech or listening."""
        if self.paused:
            return "paused"
        if self.phase not in (Phase.OPEN, Phase.CLOSING):
            return "reconnecting" if self.connections else "connecting"
        if self.pipeline.speaking():
            return "speech"
        if self.assembler.pending_count():
            return "finalizing"
        return "listening"

    # -- inputs --------------------------------------------------------------------------------

    def configure(self, fields: Mapping[str, object]) -> list[Action]:
        """Send a Configure message now and again on every new connection."""
        self.wire.configure(fields, self.phase is Phase.OPEN)
        return self._drain()

    def stop(self, now: float) -> list[Action]:
        """Finish cleanly; with no connection up, at once with what was confirmed."""
        if not self.stop_requested and not self.done:
            self.stop_requested = True
            if self.phase is Phase.DOWN:
                self._give_up(None, now)
        return self._drain()

    def output_closed(self, now: float) -> list[Action]:
        """Whoever read the output is gone (a closed pipe): end now with what is held."""
        if not self.done:
            self._give_up(None, now)
        return self._drain()

    # -- inputs: the connection -----------------------------------------------------------------

    def connected(self, now: float) -> list[Action]:
        """A handshake succeeded: open with silence, then replay what is unconfirmed."""
        if self.phase is not Phase.DOWN:
            return self._drain()
        self.policy.opened(now)
        self.phase = Phase.OPEN
        if self.connections > 1:
            self._stale = self.assembler  # its uncommitted words come again from the replay
            self._warn_unreplayable()
        self.assembler = self._new_assembler()
        self._got_metadata = False
        silence = self.pipeline.silence(CONNECT_SILENCE_MS)
        self.outbox.restart(silence.frames)
        self.wire.open(self.connections, silence, self.connections > 1, now)
        return self._drain()

    def connect_failed(self, error: VadDictateError, now: float) -> list[Action]:
        """A handshake failed with ``error`` (its ``retryable`` says whether to try again)."""
        if self.phase is Phase.DOWN:
            verdict = self.policy.handshake_failed(
                error.retryable, now, self._jitter(), self.input_done
            )
            self._follow(verdict, error, f"reconnecting in {{delay:.1f}} s: {error}", now)
        return self._drain()

    def lost(self, failure: retry.Failure, now: float) -> list[Action]:
        """The connection ended (``failure`` classifies its close) before the session did."""
        if self.phase is Phase.CLOSING:
            self._closed(failure, now)
        elif self.phase is Phase.OPEN:
            if failure.kind == "normal":  # a clean close the client did not ask for
                failure = retry.Failure("retry", "The server closed the stream unexpectedly.")
            self._lose(failure, now)
        return self._drain()

    def next_send(self, now: float) -> Transmit | float | None:
        """The next message to send, the time to ask again (pacing), or None (nothing yet)."""
        if self.phase is not Phase.OPEN:
            return None
        return self.wire.next(self.outbox, self.input_done, now)

    def pong(self, ping: Transmit, now: float) -> list[Action]:
        """The server answered ``ping`` (from ``next_send``) at ``now``."""
        if self.phase is Phase.OPEN:
            self.wire.pong(ping)
        return self._drain()

    def sent(self, message: Transmit, now: float) -> list[Action]:
        """``message`` (from ``next_send``) left at ``now``."""
        if self.phase is not Phase.OPEN or not self.wire.sent(message, now):
            return self._drain()
        if message.kind == "silence":
            self.assembler.horizon = message.frames
        elif message.kind == "close":
            self.phase = Phase.CLOSING
            unanswered = max(0, self.outbox.conn_frames - self.assembler.answered_frames())
            self._close_sent_at = now
            needs = unanswered / self.rate / SLOWEST_SERVER_X
            self._close_deadline = now + self.options.close_timeout + needs
        elif message.item is not None and self.outbox.peek() is message.item:
            boundary = self.outbox.mark_sent()
            if isinstance(message.item, SendAudio):
                self._sent_audio(boundary, message.item)
                self.assembler.horizon = boundary
            else:
                self._note_finalize(message.item, boundary, now)
        return self._drain()

    def received(self, event: proto.ServerEvent, now: float) -> list[Action]:
        """A server message arrived at ``now``."""
        if self.phase not in (Phase.OPEN, Phase.CLOSING):
            return self._drain()
        self._last_received = now
        if isinstance(event, proto.Result):
            self._hear(event, now)  # the turn policy reads the words so far
        if isinstance(event, proto.FinalResult):
            self._show(self.assembler.on_final(event, now), now)
        elif isinstance(event, proto.InterimResult):
            self._show(self.assembler.on_interim(event, now), now)
        elif isinstance(event, proto.Metadata):
            self._got_metadata = True
        elif isinstance(event, proto.ProtocolViolation):
            self._violations += 1
            if self._violations <= MAX_WARNINGS:
                self._emit(act.Notice(f"warning: ignored a bad server message: {event.reason}"))
        elif isinstance(event, proto.ServerError):
            self._emit(act.Notice(f"warning: the server reported: {event.description}"))
        return self._drain()

    def tick(self, now: float) -> list[Action]:
        """Time passed: acknowledgement timeouts, stalls, KeepAlive, the close wait."""
        busy = self.pipeline.speaking() or self.assembler.pending_count() > 0
        self._print(self.lines.tick(now, set(range(self.channels)) if busy else set()), now)
        if self.phase in (Phase.OPEN, Phase.CLOSING):
            held = self._check_stall(now)  # may lose the connection
            if not held:
                self._commit(self.assembler.tick(now), now)
            if self.phase is Phase.OPEN and not held:
                self._check_alive(now)
            if self.phase is Phase.OPEN:
                self.wire.tick(now)
            elif self.phase is Phase.CLOSING:
                quiet = now - max(self._last_received, self._close_sent_at)
                silent = quiet >= self.options.close_timeout
                if not held and (silent or now >= self._close_deadline):
                    self._emit(
                        act.Notice(
                            "warning: the server did not close the stream in time; "
                            "printing the words it confirmed so far."
                        )
                    )
                    self._finish(now)
        return self._drain()

    # -- internals ------------------------------------------------------------------------------

    def _note_finalize(self, item: SendFinalize, boundary: int, now: float) -> None:
        sp = item.speech
        times = (sp.onset / self.rate, sp.last_speech / self.rate)
        info = UtteranceInfo(item.index, *times, sp.trigger, item.last_speech_at, item.seq)
        self._last_end = info
        self.assembler.finalize_sent(boundary, info, now)

    def _check_stall(self, now: float) -> bool:
        """True while a Finalize waits on a server that has gone silent (see the module doc);
        after a long silence, the connection is given up and replayed."""
        oldest = self.assembler.oldest_pending()
        if oldest is None:
            return False
        sent_at, seq = oldest
        silent_for = now - max(self._last_received, sent_at)
        if seq in self._stalled or silent_for < self.options.ack_timeout:
            return False
        if silent_for >= max(2 * self.options.ack_timeout, STALL_MIN_S):
            self._stalled.add(seq)
            self._lose(retry.Failure("retry", "The server stopped answering."), now)
        return True

    def _check_alive(self, now: float) -> None:
        """A ping unanswered and the server silent for ``PONG_TIMEOUT_S``: it is gone."""
        ping_at = self.wire.ping_at
        if ping_at is not None and now - max(ping_at, self._last_received) >= PONG_TIMEOUT_S:
            self._lose(retry.Failure("retry", "The server stopped reading."), now)

    def _closed(self, failure: retry.Failure, now: float) -> None:
        """The connection ended after CloseStream."""
        oldest = self.assembler.oldest_pending()
        if oldest is None or self._got_metadata:
            self._finish(now)
        elif failure.kind != "normal":
            self._lose(failure, now)  # an error, not the server's way of ending: replay
        elif oldest[1] not in self._stalled:
            # A server that ends the stream properly sends Metadata first; this one closed
            # with Finalizes unanswered, so replay them once on a new connection.
            self._stalled.add(oldest[1])
            self._lose(retry.Failure("retry", "The server closed without confirming."), now)
        else:
            self._finish(now)

    def _lose(self, failure: retry.Failure, now: float) -> None:
        self.phase = Phase.DOWN
        self.wire.close()
        if self.stop_requested:
            self._give_up(None, now)
        elif not failure.retryable:
            self._give_up(RequestRejected(failure.message), now)
        else:
            verdict = self.policy.lost(now, self._jitter())
            if isinstance(verdict, GiveUp):
                last = failure.message.rstrip(".")
                verdict_error = TransportError(
                    f"Connections to the server kept failing for {verdict.outage_s:.0f} s "
                    f"(last: {last[:1].lower() + last[1:]}); check the server and the network, "
                    "or raise stream.reconnect_give_up_s."
                )
                self._give_up(verdict_error, now)
                return
            notice = f"connection lost, reconnecting: {failure.message}"
            self._follow(verdict, TransportError(failure.message), notice, now)

    def _follow(self, verdict: Verdict, error: VadDictateError, notice: str, now: float) -> None:
        if isinstance(verdict, GiveUp):
            self._give_up(error, now)
            return
        self._emit(act.Notice(notice.format(delay=verdict.delay), verbose=True))
        self._emit(act.Connect(verdict.delay))

    def _give_up(self, error: VadDictateError | None, now: float) -> None:
        """End now, printing what the finals gave for every utterance."""
        held = self._stale or self.assembler
        self._commit(held.tick(float("inf")) + held.flush(self._last_end), now)
        if self._stale is not None and self._stale is not self.assembler:
            self._commit(self.assembler.flush(self._last_end), now)
        self._print(self.lines.flush(), now)
        unconfirmed = len(self.outbox.uncommitted())
        if unconfirmed:
            self._emit(
                act.Notice(
                    f"warning: {unconfirmed} utterance(s) were not confirmed by the server; "
                    "their words may be missing or incomplete."
                )
            )
        self.phase = Phase.DONE
        self._emit(act.Finish(error or self.device_error))

    def _finish(self, now: float) -> None:
        """The stream ended normally."""
        self._commit(self.assembler.tick(float("inf")) + self.assembler.flush(self._last_end), now)
        self._print(self.lines.flush(), now)
        self.phase = Phase.DONE
        if self.unconfirmed:
            self._emit(
                act.Notice(
                    f"warning: the server never confirmed {self.unconfirmed} utterance(s); "
                    "what its results gave for them was printed."
                )
            )
        self._emit(act.Finish(self.device_error))

    def _show(self, events: list[AssemblerEvent], now: float) -> None:
        for ev in events:
            if not isinstance(ev, Committed):
                self._emit(act.ShowInterim(ev.channel, self.lines.shown(ev.channel, ev.text)))
        self._commit([ev for ev in events if isinstance(ev, Committed)], now)

    def _commit(self, items: list[Committed], now: float) -> None:
        for item in items:
            if item.info.seq:
                self.outbox.committed(item.info.seq)
            if item.outcome == "ack":
                self.policy.confirmed()
            if item.outcome in ("timeout", "flush") and item.info.seq:
                self.unconfirmed += 1
            self._print(self.lines.add(item), now)
        if items and self._stale is not None and not self.outbox.uncommitted():
            self._stale = None  # everything it held has been replayed and printed
