"""Offline recognition with pocketsphinx 5.x and the en-us model it ships.

A :class:`SphinxEngine` parses the configuration once and keeps a pool of
decoders: each loads the acoustic and language models (about 0.3 s), so a
decoder is made only when every existing one is in use, and a closed
recognizer hands its decoder back for the next connection. At most ``max_idle``
decoders wait in the pool (about 90 MB each): after a burst of connections the
others are freed instead of being kept for ever.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np

from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.base import NO_OPTIONS, Engine, RecognizedWord, RecognizerOptions
from vad_dictate.errors import ConfigError

SAMPLE_RATE = 16000
FRAME_SECONDS = 0.01  # pocketsphinx's default frame rate is 100 frames per second

# Silence, sentence markers and noise words of the model's filler dictionary.
_FILLER = re.compile(r"^(<.*>|\[.*\]|\+.*\+)$")
# "read(2)" names the second pronunciation of "read"; the text is the same word.
_ALTERNATE = re.compile(r"\(\d+\)$")


def _load_pocketsphinx() -> Any:
    """Import pocketsphinx, turning its absence into a one-sentence ConfigError."""
    try:
        import pocketsphinx
    except ImportError as exc:
        raise ConfigError(
            "The offline engine needs the pocketsphinx package: run 'pip install pocketsphinx'."
        ) from exc
    return pocketsphinx


def words_from_segments(segments: Any, offset: float) -> list[RecognizedWord]:
    """Convert pocketsphinx segments to Words (fillers dropped) shifted by offset seconds."""
    words: list[RecognizedWord] = []
    for seg in segments or ():
        if _FILLER.match(seg.word):
            continue
        text = _ALTERNATE.sub("", seg.word)
        start = offset + seg.start_frame * FRAME_SECONDS
        end = offset + (seg.end_frame + 1) * FRAME_SECONDS  # end_frame is inclusive
        words.append(RecognizedWord(text=text, start=round(start, 3), end=round(end, 3)))
    return words


class SphinxEngine(Engine):
    """The pocketsphinx en-us model behind a thread-safe pool of decoders."""

    name = "pocketsphinx"
    sample_rate = SAMPLE_RATE
    # Its n-gram search has no way to favour given words (no hotwords, no prompt), so
    # keyterms are not in effect here; Configure answers list none.
    uses_keyterms = False

    def __init__(self, max_idle: int = 2) -> None:
        ps = _load_pocketsphinx()
        self._max_idle = max_idle
        self._decoder_class = ps.Decoder
        # loglevel FATAL keeps pocketsphinx's model-loading chatter off the server's stderr.
        self._config = ps.Config(loglevel="FATAL", samprate=SAMPLE_RATE)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._create_lock = threading.Lock()
        self._created = 0
        self._idle.append(self._create())  # fail at start-up, not on the first connection

    @property
    def decoders_created(self) -> int:
        """Number of decoders this engine has loaded so far."""
        return self._created

    @property
    def decoders_idle(self) -> int:
        """Number of decoders waiting in the pool."""
        with self._lock:
            return len(self._idle)

    def new_recognizer(self, options: RecognizerOptions = NO_OPTIONS) -> SphinxRecognizer:
        """Return a fresh recognizer whose clock starts at 0, backed by a pooled decoder."""
        return SphinxRecognizer(self, self._acquire())

    def _create(self) -> Any:
        # Decoders share one parsed Config; creation is serialised because
        # pocketsphinx writes the model's feat.params into that shared object.
        with self._create_lock:
            try:
                decoder = self._decoder_class(self._config)
            except (RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"pocketsphinx could not load its en-us model ({exc}): "
                    "reinstall it with 'pip install --force-reinstall pocketsphinx'."
                ) from exc
            self._created += 1
            return decoder

    def _acquire(self) -> Any:
        with self._lock:
            decoder = self._idle.pop() if self._idle else None
        if decoder is None:
            return self._create()
        # The front end (noise estimate, cepstral mean) adapts to the audio it has
        # seen. Rebuilding it (about 0.1 ms) makes a reused decoder give exactly
        # the words and times of a fresh one, whichever connection used it before.
        decoder.reinit_feat()
        return decoder

    def _release(self, decoder: Any) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(decoder)


class SphinxRecognizer:
    """Streaming recognizer for one channel; one utterance per finalize."""

    def __init__(self, engine: SphinxEngine, decoder: Any) -> None:
        self._engine = engine
        self._decoder: Any = decoder
        self._accepted = 0  # samples accepted since creation: the recognizer's clock
        self._utt_start = 0  # value of _accepted when the current utterance began
        self._in_utt = False

    def accept(self, samples: Int16Array) -> None:
        """Append mono int16 samples at 16 kHz to the current utterance."""
        decoder = self._require_open()
        if len(samples) == 0:
            return
        if not self._in_utt:
            decoder.start_utt()
            self._in_utt = True
        data = np.ascontiguousarray(samples, dtype="<i2").tobytes()
        decoder.process_raw(data, False, False)
        self._accepted += len(samples)

    def partial(self) -> list[RecognizedWord]:
        """Return the current hypothesis of the open utterance with its segment times."""
        decoder = self._require_open()
        if not self._in_utt:
            return []
        return words_from_segments(decoder.seg(), self._utt_start / SAMPLE_RATE)

    def pause(self) -> None:
        """Nothing to do: it decodes as audio arrives."""

    def resume(self) -> None:
        """Nothing to do: it decodes as audio arrives."""

    def configure(self, options: RecognizerOptions) -> None:
        """Nothing to change: pocketsphinx uses neither keyterms nor a language choice."""

    def finalize(self) -> list[RecognizedWord]:
        """End the open utterance and return its words; [] if no audio came since the last."""
        decoder = self._require_open()
        if not self._in_utt:
            return []
        decoder.end_utt()
        self._in_utt = False
        words = words_from_segments(decoder.seg(), self._utt_start / SAMPLE_RATE)
        self._utt_start = self._accepted
        return words

    def close(self) -> None:
        """End any open utterance and return the decoder to the engine's pool (idempotent)."""
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return
        if self._in_utt:
            decoder.end_utt()
            self._in_utt = False
        self._engine._release(decoder)

    def _require_open(self) -> Any:
        if self._decoder is None:
            raise ValueError("this recognizer is closed")
        return self._decoder
