"""The app on a real PortAudio input stream: a virtual ALSA microphone fed through a FIFO.

The ALSA ``file`` plugin reads its ``infile``; pointing it at a FIFO that this test
writes at real-time pace gives a clocked microphone without hardware, so the
whole path (PortAudio callback -> queue -> endpointer -> websocket -> server ->
stdout) runs exactly as it does on a laptop.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from tests.apprun import app_env
from tests.fakemic import fake_mic
from tests.wavs import utterances
from vad_dictate.audio.resample import resample

ROOT = Path(__file__).resolve().parents[2]
RATE = 16000
GROUPS = [["alpha", "bravo", "charlie"], ["delta", "echo"]]


def read_lines(stream: IO[str], sink: queue.Queue[str]) -> None:
    for line in stream:
        sink.put(line)


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_app_on_a_virtual_microphone_prints_the_words(
    server_url: str, tmp_path: Path, rate: int
) -> None:
    """At 16 kHz, and with the device opened at 44.1 or 48 kHz: the same words."""
    audio = resample(utterances(GROUPS, pause=1.2, lead=0.5), RATE, rate)
    errlog = tmp_path / "stderr.txt"
    with fake_mic(tmp_path, audio, speed=2.0, rate=rate) as mic:
        env = app_env(tmp_path, **mic)  # a private runtime dir: its own single-instance lock
        env["VAD_DICTATE_AUDIO_DEVICE_RATE"] = str(rate)
        cmd = [sys.executable, "-m", "vad_dictate", "--device", "fifomic", "--url", server_url]
        cmd += ["--output", "jsonl"]
        app = subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=errlog.open("w"),
            text=True,
            stdin=subprocess.DEVNULL,
        )
        try:
            assert app.stdout is not None
            got: queue.Queue[str] = queue.Queue()
            reader = threading.Thread(target=read_lines, args=(app.stdout, got), daemon=True)
            reader.start()
            lines: list[dict[str, Any]] = []
            deadline = time.monotonic() + 60
            while len(lines) < len(GROUPS) and time.monotonic() < deadline:
                with contextlib.suppress(queue.Empty):
                    lines.append(json.loads(got.get(timeout=0.5)))
            app.send_signal(signal.SIGTERM)
            app.wait(timeout=30)
            reader.join(timeout=5)
            rest = "".join(got.queue)
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
    err = errlog.read_text()
    assert app.returncode == 0, err
    assert rest == ""  # nothing printed twice on the way out
    assert [x["text"].rstrip(".").lower() for x in lines] == [" ".join(g) for g in GROUPS]
    assert [x["trigger"] for x in lines] == ["vad", "vad"]
    assert lines[0]["start"] == pytest.approx(0.5, abs=0.15)
    assert all(0 < x["latency_ms"] < 5000 for x in lines)
    assert "Traceback" not in err
