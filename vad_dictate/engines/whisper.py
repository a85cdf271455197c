"""Offline recognition with Whisper through faster-whisper (CTranslate2, int8 on the CPU).

Whisper decodes whole utterances, not streams: a recognizer buffers the audio of the
open utterance and decodes it at ``finalize`` on the calling thread (the server's
worker), with word timestamps shifted onto the stream clock. Interim hypotheses
re-decode the growing utterance on the engine's single interim thread; a request is
dropped, not queued, while that thread or any final is busy, so interims never delay
a final, and ``partial`` returns the newest finished hypothesis. One model serves every
recognizer of the process.

When the server's VAD hears a pause (``channel.PAUSE_MS``), the recognizer starts the
final's decode at once on the engine's early thread; the final, if no speech came in
between, decodes exactly that audio and so just takes that result (or waits for it).

Where the time goes (tiny.en, 2 threads, a 5 s utterance): Whisper's encoder reads a
fixed 30 s window whatever the utterance's length (half of a final's decode), beam
search the other half. Here the encoder reads the utterance plus ``WINDOW_PAD_S`` of the
window's padding (CTranslate2 takes any length up to 30 s), and beam search keeps 3
hypotheses instead of 5: 0.6-0.7 CPU-seconds per LibriVox test clip instead of 1.5-1.6,
with the same word error rate on the test speech (clips, halves and thirds of clips,
joined clips, card names: 0.120 both); beam 2 lost "ill-disposed" on one clip. With a
pad of 1-2 s tiny.en repeated itself on short utterances ("five five five five ..."), so
a decode whose words loop is done again over the whole window. Interims, re-decoded
every second, cost four times a 7 s utterance's final in CPU; they use greedy search
and a 3 s pad: the final replaces them, and they must not hold the cores it needs.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.base import NO_OPTIONS, Engine, RecognizedWord, RecognizerOptions
from vad_dictate.engines.whisper_models import ResolvedModel, resolve_model
from vad_dictate.engines.whisper_words import drop_squeezed_tail, looped, words_from_segments
from vad_dictate.errors import ConfigError

SAMPLE_RATE = 16000
DEFAULT_MODEL = "tiny.en"
MAX_THREADS = 64
INTERIM_STEP = SAMPLE_RATE  # re-decode for an interim after at least 1 s of new audio
MIN_DECODE = SAMPLE_RATE // 10  # less than 100 ms holds no word worth decoding
# Whisper reads 30 s windows; a longer utterance is decoded in pieces as it grows,
# which bounds the audio a recognizer holds.
MAX_BUFFER = 28 * SAMPLE_RATE
BEAM_SIZE = 3
INTERIM_BEAM_SIZE = 1
WINDOW_PAD_S = 5  # padding the encoder reads after the audio (Whisper's window: 30 s)
INTERIM_PAD_S = 3  # interims loop more often with less; a looping interim is dropped
FRAMES_PER_S = 100  # log-mel frames a second
M_ARENA_MAX = -8  # glibc's mallopt parameter
MALLOC_ARENAS = 2

Float32Array = npt.NDArray[np.float32]


def default_threads() -> int:
    """Decoding threads when engine.threads is 0: the machine's cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


class WhisperEngine(Engine):
    """One faster-whisper model shared by every recognizer of the process."""

    name = "whisper"
    sample_rate = SAMPLE_RATE
    uses_keyterms = True  # passed to Whisper as hotwords (the decoder's prompt)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        threads: int = 0,
        *,
        cache: Path | None = None,
        resolved: ResolvedModel | None = None,
    ) -> None:
        if not 0 <= threads <= MAX_THREADS:
            raise ConfigError(
                f"engine.threads is {threads}, but it must be between 0 and {MAX_THREADS} "
                "(0: one per core)."
            )
        self.resolved = resolved or resolve_model(model, cache=cache)
        _limit_malloc_arenas()
        self.model_name = model
        self.threads = threads or default_threads()
        self._model = _load(self.resolved.path, self.threads)
        self.multilingual = bool(self._model.model.is_multilingual)
        self._warm_up()
        self._lock = threading.Lock()
        self._finals_running = 0
        self._interim_running = False
        self._interims = ThreadPoolExecutor(1, thread_name_prefix="whisper-interim")
        self._early_running = False
        self._early = ThreadPoolExecutor(1, thread_name_prefix="whisper-early")

    def _warm_up(self) -> None:
        """Load the Silero filter and run the decoder once, so the first utterance is not
        the one that waits for it (measured: 4.9 s for the first interim on a busy machine)."""
        for vad_filter in (True, False):
            noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32)
            segments, _info = self._model.transcribe(
                0.01 * noise,
                language="en" if not self.multilingual else None,
                beam_size=1,
                vad_filter=vad_filter,
                condition_on_previous_text=False,
            )
            list(segments)

    def describe(self) -> str:
        """The model and where it came from, for the start-up line."""
        return f"Whisper {self.model_name} ({self.resolved.source})"

    def new_recognizer(self, options: RecognizerOptions = NO_OPTIONS) -> WhisperRecognizer:
        """Return a fresh recognizer whose clock starts at 0."""
        return WhisperRecognizer(self, options)

    def decode(
        self, audio: Float32Array, offset: float, options: RecognizerOptions
    ) -> list[RecognizedWord]:
        """Decode one utterance now (a final) and return its words on the stream clock."""
        with self._lock:
            self._finals_running += 1
        try:
            words = self._transcribe(audio, offset, options, BEAM_SIZE, WINDOW_PAD_S)
            if looped([w.text for w in words]):
                words = self._transcribe(audio, offset, options, BEAM_SIZE, None)
            return words
        finally:
            with self._lock:
                self._finals_running -= 1

    def request_early(
        self, audio: Float32Array, offset: float, options: RecognizerOptions
    ) -> Future[list[RecognizedWord]] | None:
        """Start a final's decode ahead of the final, or None while another still runs."""
        with self._lock:
            if self._early_running:
                return None
            self._early_running = True
        future = self._early.submit(self.decode, audio, offset, options)
        future.add_done_callback(self._early_done)
        return future

    def _early_done(self, _: Future[list[RecognizedWord]]) -> None:
        with self._lock:
            self._early_running = False

    def request_interim(
        self, audio: Float32Array, offset: float, options: RecognizerOptions
    ) -> Future[list[RecognizedWord]] | None:
        """Start an interim decode, or None when decoding is already behind (skipped)."""
        with self._lock:
            if self._interim_running or self._finals_running:
                return None
            self._interim_running = True
        future = self._interims.submit(self._interim, audio, offset, options)
        future.add_done_callback(self._interim_done)
        return future

    def _interim(
        self, audio: Float32Array, offset: float, options: RecognizerOptions
    ) -> list[RecognizedWord]:
        words = self._transcribe(audio, offset, options, INTERIM_BEAM_SIZE, INTERIM_PAD_S)
        return [] if looped([w.text for w in words]) else words  # the final will be redone

    def _interim_done(self, _: Future[list[RecognizedWord]]) -> None:
        with self._lock:
            self._interim_running = False

    def _transcribe(
        self,
        audio: Float32Array,
        offset: float,
        options: RecognizerOptions,
        beam: int,
        pad_s: int | None,
    ) -> list[RecognizedWord]:
        """One decode; ``pad_s`` None: the encoder reads Whisper's whole 30 s window."""
        _window.pad_frames = None if pad_s is None else pad_s * FRAMES_PER_S
        segments, _info = self._model.transcribe(
            audio,
            language=self._language(options.language),
            beam_size=beam,
            word_timestamps=True,
            condition_on_previous_text=False,
            # Silero (bundled with faster-whisper) drops non-speech first, so an
            # utterance of breath or room noise gives no words instead of invented ones.
            vad_filter=True,
            hotwords=" ".join(options.keyterms) or None,
        )
        words = words_from_segments(segments, offset)  # decodes now, on this thread
        return drop_squeezed_tail(words)

    def _language(self, tag: str | None) -> str | None:
        if not self.multilingual:
            return "en"
        code = (tag or "").split("-")[0].lower()
        return code if code in _languages() else None  # None: Whisper detects it


class _Window(threading.local):
    """How many log-mel frames after the speech the encoder reads, per decoding thread."""

    pad_frames: int | None = None  # None: the whole 30 s window


_window = _Window()


def trim_window(features: Any, pad_frames: int | None) -> Any:
    """Cut faster-whisper's zero padding down to ``pad_frames`` after the last real frame.

    faster-whisper pads every window to 3000 frames with exact zeros; a computed log-mel
    frame is never all zeros (silence sits at a negative floor).
    """
    if pad_frames is None:
        return features
    columns = np.flatnonzero(np.any(features != 0, axis=tuple(range(features.ndim - 1))))
    content = int(columns[-1]) + 1 if len(columns) else 0
    keep = min(features.shape[-1], content + pad_frames)
    return np.ascontiguousarray(features[..., :keep])


def _limit_malloc_arenas() -> None:
    """Keep glibc to ``MALLOC_ARENAS`` heap arenas for the threads started from now on.

    glibc gives threads that allocate at once arenas of their own (up to eight per core),
    and the decode threads' arenas kept their peaks: the server's peak RSS was 321-426 MB
    over the offline benchmark, 279-299 MB with two arenas, at the same speed.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl): nothing to tune
        return
    libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def _languages() -> frozenset[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def _load(path: Path, threads: int) -> Any:
    """Load the model on the CPU in int8; a damaged file is a ConfigError naming the folder."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ConfigError(
            "The whisper engine needs faster-whisper: run \"pip install 'vad-dictate[whisper]'\"."
        ) from exc

    class WindowedModel(WhisperModel):  # type: ignore[misc]
        """faster-whisper's model whose encoder reads a window cut to the utterance."""

        def encode(self, features: Any) -> Any:
            return super().encode(trim_window(features, _window.pad_frames))

    try:
        return WindowedModel(
            str(path),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            num_workers=2,  # a final may run while an interim finishes
            local_files_only=True,
        )
    except (RuntimeError, ValueError, OSError) as exc:
        raise ConfigError(
            f"The whisper model in {path} cannot be loaded ({str(exc)[:120]}); replace it with "
            "a complete faster-whisper model or choose another engine.model."
        ) from exc


class WhisperRecognizer:
    """Streaming recognizer for one channel: one decode per utterance."""

    def __init__(self, engine: WhisperEngine, options: RecognizerOptions) -> None:
        self._engine = engine
        self._options = options
        self._closed = False
        self._accepted = 0  # samples accepted since creation: the recognizer's clock
        self._pieces: list[Int16Array] = []
        self._buffered = 0  # samples in _pieces
        self._buffer_start = 0  # clock value of the first buffered sample
        self._decoded: list[RecognizedWord] = []  # earlier pieces of a long utterance
        self._utterance = 0  # counts finals, so a late interim of an old utterance is dropped
        self._interim: tuple[int, Future[list[RecognizedWord]]] | None = None
        self._interim_words: list[RecognizedWord] = []
        self._interim_asked = 0  # _buffered when the last interim was requested
        self._pause_at: int | None = None  # _buffered when speech paused (None: it did not)
        self._early: tuple[RecognizerOptions, Future[list[RecognizedWord]]] | None = None

    def accept(self, samples: Int16Array) -> None:
        """Append mono int16 samples at 16 kHz to the open utterance."""
        self._require_open()
        if len(samples) == 0:
            return
        self._pieces.append(np.array(samples, dtype=np.int16))
        self._buffered += len(samples)
        self._accepted += len(samples)
        if self._buffered >= MAX_BUFFER:
            self._decoded += self._decode_buffer()

    def partial(self) -> list[RecognizedWord]:
        """The newest finished interim hypothesis of the open utterance; may start another."""
        self._require_open()
        if self._interim is not None and self._interim[1].done():
            utterance, future = self._interim
            self._interim = None
            if utterance == self._utterance and future.exception() is None:
                self._interim_words = future.result()
        if self._interim is None and self._buffered - self._interim_asked >= INTERIM_STEP:
            started = self._engine.request_interim(
                self._audio(), self._buffer_start / SAMPLE_RATE, self._options
            )
            if started is not None:
                self._interim = (self._utterance, started)
                self._interim_asked = self._buffered
        return self._decoded + self._interim_words

    def finalize(self) -> list[RecognizedWord]:
        """Decode everything accepted since the last finalize; [] if nothing was heard."""
        self._require_open()
        words = self._decoded + self._decode_buffer()
        self._decoded = []
        self._utterance += 1
        self._interim_words = []
        return words

    def pause(self) -> None:
        """Speech paused: decode the utterance so far now, ahead of its final.

        The final then decodes exactly this audio (what came after is silence) unless
        speech resumes first, so it has the same words whether or not this early decode
        ran or finished in time; it only saves waiting.
        """
        self._require_open()
        if self._pause_at is not None:
            return
        self._pause_at = self._buffered
        if self._buffered >= MIN_DECODE:
            offset = self._buffer_start / SAMPLE_RATE
            started = self._engine.request_early(self._audio(), offset, self._options)
            self._early = None if started is None else (self._options, started)

    def resume(self) -> None:
        """Speech again: the audio after the pause counts, the early decode is void."""
        self._pause_at, self._early = None, None

    def configure(self, options: RecognizerOptions) -> None:
        """New keyterms or language: the next decode (interim or final) uses them."""
        self._require_open()
        self._options = options

    @property
    def options(self) -> RecognizerOptions:
        """What this recognizer's decodes use now."""
        return self._options

    def close(self) -> None:
        """Drop the buffered audio (idempotent); the shared model stays loaded."""
        self._closed = True
        self._pieces, self._buffered, self._decoded = [], 0, []
        self._pause_at, self._early = None, None

    def _decode_buffer(self) -> list[RecognizedWord]:
        audio, offset = self._audio(), self._buffer_start / SAMPLE_RATE
        pause_at, early = self._pause_at, self._early
        self._pieces, self._buffered, self._interim_asked = [], 0, 0
        self._buffer_start = self._accepted
        self._pause_at, self._early = None, None
        if pause_at is not None:
            audio = audio[:pause_at]  # only silence came after the pause
        if len(audio) < MIN_DECODE:
            return []
        if early is not None and early[0] == self._options:
            return early[1].result()  # the same audio and options: the same words, sooner
        return self._engine.decode(audio, offset, self._options)

    def _audio(self) -> Float32Array:
        joined = np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.int16)
        return joined.astype(np.float32) / 32768.0

    def _require_open(self) -> None:
        if self._closed:
            raise ValueError("this recognizer is closed")
