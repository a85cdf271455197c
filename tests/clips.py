"""Real speech for the VAD tests and the endpointing benchmark: LibriVox clips with their truth.

The five clips of ``tests/data/librivox`` (one sentence each, with ``.lab`` speech boundaries and
``.json`` word alignments) are joined in shuffled rounds with 0.7-1.5 s of digital silence, then
mixed with white, pink or brown noise at a given SNR (fixed seeds). SNR is the RMS of the speech
(the ``.lab`` spans) over the RMS of the noise. :func:`score` matches an endpointer's utterances
to the true sentences (definitions in tests/vad/test_endpointing_quality.py).
"""

from __future__ import annotations

import json
import wave
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vad_dictate.audio.block import Int16Array
from vad_dictate.vad.endpointer import Endpointer
from vad_dictate.vad.events import EndpointerSettings, SpeechEnd

RATE = 16000
DATA = Path(__file__).resolve().parent / "data" / "librivox"
END_TOLERANCE_MS = 300
NOISES = ("white", "pink", "brown")
# Spectral slope (power ~ 1/f**alpha) of each noise colour.
ALPHA = {"white": 0.0, "pink": 1.0, "brown": 2.0}


@dataclass(frozen=True)
class Corpus:
    """Joined audio with the truth: sentence spans and word spans, in samples."""

    audio: Int16Array
    sentences: list[tuple[int, int]]
    words: list[tuple[int, int]]


@dataclass(frozen=True)
class Score:
    """How well one run's utterances match a corpus."""

    detected: int
    matched: int
    sentences: int
    onset_errors_ms: list[float]
    end_errors_ms: list[float]
    cut_words: int

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (1.0 when both are 1)."""
        if not self.matched:
            return 0.0
        return 2 * self.matched / (self.detected + self.sentences)


def clips() -> list[str]:
    """The LibriVox clip names (file stems), sorted."""
    return sorted(p.stem for p in DATA.glob("*.wav"))


def load(stem: str) -> Int16Array:
    """A clip's 16 kHz mono samples."""
    with wave.open(str(DATA / f"{stem}.wav")) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise ValueError(f"{stem}.wav is not 16 kHz mono int16")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def lab(stem: str) -> tuple[float, float]:
    """(speech start, speech end) in seconds from the clip's .lab file."""
    rows = [line.split("\t") for line in (DATA / f"{stem}.lab").read_text().splitlines() if line]
    start = next(float(r[0]) for r in rows if r[2].strip() == "speech")
    end = next(float(r[0]) for r in rows if r[2].strip() == "silence")
    return start, end


def words(stem: str) -> list[tuple[float, float]]:
    """(begin, end) seconds of every aligned word (not the <sil> entries)."""
    entries = json.loads((DATA / f"{stem}.json").read_text())["w"]
    return [(w["b"], w["b"] + w["d"]) for w in entries if not w["t"].startswith("<")]


def corpus(rounds: int = 3, seed: int = 1, lead_s: float = 1.0) -> Corpus:
    """``rounds`` shuffled passes over the clips, 0.7-1.5 s of silence after each."""
    rng = np.random.default_rng(seed)
    names = clips()
    parts = [np.zeros(round(lead_s * RATE), dtype=np.int16)]
    pos, sentences, spans = len(parts[0]), [], []
    for _ in range(rounds):
        for i in rng.permutation(len(names)):
            stem = names[i]
            audio, (t0, t1) = load(stem), lab(stem)
            sentences.append((pos + round(t0 * RATE), pos + round(t1 * RATE)))
            spans += [(pos + round(b * RATE), pos + round(e * RATE)) for b, e in words(stem)]
            gap = np.zeros(round(rng.uniform(0.7, 1.5) * RATE), dtype=np.int16)
            parts += [audio, gap]
            pos += len(audio) + len(gap)
    return Corpus(np.concatenate(parts), sentences, spans)


def colored_noise(kind: str, n: int, seed: int) -> npt.NDArray[np.float64]:
    """Unit-RMS Gaussian noise with a 1/f**alpha power spectrum (flat below 20 Hz)."""
    white = np.random.default_rng(seed).standard_normal(n)
    if ALPHA[kind]:
        spectrum = np.fft.rfft(white)
        freqs = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 20.0)
        white = np.fft.irfft(spectrum / freqs ** (ALPHA[kind] / 2), n)
    out: npt.NDArray[np.float64] = white / np.sqrt(np.mean(white**2))
    return out


def speech_rms(c: Corpus) -> float:
    """RMS of the corpus over its .lab speech spans."""
    speech = np.concatenate([c.audio[a:b] for a, b in c.sentences]).astype(np.float64)
    return float(np.sqrt(np.mean(speech**2)))


def to_int16(x: npt.NDArray[np.float64]) -> Int16Array:
    """Round and clip to int16."""
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def mix(c: Corpus, kind: str, snr_db: float, seed: int = 5) -> Corpus:
    """The corpus with ``kind`` noise added at ``snr_db``."""
    rms = speech_rms(c) / 10 ** (snr_db / 20)
    noisy = c.audio + colored_noise(kind, len(c.audio), seed) * rms
    return replace(c, audio=to_int16(noisy))


def run(
    audio: Int16Array, settings: EndpointerSettings, kind: type[Endpointer] = Endpointer
) -> list[SpeechEnd]:
    """Every utterance the endpointer finds in ``audio`` (the last one forced to end)."""
    ep = kind(settings)
    events = ep.process(audio) + ep.force_end()
    return [ev for ev in events if isinstance(ev, SpeechEnd)]


def silence_samples(settings: EndpointerSettings) -> int:
    """silence_ms in samples (the endpointer ends at the frame boundary nearest it)."""
    return RATE * settings.silence_ms // 1000


def score(
    ends: Sequence[SpeechEnd],
    c: Corpus,
    settings: EndpointerSettings,
    tolerance_ms: int = END_TOLERANCE_MS,
) -> Score:
    """Match utterances to sentences (see the module docstring)."""
    silence, tol = silence_samples(settings), RATE * tolerance_ms // 1000
    free = list(range(len(c.sentences)))
    onsets: list[float] = []
    ends_ms: list[float] = []
    for ev in ends:
        for i in free:
            s0, s1 = c.sentences[i]
            if ev.onset < s1 and ev.last_speech > s0 and abs(ev.end - s1 - silence) <= tol:
                free.remove(i)
                onsets.append((ev.onset - s0) * 1000 / RATE)
                ends_ms.append((ev.end - s1 - silence) * 1000 / RATE)
                break
    cut = sum(1 for b, e in c.words if not any(ev.start <= b and e <= ev.end for ev in ends))
    return Score(len(ends), len(onsets), len(c.sentences), onsets, ends_ms, cut)


def false_per_minute(
    kind: str,
    level_rms: float,
    settings: EndpointerSettings,
    endpointer: type[Endpointer] = Endpointer,
) -> float:
    """Utterances found in 60 s of noise alone at ``level_rms``."""
    noise = to_int16(colored_noise(kind, 60 * RATE, seed=9) * level_rms)
    return float(len(run(noise, settings, endpointer)))
