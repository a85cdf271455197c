"""From captured audio to what goes on the wire: endpointers per channel and the send gate.

Pure: audio blocks and their capture times come in as arguments; the result is
an ordered list of things to send. Because audio and Finalize leave in one list,
a Finalize can never overtake the audio it closes.

Streaming policies:
- ``speech``: only pre-roll + speech + hangover is sent; silence between utterances
  stays on the laptop (not billed). Audio waits in a ring buffer until the
  endpointer confirms an utterance, so blips never reach the wire.
- ``always``: every sample is sent; the endpointer only decides when to Finalize.

Turn taking (``vad.turn = "smart"``): each channel's :class:`TurnPolicy` watches the pauses of
confirmed utterances and may end one before the endpointer's ceiling. It asks for the
end-of-turn model through :meth:`Pipeline.score_requests` (the shell runs the model off the
capture path) and hears back through :meth:`Pipeline.turn_scored`; interim transcripts arrive
through :meth:`Pipeline.heard`. Both may return a Finalize. A request whose answer would be
dropped (speech resumed, or the utterance ended) comes back as :class:`CancelScore`, so that
the shell can stop the model early.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from vad_dictate.audio.block import Int16Array
from vad_dictate.vad import events as vad
from vad_dictate.vad.endpointer import Endpointer
from vad_dictate.vad.hold import hold_samples, speech_hold_ms
from vad_dictate.vad.turn import AskModel, EndTurn, TurnAction, TurnPolicy, TurnSettings

Policy = Literal["speech", "always"]


@dataclass(frozen=True, slots=True)
class SendAudio:
    """A binary audio message (interleaved linear16)."""

    pcm: bytes
    frames: int
    upto: int = 0  # the capture frame just after its last frame


@dataclass(frozen=True, slots=True)
class SendFinalize:
    """Send Finalize for ``channel`` (None: the only channel): utterance ``seq`` ended."""

    channel: int | None
    speech: vad.SpeechEnd
    index: int  # the channel index even when ``channel`` is None
    last_speech_at: float  # capture wall time of the last speech frame
    seq: int  # utterance serial number within the session


Outgoing = SendAudio | SendFinalize


@dataclass(frozen=True, slots=True)
class ScoreTurn:
    """Run the end-of-turn model on ``audio`` and answer Pipeline.turn_scored(channel, token)."""

    channel: int
    token: int
    audio: Int16Array  # the channel's utterance up to now, at most MODEL_WINDOW_S long

    @property
    def key(self) -> tuple[int, int]:
        """(channel, token): which request this is."""
        return self.channel, self.token


@dataclass(frozen=True, slots=True)
class CancelScore:
    """ScoreTurn ``token`` of ``channel`` is stale: stop it if it runs, its answer is dropped."""

    channel: int
    token: int

    @property
    def key(self) -> tuple[int, int]:
        """(channel, token): the ScoreTurn it cancels."""
        return self.channel, self.token


MODEL_WINDOW_S = 8


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """How audio is gated and cut into messages."""

    policy: Policy = "speech"
    chunk_ms: int = 50  # audio message length; 20-100 ms per Deepgram's guidance


class _Ring:
    """The most recent interleaved frames, addressed by absolute frame index."""

    def __init__(self, capacity: int, channels: int) -> None:
        self._buf = np.zeros((capacity, channels), dtype=np.int16)
        self._cap = capacity
        self.end = 0  # absolute index just after the newest frame

    @property
    def start(self) -> int:
        return max(0, self.end - self._cap)

    def append(self, block: Int16Array) -> None:
        n = len(block)
        if n >= self._cap:
            self._buf[:] = block[-self._cap :]
            self.end += n
            return
        pos = self.end % self._cap
        first = min(n, self._cap - pos)
        self._buf[pos : pos + first] = block[:first]
        self._buf[: n - first] = block[first:]
        self.end += n

    def read(self, lo: int, hi: int) -> Int16Array:
        lo = max(lo, self.start)
        if hi <= lo:
            return self._buf[:0]
        a, b = lo % self._cap, hi % self._cap or self._cap
        if a < b:
            return self._buf[a:b].copy()
        return np.concatenate([self._buf[a:], self._buf[:b]])


class Pipeline:
    """Endpointers for every channel plus the gate that decides what is sent."""

    def __init__(
        self,
        endpointer: vad.EndpointerSettings,
        settings: PipelineSettings,
        channels: int = 1,
        sample_rate: int = 16000,
        turn: TurnSettings | None = None,
        model: bool = False,
    ) -> None:
        """``turn`` in smart mode lets pauses end early (``model``: a scorer is there)."""
        self.channels, self.sample_rate = channels, sample_rate
        self.settings = settings
        smart = turn is not None and turn.mode == "smart"
        if turn is not None and smart:
            endpointer = replace(endpointer, silence_ms=turn.ceiling_ms)
        self.endpointers = [Endpointer(endpointer, sample_rate) for _ in range(channels)]
        self._speech_hold = speech_hold_ms(self.endpointers[0], turn if smart else None)
        self.turns = (
            [TurnPolicy(turn, sample_rate, model) for _ in range(channels)]
            if turn and smart
            else []
        )
        self._requests: list[ScoreTurn | CancelScore] = []
        self._frame = sample_rate * endpointer.frame_ms // 1000
        keep_ms = endpointer.preroll_ms + endpointer.min_utterance_ms + endpointer.onset_ms + 2000
        if model and self.turns:
            keep_ms = max(keep_ms, 1000 * MODEL_WINDOW_S)
        self._ring = _Ring(sample_rate * keep_ms // 1000, channels)
        self._carry = np.zeros((0, channels), dtype=np.int16)
        self._active: set[int] = set()
        self._sent_upto = 0  # capture frames sent or deliberately skipped
        self._pending: list[Int16Array] = []
        self._pending_frames = 0
        self.sent_frames_total = 0  # capture frames put on the wire
        self._seq = 0
        self.skipped_frames = 0  # capture frames the gate kept off the wire
        self._times: deque[tuple[int, float]] = deque(maxlen=4096)
        if not 20 <= settings.chunk_ms <= 100:
            raise ValueError("chunk_ms must be between 20 and 100")
        self._chunk = sample_rate * settings.chunk_ms // 1000

    @property
    def captured_frames(self) -> int:
        """Frames pushed so far (the capture clock)."""
        return self._ring.end + len(self._carry)

    def silence(self, ms: int) -> SendAudio:
        """A burst of digital silence (opens every connection, see PROTOCOL.md)."""
        frames = self.sample_rate * ms // 1000
        return SendAudio(np.zeros((frames, self.channels), dtype=np.int16).tobytes(), frames)

    def push(self, block: Int16Array, captured_at: float) -> list[Outgoing]:
        """Take (n, channels) frames captured at ``captured_at``; return what to send."""
        if block.ndim != 2 or block.shape[1] != self.channels or block.dtype != np.int16:
            raise ValueError(f"expected int16 frames of shape (n, {self.channels})")
        data = np.concatenate([self._carry, block]) if len(self._carry) else block
        whole = len(data) - len(data) % self._frame
        self._carry = data[whole:].copy()
        out: list[Outgoing] = []
        for pos in range(0, whole, self._frame):
            out.extend(self._frame_step(data[pos : pos + self._frame], captured_at))
        return out

    def force_end(self, trigger: vad.Trigger, captured_at: float) -> list[Outgoing]:
        """End every channel's utterance now (hotkey, end of input, exit)."""
        out: list[Outgoing] = []
        events = [(c, ev) for c, ep in enumerate(self.endpointers) for ev in ep.force_end(trigger)]
        for policy in self.turns:
            policy.reset()
        self._times.append((self._ring.end, captured_at))
        out.extend(self._apply(events, self._ring.end))
        if not self._active and self.settings.policy == "speech":
            self._skip_to(self._ring.end)
        return out

    def score_requests(self) -> list[ScoreTurn | CancelScore]:
        """The model runs the turn policy asked for since the last call (oldest first), then
        the runs it no longer wants; a run asked for and dropped meanwhile is not named at all."""
        out, self._requests = self._requests, []
        for c, policy in enumerate(self.turns):
            for token in policy.take_stale():
                unsent = [r for r in out if isinstance(r, ScoreTurn) and r.key == (c, token)]
                if unsent:
                    out.remove(unsent[0])
                else:
                    out.append(CancelScore(c, token))
        return out

    def turn_scored(
        self, channel: int, token: int, probability: float, captured_at: float
    ) -> list[Outgoing]:
        """The model's answer to ScoreTurn ``token``; may end the channel's utterance."""
        if not self.turns:
            return []
        end = self.turns[channel].scored(token, probability)
        return self._end_turn(channel, captured_at) if end else []

    def heard(self, channel: int, text: str, covers: int, captured_at: float) -> list[Outgoing]:
        """The channel's latest interim transcript, heard up to capture frame ``covers``."""
        if not self.turns or not self.endpointers[channel].confirmed:
            return []
        end = self.turns[channel].heard(text, covers)
        return self._end_turn(channel, captured_at) if end else []

    def drain(self) -> list[Outgoing]:
        """Flush audio held for chunking (before a KeepAlive or at the end)."""
        return self._flush()

    def hold(self) -> int:
        """Frames of audio that may wait before the pipeline must see them (vad/hold.py)."""
        return min(
            hold_samples(ep, self._speech_hold, self.turns[c] if self.turns else None)
            for c, ep in enumerate(self.endpointers)
        )

    def speaking(self) -> bool:
        """True while any channel is inside a confirmed or starting utterance."""
        return any(ep.state is not vad.State.SILENCE for ep in self.endpointers)

    def aggressiveness(self) -> int:
        """The VAD aggressiveness in use (the same on every channel)."""
        return self.endpointers[0].settings.aggressiveness

    def set_aggressiveness(self, mode: int) -> None:
        """Change the VAD aggressiveness of every channel, live."""
        for ep in self.endpointers:
            ep.set_aggressiveness(mode)

    def capture_time(self, frame: int) -> float:
        """Wall time at which capture frame ``frame`` was taken (nearest block end after it)."""
        keys = [k for k, _ in self._times]
        i = bisect.bisect_left(keys, frame)
        if i == len(keys):
            return self._times[-1][1] if self._times else 0.0
        return self._times[i][1]

    # -- internals -----------------------------------------------------------------------------

    def _frame_step(self, frame: Int16Array, captured_at: float) -> list[Outgoing]:
        self._ring.append(frame)
        self._times.append((self._ring.end, captured_at))
        events: list[tuple[int, vad.EndpointEvent]] = []
        for c, ep in enumerate(self.endpointers):
            column = frame[:, c] if self.channels > 1 else frame[:, 0]
            events.extend((c, ev) for ev in ep.process(np.ascontiguousarray(column)))
        out = self._apply(events, self._ring.end)
        for c in range(len(self.turns)):
            out.extend(self._turn_step(c, [ev for ch, ev in events if ch == c], captured_at))
        if self.settings.policy == "always" or self._active:
            out.extend(self._send_to(self._ring.end))
        return out

    def _turn_step(
        self, c: int, events: list[vad.EndpointEvent], captured_at: float
    ) -> list[Outgoing]:
        policy, ep = self.turns[c], self.endpointers[c]
        if events:
            policy.reset()  # an utterance began or ended: its text and pauses are history
        if not ep.confirmed:
            return []
        if ep.state is not vad.State.HANGOVER:
            policy.speech()
            return []
        actions: list[TurnAction] = policy.silence(ep.last_speech, ep.samples_seen)
        for action in actions:
            if isinstance(action, AskModel):
                self._requests.append(ScoreTurn(c, action.token, self._utterance_audio(c)))
            elif isinstance(action, EndTurn):
                return self._end_turn(c, captured_at)
        return []

    def _utterance_audio(self, c: int) -> Int16Array:
        ep = self.endpointers[c]
        lo = max(ep.utterance_start, self._ring.end - MODEL_WINDOW_S * self.sample_rate)
        return np.ascontiguousarray(self._ring.read(lo, self._ring.end)[:, c])

    def _end_turn(self, c: int, captured_at: float) -> list[Outgoing]:
        events = [(c, ev) for ev in self.endpointers[c].force_end("turn")]
        self.turns[c].reset()
        self._times.append((self._ring.end, captured_at))
        out = self._apply(events, self._ring.end)
        if not self._active and self.settings.policy == "speech":
            self._skip_to(self._ring.end)
        return out

    def _apply(self, events: list[tuple[int, vad.EndpointEvent]], now: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        for c, ev in events:
            if isinstance(ev, vad.SpeechStart):
                if not self._active and self.settings.policy == "speech":
                    self._skip_to(ev.start)
                self._active.add(c)
            elif isinstance(ev, vad.SpeechEnd):
                out.extend(self._send_to(ev.end))
                out.extend(self._flush())
                self._active.discard(c)
                channel = c if self.channels > 1 else None
                at = self.capture_time(ev.last_speech)
                self._seq += 1
                out.append(SendFinalize(channel, ev, c, at, self._seq))
        return out

    def _skip_to(self, frame: int) -> None:
        if frame > self._sent_upto:
            self.skipped_frames += frame - self._sent_upto
            self._sent_upto = frame

    def _send_to(self, frame: int) -> list[Outgoing]:
        if frame <= self._sent_upto:
            return []
        lost = max(0, self._ring.start - self._sent_upto)
        self.skipped_frames += lost
        chunk = self._ring.read(self._sent_upto, frame)
        self._sent_upto = frame
        self._pending.append(chunk)
        self._pending_frames += len(chunk)
        # Keep at least one chunk back, so the flush before a Finalize never sends a
        # runt: it sends between one and two chunks, cut into pieces of 20-100 ms.
        if self._pending_frames < 2 * self._chunk:
            return []
        return self._emit(self._pending_frames - self._chunk - self._pending_frames % self._chunk)

    def _flush(self) -> list[Outgoing]:
        """Send everything held: as one message, or two even halves if that is too long."""
        total = self._pending_frames
        if total <= max(self._chunk, self.sample_rate // 10):
            return self._emit(total)
        return self._emit(total // 2) + self._emit(total - total // 2)

    def _emit(self, frames: int) -> list[Outgoing]:
        """Send the first ``frames`` held frames, in ``chunk_ms`` messages when they divide."""
        if frames <= 0:
            return []
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        head, rest = data[:frames], data[frames:]
        self._pending = [rest] if len(rest) else []
        self._pending_frames = len(rest)
        out: list[Outgoing] = []
        cuts = list(range(0, frames, self._chunk)) if frames % self._chunk == 0 else [0]
        head_start = self._sent_upto - len(rest) - frames
        for i, pos in enumerate(cuts):
            piece = head[pos : cuts[i + 1] if i + 1 < len(cuts) else frames]
            upto = head_start + pos + len(piece)
            out.append(SendAudio(piece.tobytes(), len(piece), upto))
            self.sent_frames_total += len(piece)
        return out
