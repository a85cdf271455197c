"""One microphone session per user; file transcriptions run alongside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.apprun import app_cmd, app_env, run_cli, status, two_wav, wait_for
from tests.fakemic import fake_mic
from tests.wavs import silence
from vad_dictate.errors import AlreadyRunning
from vad_dictate.ui.instance import InstanceLock


def test_lock_is_held_once_and_freed(tmp_path: Path) -> None:
    first, second = InstanceLock(tmp_path), InstanceLock(tmp_path)
    first.acquire()
    with pytest.raises(AlreadyRunning, match=r"already listening to the microphone \(pid \d+\)"):
        second.acquire()
    first.release()
    second.acquire()  # free again, and the file left behind is no obstacle
    second.release()


def test_second_microphone_session_refuses_and_a_file_runs_alongside(
    server_url: str, tmp_path: Path
) -> None:
    with fake_mic(tmp_path, silence(1.0)) as mic_env:
        env = app_env(tmp_path, **mic_env)
        first = subprocess.Popen(
            app_cmd("--url", server_url),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_for(lambda: status(env).get("state") == "listening", timeout=30)
            second = subprocess.run(
                app_cmd("--url", server_url), env=env, capture_output=True, text=True, timeout=30
            )
            assert second.returncode == 6 and second.stdout == ""
            assert second.stderr == (
                f"vad-dictate: vad-dictate is already listening to the microphone (pid "
                f"{first.pid}); drive it with 'vad-dictate toggle' or end it with "
                "'vad-dictate stop' first.\n"
            )
            # A file transcription meanwhile: it runs, and the socket stays the first's.
            wav = two_wav(tmp_path)
            done = run_cli(["--input", str(wav), "--url", server_url, "--speed", "0"], env)
            assert done.returncode == 0 and done.stdout == "Alpha bravo.\nCharlie delta echo.\n"
            assert done.stderr == ""
            assert status(env)["state"] == "listening" and status(env)["captured_s"] > 0
            assert subprocess.run(app_cmd("stop"), env=env, timeout=30).returncode == 0
            _, err = first.communicate(timeout=30)
        finally:
            first.kill()
            first.wait()
    assert first.returncode == 0, err


def test_the_microphone_session_takes_the_socket_from_a_file_transcription(
    server_url: str, tmp_path: Path
) -> None:
    wav = two_wav(tmp_path)
    with fake_mic(tmp_path, silence(1.0)) as mic_env:
        env = app_env(tmp_path, **mic_env)
        slow = subprocess.Popen(
            app_cmd("--input", str(wav), "--url", server_url, "--speed", "0.3"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        mic = None
        try:
            assert wait_for(lambda: bool(status(env)), timeout=30)  # the file has the socket
            mic = subprocess.Popen(
                app_cmd("--url", server_url),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            # `status` now answers from the microphone session: its audio never ends.
            assert wait_for(lambda: status(env).get("captured_s", 0) > 6.0, timeout=40)
            assert slow.poll() is None or slow.returncode == 0
            assert subprocess.run(app_cmd("stop"), env=env, timeout=30).returncode == 0
            assert mic.wait(timeout=30) == 0
            out, _ = slow.communicate(timeout=60)
        finally:
            for proc in (slow, mic):
                if proc is not None:
                    proc.kill()
                    proc.wait()
    assert slow.returncode == 0 and out == "Alpha bravo.\nCharlie delta echo.\n"
