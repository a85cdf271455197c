"""Frame classifiers: the one interface through which the endpointer asks "is this frame speech?".

Pure: no I/O after construction, no threads, no clock. The endpointer receives a
:class:`FrameClassifier` and applies its own level rules on top; tests hand it scripted
decisions, the app hands it webrtcvad or Silero (``vad.engine``).
"""

from __future__ import annotations

from typing import Protocol

import webrtcvad

from vad_dictate.audio.block import Int16Array


class FrameClassifier(Protocol):
    """Decides, frame by frame, whether mono int16 audio holds speech."""

    def is_speech(self, frame: Int16Array) -> bool:
        """True when ``frame`` (one endpointer frame, in order) sounds like speech."""
        ...

    def set_aggressiveness(self, mode: int) -> None:
        """Be stricter (3) or more lenient (0) from the next frame on."""
        ...


class WebrtcClassifier:
    """webrtcvad's GMM decision for 10, 20 or 30 ms frames."""

    def __init__(self, sample_rate: int, aggressiveness: int) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._rate = sample_rate

    def is_speech(self, frame: Int16Array) -> bool:
        """webrtcvad's decision for this frame."""
        return bool(self._vad.is_speech(frame.tobytes(), self._rate))

    def set_aggressiveness(self, mode: int) -> None:
        """webrtcvad's mode 0-3."""
        self._vad.set_mode(mode)


def make_classifier(engine: str, sample_rate: int, aggressiveness: int) -> FrameClassifier:
    """The classifier named by ``vad.engine`` ('webrtcvad' or 'silero')."""
    if engine == "silero":
        from vad_dictate.vad.silero import SileroVad  # optional: onnxruntime, loaded on demand

        return SileroVad(sample_rate, aggressiveness)
    return WebrtcClassifier(sample_rate, aggressiveness)
