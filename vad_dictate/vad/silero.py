"""The optional Silero VAD engine (``vad.engine = "silero"``): the ONNX model via onnxruntime.

No torch: the model file ships in the ``silero-vad`` wheel (``pip install --no-deps
silero-vad``, whose Python code would import torch, so only its data folder is used) and runs
on ``onnxruntime``. Both are optional; without them this engine raises ConfigError naming the
install command. The model takes 512-sample windows at 16 kHz (256 at 8 kHz) with 64 (32)
samples of the previous window as context and a (2, 1, 128) recurrent state, and answers a
speech probability. Without silero-vad, the copy of the model that faster-whisper ships
(``faster_whisper/assets/silero_vad_v6.onnx``, 16 kHz only) is used: the same windows and
context, with the state split into LSTM ``h`` and ``c`` of shape (1, 1, 128) each.
Pure apart from the model: no I/O after loading, no threads, no clock.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vad_dictate.errors import ConfigError

INSTALL = "pip install onnxruntime && pip install --no-deps silero-vad"
# Speech probability threshold per aggressiveness 0-3 (the model's own default is 0.5).
THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
FASTER_WHISPER = ("faster_whisper", "assets/silero_vad_v6.onnx")
HYSTERESIS = 0.15  # once speaking, speech goes on down to threshold - 0.15 (Silero's rule)


def model_path() -> Path:
    """The silero_vad.onnx of the silero-vad wheel, else the one faster-whisper ships."""
    for package, file in (("silero_vad", "data/silero_vad.onnx"), (*FASTER_WHISPER,)):
        spec = importlib.util.find_spec(package)  # finds the folder without importing it
        for folder in list(spec.submodule_search_locations or []) if spec else []:
            path = Path(folder) / file
            if path.is_file():
                return path
    raise ConfigError(f"vad.engine 'silero' needs the silero-vad model: {INSTALL}.")


class SileroVad:
    """Speech decisions for frames of any length, from the latest Silero window."""

    def __init__(self, sample_rate: int, aggressiveness: int = 2) -> None:
        if sample_rate not in (8000, 16000):
            raise ConfigError(
                f"vad.engine 'silero' needs 8000 or 16000 Hz audio, got {sample_rate} Hz."
            )
        try:
            ort: Any = importlib.import_module("onnxruntime")
        except ImportError:
            raise ConfigError(f"vad.engine 'silero' needs onnxruntime: {INSTALL}.") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # cheap, not greedy
        self._session = ort.InferenceSession(
            str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._split_state = "h" in {i.name for i in self._session.get_inputs()}
        if self._split_state and sample_rate != 16000:
            raise ConfigError(
                f"vad.engine 'silero' with faster-whisper's model needs 16000 Hz audio, got "
                f"{sample_rate} Hz: {INSTALL}."
            )
        self._window = 512 if sample_rate == 16000 else 256
        self._context_len = 64 if sample_rate == 16000 else 32
        self._rate = np.array(sample_rate, dtype=np.int64)
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(self._context_len, dtype=np.float32)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._threshold = THRESHOLDS[aggressiveness]
        self._speaking = False
        self.probability = 0.0

    def set_aggressiveness(self, mode: int) -> None:
        """Use the threshold of aggressiveness ``mode`` (0-3) from the next frame on."""
        self._threshold = THRESHOLDS[mode]

    def is_speech(self, frame: npt.NDArray[np.int16]) -> bool:
        """Feed one frame; True if the latest window's probability says speech."""
        samples = frame.astype(np.float32) / 32768.0
        buffer = np.concatenate([self._buffer, samples]) if len(self._buffer) else samples
        while len(buffer) >= self._window:
            self.probability = self._run(buffer[: self._window])
            buffer = buffer[self._window :]
        self._buffer = buffer
        floor = self._threshold - (HYSTERESIS if self._speaking else 0.0)
        self._speaking = self.probability >= floor
        return self._speaking

    def _run(self, window: npt.NDArray[np.float32]) -> float:
        x = np.concatenate([self._context, window])[np.newaxis, :]
        if self._split_state:
            h, c = self._state[:1], self._state[1:]
            out, h, c = self._session.run(None, {"input": x, "h": h, "c": c})
            self._state = np.concatenate([h, c])
        else:
            out, self._state = self._session.run(
                None, {"input": x, "state": self._state, "sr": self._rate}
            )
        self._context = x[0, -self._context_len :]
        return float(np.ravel(out)[0])
