"""The deterministic ``tone`` engine: words are harmonic tones, decoded exactly.

RecognizedWord ``i`` of :data:`ALL_WORDS` is a harmonic complex tone whose fundamental is
``100 + 10*i`` Hz (12 harmonics, amplitude ``0.6**k``, 30 ms raised-cosine
ramps). webrtcvad hears these tones as speech, so tests can drive the whole
dictation pipeline with audio whose transcript is known exactly.

The recognizer cuts its input into 10 ms frames on its own clock, so the words
it returns do not depend on how the audio was split across ``accept`` calls.
Voiced segments (frame energy above a floor) are identified by their spectral
peak and checked for the exact harmonic pattern; anything else (speech, noise,
clicks) is rejected, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.base import NO_OPTIONS, Engine, RecognizedWord, RecognizerOptions

WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
)
# Words for dictation tests (commands, spoken punctuation, numbers), after the first sixteen
# so random draws from WORDS never form a command.
EXTRA_WORDS = (
    "new",
    "line",
    "paragraph",
    "scratch",
    "that",
    "sign",
    "off",
    "comma",
    "period",
    "twenty",
    "one",
)
ALL_WORDS = WORDS + EXTRA_WORDS
RATE = 16000
HARMONICS = 12
DECAY = 0.6
RAMP_S = 0.03
PEAK = 0.316 * 32767  # about -10 dBFS

FRAME = 160  # 10 ms at 16 kHz: the segmentation grid
FLOOR_RMS = 100.0  # about -50 dBFS: quieter frames are silence
HANGOVER_FRAMES = 4  # silence that ends a segment (tones are >= 80 ms apart)
MIN_PARTIAL_S = 0.1  # shortest tone in progress that partial() reports
MIN_FINAL_S = 0.06  # shortest tone that finalize() or a completed segment reports
MAX_TONE_S = 0.6  # longer voiced segments are not tones
FFT_SIZE = 1 << 15  # zero padding: about 0.5 Hz bins for the peak search
FREQ_TOLERANCE = 3.0  # Hz between the measured fundamental and a word's
# Share of the energy the harmonic model must explain. Its estimate runs low on short
# stretches that are mostly onset ramp, hence the lower bar below 100 ms.
MIN_HARMONIC_FRACTION = 0.93
MIN_HARMONIC_FRACTION_SHORT = 0.8


def fundamental(word: str) -> float:
    """Return the fundamental frequency (Hz) that encodes ``word``."""
    try:
        return 100.0 + 10.0 * ALL_WORDS.index(word)
    except ValueError:
        raise ValueError(
            f"{word!r} is not a tone word; use one of {', '.join(ALL_WORDS)}"
        ) from None


def synth_word(word: str, duration_s: float = 0.3, rate: int = RATE) -> Int16Array:
    """Return the tone for ``word``: ``duration_s`` long, ramped, peak about -10 dBFS."""
    f0 = fundamental(word)
    n = round(duration_s * rate)
    t = np.arange(n) / rate
    wave = np.zeros(n)
    for k in range(HARMONICS):
        wave += DECAY**k * np.sin(2 * np.pi * f0 * (k + 1) * t)
    ramp_n = min(round(RAMP_S * rate), n // 2)
    ramp = 0.5 * (1 - np.cos(np.pi * np.arange(ramp_n) / ramp_n))
    envelope = np.ones(n)
    envelope[:ramp_n] = ramp
    envelope[n - ramp_n :] = ramp[::-1]
    wave *= envelope
    wave *= PEAK / np.max(np.abs(wave))
    return np.round(wave).astype(np.int16)


def silence(seconds: float, rate: int = RATE) -> Int16Array:
    """Return ``seconds`` of digital silence."""
    return np.zeros(round(seconds * rate), dtype=np.int16)


def synth_utterance(
    words: list[str] | tuple[str, ...], gap_s: float = 0.1, rate: int = RATE, word_s: float = 0.3
) -> Int16Array:
    """Return the words as tones separated by ``gap_s`` of silence (at least 0.08 s)."""
    if gap_s < 0.08:
        raise ValueError("gap_s must be at least 0.08 s so the tones can be told apart")
    parts: list[Int16Array] = []
    for i, word in enumerate(words):
        if i:
            parts.append(silence(gap_s, rate))
        parts.append(synth_word(word, word_s, rate))
    return np.concatenate(parts) if parts else silence(0, rate)


def identify(samples: Int16Array, rate: int = RATE) -> tuple[str, float] | None:
    """Return (word, confidence) if ``samples`` hold one tone word, else None."""
    if len(samples) < round(MIN_FINAL_S * rate * 0.5):
        return None
    x = samples.astype(np.float64)
    window = np.hanning(len(x))
    xw = x * window
    energy = float(np.dot(xw, xw))
    if energy <= 0.0:
        return None
    f0 = _peak_frequency(xw, rate)
    index = round((f0 - 100.0) / 10.0)
    if not 0 <= index < len(ALL_WORDS) or abs(f0 - (100.0 + 10.0 * index)) > FREQ_TOLERANCE:
        return None
    amplitudes = _harmonic_amplitudes(xw, f0, rate)
    if not _decays_like_a_tone(amplitudes):
        return None
    # A pure harmonic signal is fully explained by its harmonic amplitudes.
    explained = float(np.sum(amplitudes**2)) / 2 * float(np.dot(window, window))
    fraction = explained / energy
    short = len(samples) < 0.1 * rate
    if fraction < (MIN_HARMONIC_FRACTION_SHORT if short else MIN_HARMONIC_FRACTION):
        return None
    return ALL_WORDS[index], round(min(fraction, 1.0), 4)


def _peak_frequency(xw: np.ndarray, rate: int) -> float:
    """Return the strongest frequency between 80 and 370 Hz, parabola-refined."""
    size = max(FFT_SIZE, 1 << int(np.ceil(np.log2(len(xw)))))
    spectrum = np.abs(np.fft.rfft(xw, size))
    lo, hi = int(80 * size / rate), int(370 * size / rate) + 1
    peak = lo + int(np.argmax(spectrum[lo:hi]))
    a, b, c = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return float((peak + shift) * rate / size)


def _harmonic_amplitudes(xw: np.ndarray, f0: float, rate: int) -> np.ndarray:
    """Return the amplitude of each harmonic of ``f0`` (DFT at the exact frequency)."""
    t = np.arange(len(xw)) / rate
    gain = 2.0 / float(np.sum(np.hanning(len(xw))))
    freqs = f0 * np.arange(1, HARMONICS + 1)
    freqs = freqs[freqs < rate / 2]
    basis = np.exp(-2j * np.pi * np.outer(freqs, t))
    return np.asarray(np.abs(basis @ xw) * gain)


def _decays_like_a_tone(amplitudes: np.ndarray) -> bool:
    """True if harmonics 2-7 fall off by about 0.6 per step, as synthesised."""
    if amplitudes[0] <= 0:
        return False
    for k in range(1, 7):
        ratio = amplitudes[k] / amplitudes[0] / DECAY**k
        if not 0.8 < ratio < 1.25:
            return False
    return True


@dataclass(slots=True)
class _Segment:
    """A voiced stretch in progress: where it starts and its samples so far."""

    start: int  # sample index on the recognizer clock
    chunks: list[Int16Array]
    length: int = 0
    voiced_end: int = 0  # end of the last voiced frame
    silent_frames: int = 0
    suppressed: bool = False  # already reported by a finalize; ignore the rest


class ToneRecognizer:
    """Streaming tone decoder for one channel (see the module docstring)."""

    def __init__(self, options: RecognizerOptions = NO_OPTIONS) -> None:
        self.options = options
        self._pending = np.zeros(0, dtype=np.int16)
        self._clock = 0  # samples framed so far (whole frames only, so chunking cannot matter)
        self._segment: _Segment | None = None
        self._words: list[RecognizedWord] = []
        self._cache: tuple[int, int, RecognizedWord | None] | None = None

    def accept(self, samples: Int16Array) -> None:
        """Append mono int16 samples at 16 kHz."""
        data = np.asarray(samples, dtype=np.int16).reshape(-1)
        buf = np.concatenate([self._pending, data]) if len(self._pending) else data
        whole = len(buf) - len(buf) % FRAME
        for offset in range(0, whole, FRAME):
            self._frame(buf[offset : offset + FRAME])
        self._pending = buf[whole:].copy()

    def partial(self) -> list[RecognizedWord]:
        """Return the words since the last finalize, plus a tone in progress >= 100 ms."""
        words = list(self._words)
        current = self._current_word(MIN_PARTIAL_S)
        if current is not None:
            words.append(current)
        return words

    def pause(self) -> None:
        """Nothing to do: it decodes as audio arrives."""

    def resume(self) -> None:
        """Nothing to do: it decodes as audio arrives."""

    def configure(self, options: RecognizerOptions) -> None:
        """Keep the options (tones are decoded the same whatever they say)."""
        self.options = options

    def finalize(self) -> list[RecognizedWord]:
        """Return every word since the last finalize, including a tone in progress >= 60 ms."""
        words = self._words
        current = self._current_word(MIN_FINAL_S)
        if current is not None:
            words.append(current)
            # The rest of a cut tone must not come back as a second word.
            assert self._segment is not None
            self._segment.suppressed = True
        else:
            # Too short or not a tone: whatever follows starts afresh.
            self._segment = None
        self._words = []
        self._cache = None
        return words

    def close(self) -> None:
        """Nothing to release."""

    def _frame(self, frame: Int16Array) -> None:
        start = self._clock
        self._clock += FRAME
        voiced = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) >= FLOOR_RMS
        seg = self._segment
        if seg is None:
            if voiced:
                self._segment = _Segment(start, [frame.copy()], FRAME, self._clock)
            return
        if seg.length <= MAX_TONE_S * RATE:  # longer is rejected anyway: stop storing
            seg.chunks.append(frame.copy())
            seg.length += FRAME
        if voiced:
            seg.silent_frames = 0
            seg.voiced_end = self._clock
        else:
            seg.silent_frames += 1
            if seg.silent_frames >= HANGOVER_FRAMES:
                self._close_segment(seg)

    def _close_segment(self, seg: _Segment) -> None:
        self._segment = None
        self._cache = None
        if seg.suppressed:
            return
        word = self._analyse(seg, MIN_FINAL_S)
        if word is not None:
            self._words.append(word)

    def _current_word(self, min_s: float) -> RecognizedWord | None:
        seg = self._segment
        if seg is None or seg.suppressed:
            return None
        key = (seg.start, seg.voiced_end)
        if self._cache is not None and self._cache[:2] == key:
            return self._cache[2] if _duration(seg) >= min_s else None
        word = self._analyse(seg, 0.0)
        self._cache = (*key, word)
        return word if _duration(seg) >= min_s else None

    def _analyse(self, seg: _Segment, min_s: float) -> RecognizedWord | None:
        duration = _duration(seg)
        if duration < min_s or duration > MAX_TONE_S:
            return None
        voiced = np.concatenate(seg.chunks)[: seg.voiced_end - seg.start]
        found = identify(voiced)
        if found is None:
            return None
        text, confidence = found
        return RecognizedWord(text, seg.start / RATE, seg.voiced_end / RATE, confidence)


def _duration(seg: _Segment) -> float:
    return (seg.voiced_end - seg.start) / RATE


class ToneEngine(Engine):
    """Engine whose words are the tones of :func:`synth_word`."""

    name = "tone"
    sample_rate = RATE
    uses_keyterms = True  # a test engine: it keeps the list (its tone words need no help)

    def new_recognizer(self, options: RecognizerOptions = NO_OPTIONS) -> ToneRecognizer:
        """Return a fresh tone recognizer whose clock starts at 0."""
        return ToneRecognizer(options)
