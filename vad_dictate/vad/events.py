"""The endpointer's settings, states and the events it emits (see vad/endpointer.py).

Pure: plain values, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal, TypeGuard

from vad_dictate.errors import ConfigError

SAMPLE_RATES = (8000, 16000, 32000, 48000)  # the rates webrtcvad accepts
FRAME_SIZES_MS = (10, 20, 30)


class State(Enum):
    """Where the current channel is in an utterance."""

    SILENCE = "silence"
    ONSET = "onset"
    SPEECH = "speech"
    HANGOVER = "hangover"


Trigger = Literal["vad", "max_length", "end", "hotkey", "turn"]
VadEngine = Literal["webrtcvad", "silero"]
ENGINES = ("webrtcvad", "silero")


@dataclass(frozen=True, slots=True)
class EndpointerSettings:
    """Endpointer tuning; every duration is in milliseconds."""

    aggressiveness: int = 2
    frame_ms: int = 20
    onset_ms: int = 90
    silence_ms: int = 700
    preroll_ms: int = 400
    min_utterance_ms: int = 250
    max_utterance_ms: int = 30000
    snr_db: int = 4
    drop_db: int = 30
    engine: VadEngine = "webrtcvad"

    def validate(self) -> None:
        """Raise ConfigError naming the first bad value and its valid range."""
        if self.engine not in ENGINES:
            raise ConfigError(f"vad.engine must be 'webrtcvad' or 'silero', got {self.engine!r}.")
        check_range("aggressiveness", self.aggressiveness, 0, 3, "")
        if not _is_int(self.frame_ms) or self.frame_ms not in FRAME_SIZES_MS:
            raise ConfigError(f"vad.frame_ms must be 10, 20 or 30, got {self.frame_ms!r}.")
        check_range("onset_ms", self.onset_ms, 10, 1000)
        check_range("silence_ms", self.silence_ms, 100, 5000)
        check_range("preroll_ms", self.preroll_ms, 0, 2000)
        check_range("min_utterance_ms", self.min_utterance_ms, 0, 5000)
        check_range("max_utterance_ms", self.max_utterance_ms, 1000, 600000)
        check_range("snr_db", self.snr_db, 0, 30, " dB")
        check_range("drop_db", self.drop_db, 0, 60, " dB")
        if self.max_utterance_ms <= self.min_utterance_ms:
            raise ConfigError(
                f"vad.max_utterance_ms must be greater than vad.min_utterance_ms "
                f"({self.min_utterance_ms} ms), got {self.max_utterance_ms}."
            )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_range(key: str, value: object, lo: int, hi: int, unit: str = " ms") -> None:
    if not (_is_int(value) and lo <= value <= hi):
        raise ConfigError(f"vad.{key} must be between {lo} and {hi}{unit}, got {value!r}.")


@dataclass(frozen=True, slots=True)
class SpeechStart:
    """An utterance is confirmed: stream audio from ``start``."""

    start: int  # max(onset - preroll (or a lead-in's), previous utterance end, 0)
    onset: int  # first sample of the first speech frame


@dataclass(frozen=True, slots=True)
class SpeechEnd:
    """A confirmed utterance ended at ``end`` (samples processed when emitted)."""

    start: int
    onset: int
    last_speech: int  # sample just after the last speech frame
    end: int
    trigger: Trigger


@dataclass(frozen=True, slots=True)
class Dropped:
    """Short, faint speech (or a lead-in) ended; nothing was announced for it."""

    onset: int
    last_speech: int


EndpointEvent = SpeechStart | SpeechEnd | Dropped
