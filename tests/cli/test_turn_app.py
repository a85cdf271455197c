"""`vad-dictate --turn smart` as a user runs it, against the tone server on 127.0.0.1.

The model loads from the pipecat-ai wheel (.ci/setup installs it) and runs on its worker thread;
the session ends cleanly with it. A model path that is not a model is one sentence, exit 2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import ROOT, app_env
from tests.wavs import write_wav
from vad_dictate.engines.tone import silence, synth_utterance
from vad_dictate.vad.smart_turn import bundled_model


def run(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vad_dictate", *args],
        capture_output=True,
        text=True,
        env=app_env(tmp, **env),
        cwd=ROOT,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )


def test_smart_turns_end_to_end(server_url: str, tmp_path: Path) -> None:
    if bundled_model() is None:
        pytest.skip("pipecat-ai is not installed (.ci/setup installs it)")
    pause = silence(2.0)  # longer than the ceiling: two utterances whatever the model says
    audio = np.concatenate(
        [silence(0.5), synth_utterance(["alpha", "bravo"]), pause, synth_utterance(["golf"]), pause]
    )
    wav = write_wav(tmp_path / "two.wav", audio)
    res = run(tmp_path, "--input", str(wav), "--url", server_url, "--speed", "2", "--turn", "smart")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "warning" not in res.stderr
    assert [line.rstrip(".").lower() for line in res.stdout.splitlines()] == ["alpha bravo", "golf"]


def test_a_model_path_that_is_not_a_model_is_one_sentence(server_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_text("not a model")
    wav = write_wav(tmp_path / "s.wav", silence(0.5))
    args = ["--input", str(wav), "--url", server_url, "--turn", "smart"]
    for path in (bad, tmp_path / "missing.onnx"):
        res = run(tmp_path, *args, VAD_DICTATE_VAD_TURN_MODEL=str(path))
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr
        assert "vad.turn_model" in res.stderr and len(res.stderr.strip().splitlines()) == 1
