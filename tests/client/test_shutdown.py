"""Stopping: Ctrl-C, SIGTERM and end of input keep what the user said; waits are bounded."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import clean_env, start_cli, wait_for
from tests.faultproxy import FaultProxy
from tests.wavs import silence, utterances, write_wav
from vad_dictate.engines.tone import synth_utterance
from vad_dictate.errors import VadDictateError
from vad_dictate.ui.remote import send_command

ROOT = Path(__file__).resolve().parents[2]
LONG = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def start(wav: Path, url: str, tmp: Path, *args: str) -> subprocess.Popen[str]:
    env = clean_env()
    env.update(XDG_CONFIG_HOME=str(tmp), VAD_DICTATE_STREAM_REPLAY_SPEED="0")
    (tmp / "run").mkdir(mode=0o700, exist_ok=True)
    env.update(XDG_RUNTIME_DIR=str(tmp / "run"))  # its own control socket, to ask how far it is
    return start_cli(
        ["--input", str(wav), "--url", url, "--output", "jsonl", "--quiet", *args], env
    )


def captured_s(tmp: Path) -> float:
    """Seconds of audio the app started by ``start`` has captured (0 before it listens)."""
    try:
        reply = send_command("status", {"XDG_RUNTIME_DIR": str(tmp / "run")})
    except VadDictateError:
        return 0.0
    return float(reply.get("captured_s", 0.0))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_utterance_prints_what_was_said(
    server_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    audio = np.concatenate([silence(0.5), synth_utterance(LONG), silence(3.0)])
    app = start(write_wav(tmp_path / "l.wav", audio), server_url, tmp_path)
    # About four words in, counted in captured audio: startup time varies with the load.
    assert wait_for(lambda: captured_s(tmp_path) >= 2.2, timeout=30)
    app.send_signal(sig)
    out, err = app.communicate(timeout=20)
    assert app.returncode == 0, err
    [line] = [json.loads(x) for x in out.splitlines()]
    words = line["text"].rstrip(".").lower().split()
    assert line["trigger"] == "end"
    assert 3 <= len(words) < len(LONG) and words == LONG[: len(words)]
    assert "Traceback" not in err


def test_silent_server_at_exit_is_bounded_and_reported(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "s.wav", utterances([["alpha", "bravo"], ["kilo"]]))
    with FaultProxy(server_url, stall_all=True) as proxy:
        started = time.monotonic()
        app = start(wav, proxy.url, tmp_path, "--speed", "0")
        out, err = app.communicate(timeout=60)
        took = time.monotonic() - started
    assert app.returncode == 0, err
    assert out == ""  # the server gave nothing, and nothing is invented
    assert "never confirmed 2 utterance(s)" in err
    assert took < 30  # stall detection, one replay, then the bounded close wait


def test_second_ctrl_c_exits_at_once(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "c.wav", utterances([["alpha", "bravo"]], tail=20.0))
    with FaultProxy(server_url, stall_all=True) as proxy:
        app = start(wav, proxy.url, tmp_path)
        time.sleep(2.0)
        app.send_signal(signal.SIGINT)
        time.sleep(0.5)
        second = time.monotonic()
        app.send_signal(signal.SIGINT)
        app.communicate(timeout=10)
        assert time.monotonic() - second < 5
    assert app.returncode == 130
