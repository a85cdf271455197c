"""Recognition engines behind the local server: the interface they share.

An engine is loaded once per server; each channel of each connection gets its
own :class:`Recognizer`. Recognizers are pure computation (no I/O, no clock):
the server feeds them audio at the engine's sample rate and asks for words.
RecognizedWord times are seconds on the recognizer's own clock, which counts the audio
it has accepted since it was created (the channel's stream clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vad_dictate.audio.block import Int16Array


@dataclass(frozen=True, slots=True)
class RecognizedWord:
    """One recognised word with its span on the recognizer's clock (seconds)."""

    text: str
    start: float
    end: float
    confidence: float = 1.0
    punctuated: str | None = None  # the engine's own cased, punctuated form, if it has one


@dataclass(frozen=True, slots=True)
class RecognizerOptions:
    """What a stream asks of its recognizer (engines ignore what they cannot do)."""

    language: str | None = None  # a BCP-47 tag such as "en" or "de-DE"
    keyterms: tuple[str, ...] = ()


NO_OPTIONS = RecognizerOptions()


class Recognizer(Protocol):
    """Streaming recognizer for one channel."""

    def accept(self, samples: Int16Array) -> None:
        """Append mono int16 samples at the engine's sample rate."""

    def partial(self) -> list[RecognizedWord]:
        """Return the current hypothesis for audio not yet finalized (may be revised)."""

    def finalize(self) -> list[RecognizedWord]:
        """Flush: return the final words of all audio accepted since the last finalize."""

    def configure(self, options: RecognizerOptions) -> None:
        """The stream's options changed (a Configure): decodes from now on use them."""

    def pause(self) -> None:
        """Speech paused: what follows until ``resume`` is silence, which a final may leave
        out, so a recognizer may start decoding the utterance now."""

    def resume(self) -> None:
        """Speech again after a pause: the audio since then counts again."""

    def close(self) -> None:
        """Release resources (e.g. return a decoder to its pool)."""


class Engine(Protocol):
    """A loaded model that makes recognizers; engines subclass it for the default ``describe``."""

    name: str
    sample_rate: int
    uses_keyterms: bool  # False: keyterms are ignored, and Configure answers say so

    def new_recognizer(self, options: RecognizerOptions = NO_OPTIONS) -> Recognizer:
        """Return a fresh recognizer whose clock starts at 0."""

    def describe(self) -> str:
        """What the server's start-up line calls this engine (an engine with a model says which)."""
        return f"the {self.name} engine"
