"""Terminal keys: the key map, and the app driven by real key presses in a tmux terminal."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.apprun import ANSI, LONG, app_cmd, app_env, in_shell, long_wav, tmux_pane, wait_for
from vad_dictate.errors import ConfigError
from vad_dictate.ui.keys import KeyMap, key_chars

DEFAULT = KeyMap.build(
    {
        "finalize": ["space", "enter"],
        "pause": ["p"],
        "less_sensitive": ["["],
        "more_sensitive": ["]"],
        "quit": ["q"],
    }
)


def test_key_map_decodes_names_and_characters() -> None:
    assert DEFAULT.decode(" \r\npx[]q?") == [
        "finalize",
        "finalize",
        "finalize",
        "pause",
        "less_sensitive",
        "more_sensitive",
        "quit",
    ]
    assert key_chars("Space") == (" ",) and key_chars("F") == ("F",)
    custom = KeyMap.build({"finalize": ["f"], "quit": ["escape"]})
    assert custom.decode("f \x1bq") == ["finalize", "quit"]


def test_key_map_rejects_bad_and_doubly_bound_keys() -> None:
    with pytest.raises(ConfigError, match="'ctrl' is not a key; use one character or one of"):
        KeyMap.build({"finalize": ["ctrl"]})
    with pytest.raises(ConfigError, match="The key 'p' is bound to both pause and quit"):
        KeyMap.build({"pause": ["p"], "quit": ["p"]})


def utterances(screen: str) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in screen.splitlines() if ln.startswith('{"type": "utterance"')]


def status(screen: str) -> str:
    """The status line on the screen, "" if none."""
    lines = [ln for ln in ANSI.sub("", screen).splitlines() if " │ mic " in ln]
    return lines[-1] if lines else ""


def sane(stty: Path) -> bool:
    """``stty -a`` output of a terminal back in canonical mode with echo."""
    words = stty.read_text().split()
    return "icanon" in words and "echo" in words


def test_keys_finalize_pause_sensitivity_and_quit(server_url: str, tmp_path: Path) -> None:
    wav = long_wav(tmp_path)
    stty = tmp_path / "stty.txt"
    argv = app_cmd("--input", str(wav), "--url", server_url, "--output", "jsonl", "--speed", "1")
    with tmux_pane(tmp_path, app_env(tmp_path)) as pane:
        pane.start(in_shell(argv, f'echo "EXIT=$?"; stty -a > {stty}'))
        assert wait_for(lambda: "speech      " in pane.screen()), pane.screen()
        assert wait_for(lambda: "Alpha bravo" in pane.screen())  # interim words arrived
        pane.keys("Space")
        assert wait_for(lambda: len(utterances(pane.screen())) == 1), pane.screen()
        first = utterances(pane.screen())[0]
        assert first["trigger"] == "hotkey" and first["text"].startswith("Alpha bravo")
        # Where the key split the speech depends on when it arrived; the words after it
        # start the next utterance.
        cut = len(first["text"].split())
        assert cut <= len(LONG) - 4, first
        following = f"{LONG[cut].capitalize()} {LONG[cut + 1]}"
        pane.keys("]")
        assert wait_for(lambda: "VAD aggressiveness 1 (0 hears the most" in pane.screen())
        pane.keys("[", "[")
        assert wait_for(lambda: "VAD aggressiveness 3" in pane.screen()), pane.screen()
        assert wait_for(lambda: following in pane.screen())  # the next utterance runs
        pane.keys("p")
        assert wait_for(lambda: "paused      " in ANSI.sub("", pane.screen())), pane.screen()
        assert wait_for(lambda: len(utterances(pane.screen())) == 2)  # pausing finalizes
        pane.keys("p")
        # Speaking again: wait for interim words (state │ mic │ last │ words) before quitting.
        assert wait_for(lambda: status(pane.screen()).count(" │ ") == 3), pane.screen()
        pane.keys("q")
        assert wait_for(lambda: "EXIT=0" in pane.screen(), timeout=30), pane.screen()
        screen = pane.screen()
    assert "stopping: finalizing what was said" in screen
    got = utterances(screen)
    assert [u["trigger"] for u in got] == ["hotkey", "hotkey", "end"], screen
    said = [u["text"].lower().rstrip(".").replace(",", "").split() for u in got]
    assert said[1][0] == LONG[cut]  # nothing lost between the first two utterances
    rest = iter(LONG[cut:])
    assert all(word in rest for word in said[1] + said[2])  # in order (pausing skips some)
    assert len(said[0] + said[1] + said[2]) < len(LONG)  # q ended it before the file did
    assert wait_for(lambda: stty.exists() and sane(stty), timeout=5)


def test_terminal_is_restored_after_an_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port where nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stty = tmp_path / "stty.txt"
    wav = long_wav(tmp_path)
    argv = app_cmd("--input", str(wav), "--url", f"ws://127.0.0.1:{port}/v1/listen")
    with tmux_pane(tmp_path, app_env(tmp_path)) as pane:
        pane.start(in_shell(argv, f'echo "EXIT=$?"; stty -a > {stty}'))
        assert wait_for(lambda: "EXIT=5" in pane.screen(), timeout=30), pane.screen()
        assert "Cannot reach the server" in pane.screen()
        assert wait_for(lambda: stty.exists() and sane(stty), timeout=5)


def test_terminal_is_restored_when_a_second_ctrl_c_exits_at_once(
    server_url: str, tmp_path: Path
) -> None:
    stty = tmp_path / "stty.txt"
    wav = long_wav(tmp_path)
    argv = app_cmd("--input", str(wav), "--url", server_url, "--speed", "1")
    with tmux_pane(tmp_path, app_env(tmp_path)) as pane:
        pane.start(in_shell(argv, f'echo "EXIT=$?"; stty -a > {stty}'))
        assert wait_for(lambda: "speech      " in pane.screen()), pane.screen()
        pane.keys("C-c")
        assert wait_for(lambda: "Ctrl-C again to quit now" in pane.screen())
        pane.keys("C-c")
        assert wait_for(lambda: "EXIT=130" in pane.screen(), timeout=10), pane.screen()
        assert wait_for(lambda: stty.exists() and sane(stty), timeout=5)
