"""The capture side of the client core: audio and controls in, what to send queued.

Pure, like :mod:`vad_dictate.client.core`, which builds on it: :class:`CaptureCore`
owns the Pipeline (endpointers and send gate) and the Outbox its output goes to,
the pause and sensitivity controls, the input device's failure and reopening, and
the LineJoiner that holds an utterance cut at a thinking pause until its sentence ends.
Every input returns the actions it caused (see :mod:`vad_dictate.client.actions`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

import numpy as np

from vad_dictate.audio.block import AudioBlock
from vad_dictate.client.actions import (
    Action,
    Connect,
    Notice,
    Print,
    ReopenInput,
    StateChanged,
    StatusRecord,
)
from vad_dictate.client.assembler import Committed
from vad_dictate.client.lines import LineJoiner
from vad_dictate.client.outbox import Outbox
from vad_dictate.client.pipeline import Outgoing, Pipeline, PipelineSettings, SendAudio
from vad_dictate.deepgram import protocol as proto
from vad_dictate.errors import VadDictateError
from vad_dictate.vad.events import EndpointerSettings
from vad_dictate.vad.turn import TurnSettings

REOPEN_INTERVAL_S = 1.0  # between attempts to reopen a failed input device
SENT_MAP_LEN = 4096  # audio messages remembered for placing results in the capture
MAX_RESULT_S = 1e7  # result times beyond this (about 4 months of audio) are not believed
PAUSED_HOLD_MS = 500  # audio gathered per wake-up while paused (heard as silence, never sent)


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """Everything a session needs besides its source and sinks."""

    url: str
    api_key: str | None
    connect: proto.ConnectOptions
    endpointer: EndpointerSettings
    pipeline: PipelineSettings
    ack_timeout: float = 2.0
    keepalive_s: float = 4.0
    close_timeout: float = 5.0
    give_up_s: float = 60.0
    retain_s: float = 120.0
    replay_speed: float = 1.25  # Deepgram takes audio at most ~1.25x real time; 0 = unpaced
    reopen_s: float = 30.0  # how long a lost microphone may take to come back
    turn: TurnSettings | None = None  # None: silence_ms ends utterances
    turn_model: bool = False  # the shell runs the end-of-turn model on ScoreTurn


class CaptureCore(ABC):
    """Audio in, outgoing items queued; the connection side is :class:`ClientCore`."""

    def __init__(self, options: SessionOptions, channels: int, rate: int, paused: bool) -> None:
        self.options, self.channels, self.rate = options, channels, rate
        self.pipeline = Pipeline(
            options.endpointer, options.pipeline, channels, rate, options.turn, options.turn_model
        )
        self._sent_map: deque[tuple[int, int]] = deque(maxlen=SENT_MAP_LEN)  # stream, capture
        self.outbox = Outbox(int(options.retain_s * rate))
        self.paused = paused
        self.dormant = paused  # paused from the start: no connection, nothing queued, till resumed
        self.stop_requested = False
        self.input_done = False
        self.printed = 0  # utterances written to the outputs
        self.lines = LineJoiner(options.turn.ceiling_ms / 1000 if options.turn else 0.0)
        self.device_error: VadDictateError | None = None
        self._out: list[Action] = []
        self._shown_state = ""
        self._reported_drop = self._reported_unreplayable = self._reported_overflows = 0
        self._device_down_since: float | None = None
        self._reopening = False

    @property
    @abstractmethod
    def connections(self) -> int:
        """Connections opened so far."""

    @property
    @abstractmethod
    def done(self) -> bool:
        """True once the session has ended."""

    @abstractmethod
    def state(self) -> str:
        """One word for the live view."""

    @abstractmethod
    def stop(self, now: float) -> list[Action]:
        """Finish cleanly."""

    def start(self) -> list[Action]:
        """Begin: connect at once, or (started paused) at the first resume."""
        if not self.dormant:
            self._emit(Connect(0.0))
        return self._drain()

    def snapshot(self, overflows: int = 0) -> dict[str, object]:
        """Counters for ``vad-dictate status`` and JSONL status lines."""
        return {
            "state": self.state(),
            "utterances": self.printed,
            "connections": self.connections,
            "aggressiveness": self.pipeline.aggressiveness(),
            "captured_s": round(self.pipeline.captured_frames / self.rate, 3),
            "sent_s": round(self.pipeline.sent_frames_total / self.rate, 3),
            "overflows": overflows,
            "dropped_s": round(self.outbox.dropped_frames / self.rate, 3),
        }

    def hold(self) -> int:
        """Frames the audio source may gather before the core must see them
        (``AudioSource.hold``): while paused, PAUSED_HOLD_MS (nothing is sent, and a resume
        releases them); otherwise what the pipeline's decisions can wait for."""
        return self.rate * PAUSED_HOLD_MS // 1000 if self.paused else self.pipeline.hold()

    def backlogged(self) -> bool:
        """True while a source that can wait (a file) should: the audio not yet confirmed is
        half the replay bound, so a server that confirms slowly never makes it drop any."""
        return self.outbox.retained_frames > self.outbox.max_retained_frames // 2

    # -- inputs ---------------------------------------------------------------------------------

    def audio(self, block: AudioBlock) -> list[Action]:
        """A captured block (its own ``captured_at`` is the time that matters)."""
        if self._reopening:
            self._reopening, self._device_down_since = False, None
            self._emit(Notice("the microphone is back", alert="mic_back"))
        gap = block.start - self.pipeline.captured_frames
        if gap > 0:  # capture dropped blocks: keep the capture clock honest
            filler = np.zeros((gap, self.channels), dtype=np.int16)
            self._queue(self.pipeline.push(filler, block.captured_at))
        samples = np.zeros_like(block.samples) if self.paused else block.samples
        self._queue(self.pipeline.push(samples, block.captured_at))
        return self._drain()

    def input_ended(self, now: float) -> list[Action]:
        """The source ended (or was stopped): finalize what was said and send the rest."""
        if not self.input_done:
            self.input_done = True
            self._queue(self.pipeline.force_end("end", now) + self.pipeline.drain())
        if self.dormant:  # never resumed: nothing was sent, so nothing is waited for
            return self.stop(now)
        return self._drain()

    def device_failed(self, error: VadDictateError, now: float) -> list[Action]:
        """The input device failed: keep what was said; reopen it or end the input."""
        if self._device_down_since is None:
            self._emit(Notice(f"vad-dictate: {error}", alert="mic_lost"))
            self._queue(self.pipeline.force_end("end", now))
            self._device_down_since = now
        if self.stop_requested or now - self._device_down_since >= self.options.reopen_s:
            self.device_error = error
        else:
            self._reopening = True
            self._emit(ReopenInput(REOPEN_INTERVAL_S))
        return self._drain()

    def overflows(self, portaudio: int, queue: int) -> list[Action]:
        """The source's overflow counters; growth is reported as a status record."""
        if portaudio + queue > self._reported_overflows:
            self._reported_overflows = portaudio + queue
            record: dict[str, object] = {"event": "overflow", "portaudio": portaudio}
            record["queue"] = queue
            self._emit(StatusRecord(record))
        return self._drain()

    def finalize(self, now: float) -> list[Action]:
        """Finalize the current utterance now (trigger ``hotkey``); between utterances, print
        any text held for the rest of its sentence."""
        self._release_held(now)
        self._queue(self.pipeline.force_end("hotkey", now))
        return self._drain()

    def pause(self, paused: bool, now: float) -> list[Action]:
        """Pause or resume: while paused the input is heard as silence, nothing is sent."""
        if paused and not self.paused:
            self._release_held(now)
            self._queue(self.pipeline.force_end("hotkey", now))
        if not paused and self.dormant:
            self.dormant = False
            self._emit(Connect(0.0))
        self.paused = paused
        return self._drain()

    def turn_scored(self, channel: int, token: int, probability: float, now: float) -> list[Action]:
        """The end-of-turn model's answer to ScoreTurn ``token``; may end the utterance."""
        self._queue(self.pipeline.turn_scored(channel, token, probability, now))
        return self._drain()

    def sensitivity(self, delta: int) -> int:
        """Change VAD aggressiveness by ``delta`` (clamped to 0-3); return the new value."""
        mode = max(0, min(3, self.pipeline.aggressiveness() + delta))
        self.pipeline.set_aggressiveness(mode)
        return mode

    # -- internals ------------------------------------------------------------------------------

    def _sent_audio(self, boundary: int, item: SendAudio) -> None:
        """Audio up to capture frame ``item.upto`` ends at ``boundary`` of the connection."""
        if self._sent_map and boundary <= self._sent_map[-1][0]:
            self._sent_map.clear()  # a new connection counts from 0 again
        self._sent_map.append((boundary, item.upto))

    def _hear(self, result: proto.Result, now: float) -> None:
        """The words so far reach the turn policy, with the capture frame they have heard."""
        seconds = result.start + result.duration
        if not self.pipeline.turns or not 0 <= seconds <= MAX_RESULT_S:
            return  # no turn policy, or times from a hostile server that say nothing
        end = round(seconds * self.rate)
        covers = max((upto for bound, upto in self._sent_map if bound <= end), default=-1)
        self._queue(self.pipeline.heard(result.channel, result.transcript, covers, now))

    def _release_held(self, now: float) -> None:
        """The user ended the utterance: text held for the rest of its sentence is printed
        now, unless an utterance is under way (it will be joined to that one)."""
        if not self.pipeline.speaking():
            self._print(self.lines.flush(), now)

    def _print(self, items: list[Committed], now: float) -> None:
        """Write these utterances (the empty ones print nothing), with their latency."""
        for item in items:
            if item.text:
                at = item.info.last_speech_at
                self._emit(Print(item, (now - at) * 1000 if at else None))
                self.printed += 1

    def _emit(self, action: Action) -> None:
        self._out.append(action)

    def _drain(self) -> list[Action]:
        state = self.state()
        if state != self._shown_state and not self.done:
            self._shown_state = state
            self._out.append(StateChanged(state))
        self._out.extend(self.pipeline.score_requests())
        out, self._out = self._out, []
        return out

    def _queue(self, items: list[Outgoing]) -> None:
        if self.dormant:  # heard before the first resume: never sent, never billed
            items = [item for item in items if not isinstance(item, SendAudio)]
        if items:
            self.outbox.extend(items)
        if self.outbox.dropped_frames > self._reported_drop:
            lost = (self.outbox.dropped_frames - self._reported_drop) / self.rate
            self._reported_drop = self.outbox.dropped_frames
            self._emit(
                Notice(
                    f"warning: the server has been unreachable too long; {lost:.1f} s of the "
                    "oldest unsent audio was dropped to bound memory (stream.retain_s)."
                )
            )

    def _warn_unreplayable(self) -> None:
        if self.outbox.unreplayable_frames > self._reported_unreplayable:
            gone = (self.outbox.unreplayable_frames - self._reported_unreplayable) / self.rate
            self._reported_unreplayable = self.outbox.unreplayable_frames
            self._emit(
                Notice(
                    f"warning: {gone:.1f} s of audio sent before the connection dropped was "
                    "older than stream.retain_s and cannot be replayed; words in it may be missing."
                )
            )
