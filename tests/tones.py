"""Test helpers: tone-word tracks with known transcripts and timings, and WAV files of them."""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.base import RecognizedWord
from vad_dictate.engines.tone import silence, synth_word

LEAD_S = 0.1  # playback paths drop the first samples: every track starts with silence


@dataclass(frozen=True, slots=True)
class Track:
    """One channel of tone audio and the truth about it."""

    samples: Int16Array
    rate: int
    utterances: list[list[str]]
    words: list[RecognizedWord]  # every word with its true start/end (seconds)

    @property
    def text(self) -> list[str]:
        """Every word, in order."""
        return [w.text for w in self.words]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate


def track(
    utterances: Sequence[Sequence[str]],
    pause_s: float | Sequence[float] = 1.0,
    *,
    rate: int = 16000,
    gap_s: float = 0.1,
    word_s: float = 0.3,
    lead_s: float = LEAD_S,
    tail_s: float = 0.5,
) -> Track:
    """Return utterances of tone words separated by pauses (one pause value, or one per gap)."""
    pauses = [pause_s] * len(utterances) if isinstance(pause_s, int | float) else list(pause_s)
    parts: list[Int16Array] = [silence(lead_s, rate)]
    words: list[RecognizedWord] = []
    position = len(parts[0])
    for u, utterance in enumerate(utterances):
        if u:
            parts.append(silence(pauses[u - 1], rate))
            position += len(parts[-1])
        for i, text in enumerate(utterance):
            if i:
                parts.append(silence(gap_s, rate))
                position += len(parts[-1])
            tone = synth_word(text, word_s, rate)
            words.append(RecognizedWord(text, position / rate, (position + len(tone)) / rate))
            parts.append(tone)
            position += len(tone)
    parts.append(silence(tail_s, rate))
    samples = np.concatenate(parts)
    return Track(samples, rate, [list(u) for u in utterances], words)


def interleave(channels: Sequence[Int16Array]) -> Int16Array:
    """Interleave channels into frames, padding the shorter ones with silence."""
    length = max(len(c) for c in channels)
    out = np.zeros((length, len(channels)), dtype=np.int16)
    for i, channel in enumerate(channels):
        out[: len(channel), i] = channel
    return out.reshape(-1)


def wav_bytes(channels: Sequence[Int16Array], rate: int) -> bytes:
    """Return a 16-bit PCM WAV file holding the channels."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wf:
        wf.setnchannels(len(channels))
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(interleave(channels).astype("<i2").tobytes())
    return buf.getvalue()


def write_tone_wav(
    path: Path,
    per_channel: Sequence[Sequence[Sequence[str]]],
    pause_s: float = 1.0,
    rate: int = 16000,
) -> list[Track]:
    """Write one track per channel (utterances of tone words) to ``path``; return the tracks."""
    tracks = [track(utterances, pause_s, rate=rate) for utterances in per_channel]
    path.write_bytes(wav_bytes([t.samples for t in tracks], rate))
    return tracks


def read_wav(path: Path) -> tuple[Int16Array, int, int]:
    """Return (interleaved int16 samples, rate, channels) of a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as wf:
        data = np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2").astype(np.int16)
        return data, wf.getframerate(), wf.getnchannels()
