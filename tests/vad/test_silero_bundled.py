"""``--vad silero`` without the silero-vad package: the model faster-whisper ships."""

from __future__ import annotations

import importlib.util
from importlib.machinery import ModuleSpec
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faster_whisper", reason="the whisper extra is not installed")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from vad_dictate.audio.files import read_wav
from vad_dictate.errors import ConfigError
from vad_dictate.vad import silero

CLIP = Path(__file__).resolve().parents[1] / "data" / "librivox"
STEM = "sense_and_sensibility_01_austen_64kb-0930"  # speech from 0.27 s to 3.04 s


@pytest.fixture
def without_silero_vad(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "silero_vad" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.usefixtures("without_silero_vad")
def test_faster_whispers_model_is_used_and_hears_speech() -> None:
    assert silero.model_path().parts[-3:] == ("faster_whisper", "assets", "silero_vad_v6.onnx")
    vad = silero.SileroVad(16000, aggressiveness=2)
    audio = read_wav(CLIP / f"{STEM}.wav").samples[:, 0]
    audio = np.concatenate([np.zeros(8000, np.int16), audio, np.zeros(16000, np.int16)])
    frames = [vad.is_speech(audio[i : i + 480]) for i in range(0, len(audio) - 479, 480)]
    seconds = [i * 0.03 for i, speech in enumerate(frames) if speech]
    assert seconds, "no speech heard"
    assert 0.5 + 0.2 <= seconds[0] <= 0.5 + 0.5  # the clip's speech starts at 0.27 s
    assert 0.5 + 2.9 <= seconds[-1] <= 0.5 + 3.4  # and ends at 3.04 s
    assert not any(frames[: int(0.5 / 0.03)])  # the leading silence is silence


@pytest.mark.usefixtures("without_silero_vad")
def test_bundled_model_refuses_8_khz_with_the_install_command() -> None:
    with pytest.raises(ConfigError, match=r"needs 16000 Hz audio, got 8000 Hz: pip install"):
        silero.SileroVad(8000)
