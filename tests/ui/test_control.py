"""The control socket and SIGUSR1, against a running instance."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from tests.apprun import (
    LONG,
    app_cmd,
    app_env,
    control,
    file_args,
    finish,
    in_shell,
    long_wav,
    spoken,
    start_cli,
    status,
    tmux_pane,
    wait_for,
)
from tests.wavs import utterances, write_wav
from vad_dictate.errors import VadDictateError
from vad_dictate.paths import runtime_dir
from vad_dictate.ui.remote import socket_path


def test_runtime_dir(tmp_path: Path) -> None:
    assert runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path
    fallback = runtime_dir({})
    assert fallback == Path(f"/tmp/vad-dictate-{os.getuid()}")
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700
    assert socket_path({"XDG_RUNTIME_DIR": "/run/user/7"}) == Path("/run/user/7/vad-dictate.sock")


def test_unsafe_fallback_dir_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / f"vad-dictate-{os.getuid()}"
    shared.mkdir()
    os.chmod(shared, 0o777)  # e.g. made by someone else for us to use
    with pytest.raises(VadDictateError, match="is not a private directory of this user"):
        runtime_dir({}, base=tmp_path)
    os.chmod(shared, 0o700)
    assert runtime_dir({}, base=tmp_path) == shared


def test_commands_without_a_running_instance_fail_in_one_line(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    for command in ("finalize", "status", "stop"):
        done = control(env, command)
        assert done.returncode == 1 and done.stdout == ""
        sock = Path(env["XDG_RUNTIME_DIR"]) / "vad-dictate.sock"
        assert done.stderr == (
            f"vad-dictate: No vad-dictate is running (nothing listens on '{sock}'); "
            "start one with: vad-dictate\n"
        )


def test_socket_commands_drive_a_running_session(server_url: str, tmp_path: Path) -> None:
    env = app_env(tmp_path)
    sock = Path(env["XDG_RUNTIME_DIR"]) / "vad-dictate.sock"
    # Two long utterances (about 16 s): the stop command ends the session long before that.
    wav = write_wav(tmp_path / "longer.wav", utterances([LONG, LONG], lead=0.5))
    proc = start_cli(file_args(wav, server_url, "1"), env)
    try:
        assert wait_for(lambda: status(env).get("state") == "speech"), status(env)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        snap = status(env)
        assert set(snap) == {
            "state",
            "utterances",
            "connections",
            "aggressiveness",
            "captured_s",
            "sent_s",
            "overflows",
            "dropped_s",
        }
        assert wait_for(lambda: status(env)["captured_s"] > 2.0)
        done = control(env, "finalize")
        assert done.returncode == 0 and done.stdout.startswith("finalize: done; state is now ")
        assert wait_for(lambda: status(env)["utterances"] == 1)
        assert control(env, "pause").stdout == "pause: done; state is now paused\n"
        assert status(env)["state"] == "paused"
        assert control(env, "toggle").returncode == 0
        assert status(env)["state"] != "paused"
        assert control(env, "toggle").stdout == "toggle: done; state is now paused\n"
        assert control(env, "resume").returncode == 0
        assert wait_for(lambda: status(env).get("state") == "speech"), control(env, "status")
        assert control(env, "stop").returncode == 0
        code, lines, err = finish(proc)
    except BaseException:
        proc.kill()
        print("app output:", *proc.communicate(timeout=10), sep="\n")  # shown on failure
        raise
    finally:
        proc.kill()
        proc.wait()
    assert code == 0, err
    assert lines[0]["trigger"] == "hotkey" and lines[1]["trigger"] == "hotkey"  # finalize, pause
    assert lines[-1]["trigger"] == "end"  # stop finalized the rest
    assert spoken(lines[:1]) == LONG[: len(spoken(lines[:1]))]
    assert not sock.exists()  # removed at exit


def test_sigusr1_forces_a_finalize(server_url: str, tmp_path: Path) -> None:
    env = app_env(tmp_path)
    wav = long_wav(tmp_path)
    proc = start_cli(file_args(wav, server_url, "2"), env)
    try:
        assert wait_for(lambda: status(env).get("captured_s", 0) > 2.0)
        proc.send_signal(signal.SIGUSR1)
        code, lines, err = finish(proc)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0, err
    assert [u["trigger"] for u in lines] == ["hotkey", "vad"]
    assert spoken(lines) == LONG  # split in two, nothing lost


def test_a_second_instance_leaves_the_socket_to_the_first(server_url: str, tmp_path: Path) -> None:
    env = app_env(tmp_path)
    wav = long_wav(tmp_path)
    first = start_cli(["--input", str(wav), "--url", server_url], env)
    try:
        assert wait_for(lambda: bool(status(env)))
        second = control(env, "--input", str(wav), "--url", server_url, "--speed", "0")
        assert second.returncode == 0
        assert second.stderr == ""  # not a terminal: no word about the socket
        assert status(env)["state"] in ("speech", "listening", "finalizing")  # still the first
        with tmux_pane(tmp_path, env) as pane:  # a person at a terminal is told
            argv = app_cmd("--input", str(wav), "--url", server_url, "--speed", "0")
            pane.start(in_shell(argv, 'echo "EXIT=$?"'))
            assert wait_for(lambda: "EXIT=0" in pane.screen(), timeout=30), pane.screen()
            assert "control: another vad-dictate is already listening on" in pane.screen()
        control(env, "stop")
        assert first.wait(timeout=30) == 0
    finally:
        first.kill()
        first.wait()
