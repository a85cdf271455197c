"""Smart turn taking, the default, as a user runs it, against the tone server on 127.0.0.1.

The model loads from the pipecat-ai wheel (.ci/setup installs it) and runs on its worker thread;
the session ends cleanly with it. A model path that is not a model is one sentence, exit 2. A
plain install without onnxruntime (an import of it fails) dictates all the same, after one
warning: the words and the ceiling end the utterances.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import ROOT, default_env, run_cli
from tests.wavs import utterances, write_wav
from vad_dictate.engines.tone import silence, synth_utterance
from vad_dictate.vad.smart_turn import bundled_model


def run(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The app with the default vad.turn (clean_env pins the other app tests to the timer)."""
    return run_cli(args, default_env(tmp, **env), timeout=90)


def test_smart_turns_end_to_end(server_url: str, tmp_path: Path) -> None:
    if bundled_model() is None:
        pytest.skip("pipecat-ai is not installed (.ci/setup installs it)")
    pause = silence(2.0)  # longer than the ceiling: two utterances whatever the model says
    audio = np.concatenate(
        [silence(0.5), synth_utterance(["alpha", "bravo"]), pause, synth_utterance(["golf"]), pause]
    )
    wav = write_wav(tmp_path / "two.wav", audio)
    res = run(tmp_path, "--input", str(wav), "--url", server_url, "--speed", "2")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "warning" not in res.stderr
    assert [line.rstrip(".").lower() for line in res.stdout.splitlines()] == ["alpha bravo", "golf"]


def test_without_onnxruntime_one_warning_and_the_words_still_come(
    server_url: str, tmp_path: Path
) -> None:
    stub = tmp_path / "plain" / "onnxruntime"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ImportError("No module named onnxruntime")\n')
    pause = silence(2.0)  # longer than the ceiling
    audio = np.concatenate([silence(0.5), synth_utterance(["alpha"]), pause])
    wav = write_wav(tmp_path / "one.wav", audio)
    path = f"{stub.parent}:{ROOT}"
    res = run(tmp_path, "--input", str(wav), "--url", server_url, "--speed", "4", PYTHONPATH=path)
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, res.stderr
    assert "needs onnxruntime" in warnings[0] and "vad.turn_ceiling_ms (1300 ms)" in warnings[0]
    assert "Traceback" not in res.stderr
    assert [line.rstrip(".").lower() for line in res.stdout.splitlines()] == ["alpha"]


def test_a_model_path_that_is_not_a_model_is_one_sentence(server_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_text("not a model")
    wav = write_wav(tmp_path / "s.wav", silence(0.5))
    args = ["--input", str(wav), "--url", server_url]
    for path in (bad, tmp_path / "missing.onnx"):
        res = run(tmp_path, *args, VAD_DICTATE_VAD_TURN_MODEL=str(path))
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr
        assert "vad.turn_model" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_an_unpaced_file_keeps_to_the_silence_timer(server_url: str, tmp_path: Path) -> None:
    groups = [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]
    wav = write_wav(tmp_path / "three.wav", utterances(groups, pause=1.0))  # under the ceiling
    res = run(
        tmp_path, "--input", str(wav), "--url", server_url, "--speed", "0", "--output", "jsonl"
    )
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [x["text"].rstrip(".").lower() for x in lines] == [" ".join(g) for g in groups]
    assert {x["trigger"] for x in lines} == {"vad"}
