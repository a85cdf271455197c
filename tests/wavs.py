"""Test helper: build WAV files of tone-engine utterances with known words and pauses."""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vad_dictate.engines.tone import synth_utterance

RATE = 16000


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def write_wav(path: Path, samples: npt.NDArray[np.int16], rate: int = RATE) -> Path:
    """Write mono (n,) or interleaved (n, ch) int16 samples as a PCM WAV."""
    data = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(data).tobytes())
    return path


def utterances(
    groups: Sequence[Sequence[str]], pause: float = 1.2, lead: float = 0.5, tail: float = 1.5
) -> npt.NDArray[np.int16]:
    """Mono audio: ``lead`` silence, each group of words as one utterance, ``pause`` between."""
    parts = [silence(lead)]
    for i, words in enumerate(groups):
        if i:
            parts.append(silence(pause))
        parts.append(synth_utterance(list(words)))
    parts.append(silence(tail))
    return np.concatenate(parts)


def stereo(left: npt.NDArray[np.int16], right: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Interleave two mono tracks, padding the shorter with silence."""
    n = max(len(left), len(right))
    out = np.zeros((n, 2), dtype=np.int16)
    out[: len(left), 0] = left
    out[: len(right), 1] = right
    return out
