"""The optional global hotkey (pynput): clear refusals, and real key presses under Xvfb."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.apprun import (
    LONG,
    app_env,
    control,
    file_args,
    finish,
    long_wav,
    spoken,
    start_cli,
    status,
    wait_for,
    xvfb,
)
from vad_dictate.ui.hotkey import start_global_hotkey

HAVE_PYNPUT = importlib.util.find_spec("pynput") is not None
needs_x = pytest.mark.skipif(
    not (HAVE_PYNPUT and shutil.which("Xvfb") and shutil.which("xdotool")),
    reason="needs the hotkey extra (pynput) and Debian's xvfb and xdotool",
)


def never() -> None:
    raise AssertionError("no callback expected")


def test_wayland_is_refused_with_the_way_that_works() -> None:
    env = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    got = start_global_hotkey("<ctrl>+<alt>+d", "", never, lambda held: never(), env)
    assert got == (
        "global hotkey: not available: pynput cannot see keys pressed in Wayland windows; bind "
        "'vad-dictate finalize' (or 'vad-dictate toggle') to a shortcut in your desktop's "
        "keyboard settings instead."
    )


def test_no_display_is_one_message_and_the_rest_works(server_url: str, tmp_path: Path) -> None:
    wav = long_wav(tmp_path)
    env = app_env(tmp_path)  # no DISPLAY
    proc = start_cli(file_args(wav, server_url, "2", "--hotkey", "<ctrl>+<alt>+f"), env)
    assert wait_for(lambda: status(env).get("captured_s", 0) > 2.0)
    assert control(env, "finalize").returncode == 0
    code, lines, err = finish(proc)
    assert code == 0, err
    problems = [ln for ln in err.splitlines() if ln.startswith("global hotkey: not available")]
    assert len(problems) == 1 and problems[0].endswith(
        "terminal keys, the control socket and SIGUSR1 still work."
    )
    assert [u["trigger"] for u in lines] == ["hotkey", "vad"] and spoken(lines) == LONG


@needs_x
def test_global_hotkey_finalizes_under_x(server_url: str, tmp_path: Path) -> None:
    wav = long_wav(tmp_path)
    with xvfb() as display:
        env = app_env(tmp_path, DISPLAY=display)
        proc = start_cli(file_args(wav, server_url, "2", "--hotkey", "<ctrl>+<alt>+f"), env)
        assert wait_for(lambda: status(env).get("captured_s", 0) > 2.0)
        subprocess.run(["xdotool", "key", "ctrl+alt+f"], env=env, check=True, timeout=10)
        code, lines, err = finish(proc)
    assert code == 0, err
    assert "global hotkey: <ctrl>+<alt>+f finalizes the utterance" in err
    assert [u["trigger"] for u in lines] == ["hotkey", "vad"] and spoken(lines) == LONG


@needs_x
def test_push_to_talk_hears_only_while_held(server_url: str, tmp_path: Path) -> None:
    wav = long_wav(tmp_path)
    with xvfb() as display:
        env = app_env(tmp_path, DISPLAY=display)
        # Real time: at 2x a loaded machine's slow status calls could outlast the file.
        proc = start_cli(file_args(wav, server_url, "1", "--push-to-talk", "<f9>"), env)
        assert wait_for(lambda: status(env).get("captured_s", 0) > 1.5)
        assert status(env).get("state") == "paused"
        subprocess.run(["xdotool", "keydown", "F9"], env=env, check=True, timeout=10)
        assert wait_for(lambda: status(env).get("state") == "speech")
        assert wait_for(lambda: status(env).get("captured_s", 0) > 4.5)
        subprocess.run(["xdotool", "keyup", "F9"], env=env, check=True, timeout=10)
        assert wait_for(lambda: status(env).get("state") == "paused")
        code, lines, err = finish(proc)
    assert code == 0, err
    assert "push-to-talk: hold <f9> while you speak" in err
    assert [u["trigger"] for u in lines] == ["hotkey"]  # one utterance: key down to key up
    said = spoken(lines)
    start = LONG.index(said[0])
    assert 2 <= len(said) < len(LONG) and said == LONG[start : start + len(said)]
