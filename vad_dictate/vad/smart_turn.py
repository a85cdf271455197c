"""The smart-turn v3.2 end-of-turn model (BSD-2-Clause) via onnxruntime: audio -> P(turn is over).

The model file ships in the ``pipecat-ai`` wheel (``pip install --no-deps pipecat-ai``); it is
found through the wheel's metadata without importing pipecat, checked against its SHA-256, or
taken from a path the user gives (``vad.turn_model``). Input: the last 8 s of the utterance at
16 kHz, zero-padded on the left and then normalised to zero mean and unit variance, as Whisper
log-mel features (``melspec.padded_log_mel``) of shape (1, 80, 800). Output: the completion
probability. A call takes about 70-130 ms on one core, so the client runs it on a worker
thread, and stops it (:class:`Stop`) when speech resumes before its answer is in.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vad_dictate.audio.block import Int16Array
from vad_dictate.errors import ConfigError
from vad_dictate.vad.melspec import RATE, padded_log_mel

INSTALL = "pip install onnxruntime && pip install --no-deps pipecat-ai"
WHEEL_PATH = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
WINDOW_S = 8
NORMALISE_EPS = 1e-7


def bundled_model() -> Path | None:
    """The model file inside the installed pipecat-ai wheel, or None if it is not installed."""
    try:
        dist = importlib.metadata.distribution("pipecat-ai")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(WHEEL_PATH)))
    return path if path.is_file() else None


def check_digest(path: Path) -> None:
    """Raise ConfigError unless ``path`` holds the model pipecat-ai ships, byte for byte."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        raise ConfigError(
            f"{path} is not the smart-turn v3.2 model pipecat-ai ships (SHA-256 {digest[:12]}...): "
            f"reinstall it with {INSTALL}, or set vad.turn_model to a model you trust."
        )


def model_features(audio: Int16Array) -> np.ndarray[Any, np.dtype[np.float32]]:
    """(1, 80, 800) model input of the last 8 s of ``audio`` (16 kHz int16): zero-padded on
    the left, normalised over the padded window, zeros included, as the model was trained and
    is run. The zeros go through no FFT (see ``melspec.padded_log_mel``)."""
    n = WINDOW_S * RATE
    tail = audio[-n:].astype(np.float32) / 32768.0
    return padded_log_mel(tail, n, NORMALISE_EPS)[np.newaxis]


class Stopped(Exception):
    """A model call was stopped before its answer (see :class:`Stop`)."""


class Stop:
    """Lets another thread end one model call early; the call then raises :class:`Stopped`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._hook: Callable[[], None] | None = None

    def __call__(self) -> None:
        """Stop the call: at once if it has not begun, at its next graph node if it runs."""
        with self._lock:
            self._stopped, hook = True, self._hook
        if hook is not None:
            hook()

    def on_stop(self, hook: Callable[[], None]) -> bool:
        """Call ``hook`` (on the stopping thread) when stopped; False if stopped already."""
        with self._lock:
            if self._stopped:
                return False
            self._hook = hook
            return True


class SmartTurn:
    """The loaded model; :meth:`score` is thread-safe and takes about 0.1 s."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        """Load ``path``, or the bundled model; ConfigError names the fix when it is missing."""
        try:
            ort: Any = importlib.import_module("onnxruntime")
        except ImportError:
            raise ConfigError(f"vad.turn 'smart' needs onnxruntime: {INSTALL}.") from None
        if path is None:
            found = bundled_model()
            if found is None:
                raise ConfigError(f"vad.turn 'smart' needs the smart-turn model: {INSTALL}.")
            check_digest(found)
            path = found
        elif not path.is_file():
            raise ConfigError(f"vad.turn_model {str(path)!r} is not a file: give the .onnx path.")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            kind = exc.__class__.__name__
            raise ConfigError(
                f"vad.turn_model {str(path)!r} is not a loadable ONNX model ({kind})."
            ) from None
        self.path = path
        self._ort = ort

    def score(self, audio: Int16Array, stop: Stop | None = None) -> float:
        """Probability (0-1) that ``audio`` (16 kHz speech up to now) ends a finished turn.
        Raises :class:`Stopped` if ``stop`` is called first."""
        return self.score_features(model_features(audio), stop)

    def score_features(
        self, features: np.ndarray[Any, np.dtype[np.float32]], stop: Stop | None = None
    ) -> float:
        """:meth:`score` of ready-made (1, 80, 800) features (see :func:`model_features`)."""
        options = self._ort.RunOptions()
        if stop is not None and not stop.on_stop(lambda: setattr(options, "terminate", True)):
            raise Stopped
        try:
            out = self._session.run(None, {"input_features": features}, options)
        except Exception:  # onnxruntime's own Fail type, "terminate flag" in its message
            if options.terminate:
                raise Stopped from None
            raise
        return float(np.asarray(out[0]).reshape(-1)[0])
