"""One channel of a local-server stream: resampling, server VAD, recognizer, spans (pure).

The stream clock is the channel's received audio. Finals cover the audio since
the previous final; interims restate the current span about once a second of
audio; endpointing (webrtcvad, 10 ms frames) cuts a final exactly where it fires.
After ``PAUSE_MS`` of silence the recognizer is told that speech paused (it may start
decoding early) and told again when speech resumes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import webrtcvad

from vad_dictate.audio.block import Int16Array
from vad_dictate.audio.resample import StreamResampler
from vad_dictate.deepgram.protocol import SpeechStarted, UtteranceEnd
from vad_dictate.engines.base import RecognizedWord, Recognizer, RecognizerOptions


@dataclass(frozen=True, slots=True)
class Segment:
    """A span of one channel's stream clock and its words (a Results message)."""

    words: list[RecognizedWord]
    start: float
    end: float
    is_final: bool
    speech_final: bool = False
    from_finalize: bool = False


# SpeechStarted: the server VAD heard speech begin; UtteranceEnd: no word for
# ``utterance_end_ms`` after the word that ended at ``last_word_end``.
StreamEvent = Segment | SpeechStarted | UtteranceEnd
GateEvent = Literal["start", "pause", "resume", "end"]
PAUSE_MS = 150  # silence after which a recognizer may start decoding the utterance


class SpeechGate:
    """webrtcvad over 10 ms frames: where speech starts, pauses, resumes and ends.

    ``pause`` comes after ``pause_frames`` silent frames (only when fewer than
    ``end_frames``), ``resume`` at the first speech frame after a pause, ``end`` (where
    endpointing fires) after ``end_frames``.
    """

    def __init__(
        self, rate: int, end_frames: int, aggressiveness: int = 2, pause_frames: int = 0
    ) -> None:
        if rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"webrtcvad cannot run at {rate} Hz")
        self._vad = webrtcvad.Vad(aggressiveness)
        self._rate = rate
        self._frame = rate // 100
        self._end_frames = end_frames
        self._pause_frames = pause_frames if 0 < pause_frames < end_frames else 0
        self._pending = np.zeros(0, dtype=np.int16)
        self._pos = 0  # samples framed so far
        self._speaking = False
        self._paused = False
        self._silent = 0

    def push(self, samples: Int16Array) -> list[tuple[int, GateEvent]]:
        """Take samples; return (sample position, event) for each event they hold."""
        buf = np.concatenate([self._pending, samples])
        whole = len(buf) - len(buf) % self._frame
        events: list[tuple[int, GateEvent]] = []
        for offset in range(0, whole, self._frame):
            frame = buf[offset : offset + self._frame]
            speech = self._vad.is_speech(frame.astype("<i2").tobytes(), self._rate)
            start, self._pos = self._pos, self._pos + self._frame
            if speech:
                self._silent = 0
                if self._paused:
                    self._paused = False
                    events.append((start, "resume"))
                if not self._speaking:
                    self._speaking = True
                    events.append((start, "start"))
            elif self._speaking:
                self._silent += 1
                if self._silent == self._pause_frames:
                    self._paused = True
                    events.append((self._pos, "pause"))
                if self._silent >= self._end_frames:
                    self._speaking = False
                    events.append((self._pos, "end"))
        self._pending = buf[whole:]
        return events


class ChannelStream:
    """One reported channel: resampling, server VAD, recognizer, interim and final spans."""

    def __init__(
        self,
        recognizer: Recognizer,
        src_rate: int,
        engine_rate: int,
        *,
        endpointing_ms: int | None,
        interim: bool,
        utterance_end_ms: int | None,
        channel: int = 0,
    ) -> None:
        self._rec = recognizer
        self._channel = channel  # the index its events carry
        self._resampler = StreamResampler(src_rate, engine_rate)
        self._src_rate, self._rate = src_rate, engine_rate
        # Without endpointing the VAD still needs a pause to re-arm SpeechStarted.
        end_ms = 300 if endpointing_ms is None else endpointing_ms
        self._gate = SpeechGate(
            engine_rate, max(1, math.ceil(end_ms / 10)), pause_frames=PAUSE_MS // 10
        )
        self._endpointing = endpointing_ms is not None
        self._interim = interim
        self._utterance_end = None if utterance_end_ms is None else utterance_end_ms / 1000
        self._received = 0  # samples received, at the client's rate: the stream clock
        self._fed = 0  # samples given to the recognizer, at the engine's rate
        self._held = np.zeros(0, dtype=np.int16)  # waiting to make up a whole feed piece
        self._piece = engine_rate // 10
        self._final_start = 0.0
        self._next_interim = 1.0
        self._last_word_end: float | None = None
        self._reported_end: float | None = None

    @property
    def now(self) -> float:
        """The channel's stream clock: seconds of audio received."""
        return self._received / self._src_rate

    def push(self, samples: Int16Array) -> list[StreamEvent]:
        """Take the channel's next samples (client rate); return what they caused."""
        self._received += len(samples)
        out = self._feed(self._resampler.process(samples))
        out += self._interim_if_due()
        out += self._utterance_end_if_due()
        return out

    def finalize(self, *, from_finalize: bool) -> Segment:
        """Flush the recognizer: a final covering everything since the previous final."""
        return self._final(self.now, speech_final=False, from_finalize=from_finalize)

    def end_of_stream(self) -> list[StreamEvent]:
        """The client is done: drain the resampler and give the last final, if any audio."""
        out = self._feed(self._resampler.flush())
        if self.now > self._final_start:
            out.append(self.finalize(from_finalize=False))
        return out

    def configure(self, options: RecognizerOptions) -> None:
        """The stream's options changed: the recognizer's next decode uses them."""
        self._rec.configure(options)

    def close(self) -> None:
        """Release the recognizer."""
        self._rec.close()

    def _feed(self, x: Int16Array) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        base, cursor = self._fed, 0
        for pos, event in self._gate.push(x):
            if event == "start":
                out.append(SpeechStarted(self._channel, pos / self._rate))
            elif event == "resume":
                self._rec.resume()
            elif event == "pause":
                # The recognizer gets the audio exactly up to the pause, however it came.
                cut = pos - base
                self._accept(x[cursor:cut])
                cursor = cut
                self._flush_held()
                self._rec.pause()
            elif self._endpointing:
                # Cut exactly where endpointing fired: later audio belongs to the next span.
                cut = pos - base
                self._accept(x[cursor:cut])
                cursor = cut
                out.append(self._final(pos / self._rate, speech_final=True, from_finalize=False))
        self._accept(x[cursor:])
        self._fed += len(x)
        return out

    def _accept(self, x: Int16Array) -> None:
        """Feed the recognizer in fixed 100 ms pieces, whatever the client's message size.

        Recognizers with running normalisation (pocketsphinx's live CMN) give results
        that depend on how audio is split into calls; fixed pieces, cut only where a
        final is, make the words independent of the client's chunking.
        """
        held = np.concatenate([self._held, x]) if len(self._held) else x
        whole = len(held) - len(held) % self._piece
        for pos in range(0, whole, self._piece):
            self._rec.accept(held[pos : pos + self._piece])
        self._held = held[whole:].copy()

    def _flush_held(self) -> None:
        if len(self._held):
            self._rec.accept(self._held)
            self._held = self._held[:0]

    def _final(self, end: float, *, speech_final: bool, from_finalize: bool) -> Segment:
        self._flush_held()
        words = self._rec.finalize()
        end = max(end, self._final_start)
        seg = Segment(words, self._final_start, end, True, speech_final, from_finalize)
        self._final_start = end
        self._next_interim = end + 1.0
        self._note(words)
        return seg

    def _interim_if_due(self) -> list[StreamEvent]:
        if not self._interim or self.now < self._next_interim:
            return []
        while self._next_interim <= self.now:
            self._next_interim += 1.0
        words = self._rec.partial()
        self._note(words)
        return [Segment(words, self._final_start, self.now, False)] if words else []

    def _utterance_end_if_due(self) -> list[StreamEvent]:
        limit = self._utterance_end
        if limit is None or self._last_word_end in (None, self._reported_end):
            return []
        assert self._last_word_end is not None
        if self.now - self._last_word_end < limit:
            return []
        self._note(self._rec.partial())  # a word may have begun since we last asked
        if self.now - self._last_word_end < limit:
            return []
        self._reported_end = self._last_word_end
        return [UtteranceEnd(self._channel, self._last_word_end)]

    def _note(self, words: Sequence[RecognizedWord]) -> None:
        for w in words:
            if self._last_word_end is None or w.end > self._last_word_end:
                self._last_word_end = w.end
