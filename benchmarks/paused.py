"""Benchmark: what starting paused costs, lazily connected versus held open by KeepAlive.

Two ways to sit paused, side by side in one run, each trial a real ``python -m
vad_dictate`` process reading a WAV (3 s of silence, then continuous tone speech)
through a counting proxy in front of a local tone server:

- ``lazy``: ``--paused``: no connection until the toggle; it is opened then.
- ``held``: the session connects at once and is paused over the control socket as
  soon as it listens; KeepAlive holds the connection until the toggle.

The toggle is sent on the control socket from this process once 4 s of the file (1 s
into the speech) has been captured. Measured per
trial: the time from the toggle to the first audio message at the proxy and to the
first speech audio (the opening 100 ms of silence excluded), audio seconds and
messages that reached the server while paused, and how long a connection was open
while paused (what a provider billing connection time would charge).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.latency import ServerProcess, table
from tests.faultproxy import FaultProxy
from tests.wavs import utterances, write_wav

ROOT = Path(__file__).resolve().parent.parent
TOGGLE_AT_S = 4.0  # of captured audio
BYTES_PER_S = 32000  # 16 kHz, 16-bit mono
CONNECT_SILENCE_BYTES = 3200


def _send(sock_path: Path, word: str) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(sock_path))
        sock.sendall(word.encode() + b"\n")
        reply: dict[str, Any] = json.loads(sock.makefile().readline())
        return reply


def _until(check: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("timed out")


def trial(strategy: str, url: str, wav: Path, tmp: Path) -> dict[str, float]:
    """One session: pause (lazily or held), toggle in the speech, measure the wire."""
    runtime = tmp / f"run-{strategy}-{time.monotonic_ns()}"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPGRAM", "VAD_DICTATE"))}
    env.update(XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(tmp), PYTHONPATH=str(ROOT))
    sock_path = runtime / "vad-dictate.sock"
    with FaultProxy(url) as proxy:
        argv = [sys.executable, "-m", "vad_dictate", "--input", str(wav), "--url", proxy.url]
        argv += ["--quiet"] + (["--paused"] if strategy == "lazy" else [])
        app = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _until(lambda: sock_path.exists() and _send(sock_path, "status")["ok"])
            if strategy == "held":
                _until(lambda: _send(sock_path, "status")["state"] == "listening")
                _send(sock_path, "pause")
            _until(lambda: _send(sock_path, "status")["captured_s"] >= TOGGLE_AT_S)
            opened = [t for _, t, _ in proxy.audio_log[:1]]
            toggled = time.monotonic()
            _send(sock_path, "toggle")
            _until(lambda: any(n != CONNECT_SILENCE_BYTES for _, t, n in proxy.audio_log))
            log = list(proxy.audio_log)
            _send(sock_path, "stop")
            app.wait(timeout=30)
        finally:
            app.kill()
            app.wait()
    before = [n for _, t, n in log if t < toggled]
    after = [(t, n) for _, t, n in log if t >= toggled]
    speech = [t for t, n in after if n != CONNECT_SILENCE_BYTES]
    return {
        "first_audio_ms": (after[0][0] - toggled) * 1000,
        "first_speech_ms": (speech[0] - toggled) * 1000,
        "paused_audio_s": sum(before) / BYTES_PER_S,
        "paused_open_s": (toggled - opened[0]) if opened else 0.0,
    }


def measure(trials: int) -> dict[str, list[dict[str, float]]]:
    """``trials`` sessions of each strategy, interleaved."""
    results: dict[str, list[dict[str, float]]] = {"lazy": [], "held": []}
    with tempfile.TemporaryDirectory() as tmp_name, ServerProcess("tone") as server:
        tmp = Path(tmp_name)
        words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"] * 3
        wav = write_wav(tmp / "talk.wav", utterances([words], lead=3.0, tail=1.0))
        for _ in range(trials):
            for strategy in results:
                results[strategy].append(trial(strategy, server.url, wav, tmp))
    return results


def summarize(results: dict[str, list[dict[str, float]]]) -> str:
    """Medians per strategy."""
    rows = []
    for strategy, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rows.append(
            [
                strategy,
                len(runs),
                med["first_audio_ms"],
                med["first_speech_ms"],
                f"{med['paused_audio_s']:.2f}",
                f"{med['paused_open_s']:.2f}",
            ]
        )
    headers = [
        "paused how",
        "trials",
        "toggle -> first audio (ms)",
        "toggle -> first speech audio (ms)",
        "audio sent while paused (s)",
        "connection open while paused (s)",
    ]
    return table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5, help="trials per strategy")
    args = parser.parse_args()
    print(summarize(measure(args.n)))


if __name__ == "__main__":
    main()
