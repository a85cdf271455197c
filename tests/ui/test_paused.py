"""Start paused: capture runs, but nothing reaches the server until the user resumes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.apprun import app_cmd, app_env, control, file_args, start_cli, status, wait_for
from tests.fakemic import fake_mic
from tests.faultproxy import FaultProxy
from tests.wavs import silence, utterances, write_wav


def test_nothing_on_the_wire_until_toggle(server_url: str, tmp_path: Path) -> None:
    with FaultProxy(server_url) as proxy:
        env = app_env(tmp_path)
        wav = write_wav(tmp_path / "talk.wav", utterances([["alpha", "bravo"]] * 16, pause=0.8))
        app = start_cli(file_args(wav, proxy.url, "3", "--paused"), env)
        try:
            assert wait_for(lambda: status(env).get("captured_s", 0) > 3.0, timeout=30)
            # Seconds of speech captured, and the server has seen nothing at all.
            assert status(env)["state"] == "paused"
            assert (proxy.connections, proxy.client_messages, proxy.audio_log) == (0, 0, [])
            assert control(env, "toggle").returncode == 0
            assert wait_for(lambda: sum(n for _, _, n in proxy.audio_log) > 0)
            assert status(env)["state"] != "paused"
            out, err = app.communicate(timeout=60)
        finally:
            app.kill()
            app.wait()
        assert proxy.connections == 1
    assert app.returncode == 0, err
    words = " ".join(json.loads(line)["text"] for line in out.splitlines()).lower()
    assert "alpha bravo" in words  # what was said after the toggle
    assert len(out.splitlines()) < 16  # what was said while paused was never sent


def test_start_paused_on_the_microphone_then_toggle(server_url: str, tmp_path: Path) -> None:
    talk = utterances([["charlie", "delta"]] * 20, pause=0.6)
    with fake_mic(tmp_path, talk) as mic, FaultProxy(server_url) as proxy:
        env = app_env(tmp_path, **mic)
        app = start_cli(["--url", proxy.url, "--paused", "--output", "jsonl"], env)
        try:
            assert wait_for(lambda: status(env).get("captured_s", 0) > 2.0, timeout=30)
            time.sleep(0.5)
            assert proxy.connections == 0 and proxy.audio_log == []
            assert control(env, "toggle").returncode == 0
            # The connection opens with 100 ms of silence; speech follows it.
            assert wait_for(lambda: len(proxy.audio_log) > 1, timeout=20)
            # Stop once a whole "charlie delta" (about 1.5 s with its pause) has been sent.
            assert wait_for(lambda: status(env).get("sent_s", 0) > 2.5, timeout=30)
            assert control(env, "stop").returncode == 0
            out, err = app.communicate(timeout=30)
        finally:
            app.kill()
            app.wait()
    assert app.returncode == 0, err
    assert "charlie delta" in out.lower()


def test_a_session_that_never_resumes_ends_cleanly(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    wav = write_wav(tmp_path / "quiet.wav", silence(1.0))
    # The URL is not even reachable: a session that never resumes never connects.
    done = subprocess.run(
        app_cmd("--input", str(wav), "--url", "ws://127.0.0.1:9/v1/listen", "--paused"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
