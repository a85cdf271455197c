"""Output sinks: stdout plus --append, typing into a window, pasting through the clipboard."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.apprun import app_env, run_cli, text_box, two_wav, wait_for, xvfb
from vad_dictate.client.assembler import Committed, UtteranceInfo
from vad_dictate.ui.composer import Edit
from vad_dictate.ui.sinks import AppendTarget, UtteranceSink
from vad_dictate.ui.typist import Command, paste_command, session_tools, type_command

X_TOOLS = all(shutil.which(t) for t in ("Xvfb", "xdotool", "xclip"))
needs_x = pytest.mark.skipif(not X_TOOLS, reason="needs Debian's xvfb, xdotool and xclip")


def run_app(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(args, env, timeout=60)


class Collect:
    name = "collect"

    def __init__(self) -> None:
        self.got: list[Edit] = []
        self.closed = False

    def apply(self, edit: Edit) -> None:
        self.got.append(edit)

    def close(self) -> None:
        self.closed = True


def test_sink_writes_stdout_then_every_target(tmp_path: Path) -> None:
    out, order, extra = io.StringIO(), [], Collect()
    append = AppendTarget(tmp_path / "notes.txt")
    sink = UtteranceSink(
        "text", 1, out, targets=[append, extra], before_write=lambda: order.append(out.tell())
    )
    for text in ("Alpha bravo.", "Charlie."):
        sink.write(Committed(UtteranceInfo(0, 0.5, 1.0, "vad"), text, "ack"), 10.0)
    sink.close()
    assert out.getvalue() == "Alpha bravo.\nCharlie.\n"
    assert order == [0, 13]  # the live view is cleared before each line
    assert extra.got == [Edit(insert="Alpha bravo."), Edit(insert=" Charlie.")] and extra.closed
    assert (tmp_path / "notes.txt").read_text() == "Alpha bravo. Charlie.\n"


def test_append_file_grows_across_sessions(server_url: str, tmp_path: Path) -> None:
    wav, notes = two_wav(tmp_path), tmp_path / "notes.txt"
    for _ in range(2):
        args = ("--input", str(wav), "--url", server_url, "--speed", "0", "--append", str(notes))
        done = run_app(app_env(tmp_path), *args)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "Alpha bravo.\nCharlie delta echo.\n"
    assert notes.read_text() == "Alpha bravo. Charlie delta echo.\n" * 2
    bad = run_app(app_env(tmp_path), "--input", str(wav), "--append", str(tmp_path / "no/x"))
    assert bad.returncode == 2
    assert "Cannot open" in bad.stderr and "check the --append path" in bad.stderr


def test_tool_choice_follows_the_session() -> None:
    every = {t: f"/usr/bin/{t}" for t in ("wtype", "ydotool", "dotool", "xdotool", "xclip")}
    names = ("wtype", "ydotool", "dotool", "xdotool")
    assert session_tools(names, {"WAYLAND_DISPLAY": "wayland-0"}, every.get) == [
        "wtype",
        "ydotool",
        "dotool",
    ]
    assert session_tools(names, {"DISPLAY": ":0"}, every.get) == ["ydotool", "dotool", "xdotool"]
    assert session_tools(names, {}, {"xdotool": "/x"}.get) == []
    assert session_tools(("wl-copy", "xclip", "xsel"), {"DISPLAY": ":0"}, every.get) == ["xclip"]


def test_tool_commands() -> None:
    assert type_command("xdotool", "hi there", 5) == Command(
        ("xdotool", "type", "--clearmodifiers", "--delay", "5", "hi there")
    )
    assert type_command("wtype", "-x", 5).argv == ("wtype", "-d", "5", "--", "-x")
    assert type_command("dotool", "hi", 5) == Command(("dotool",), "typedelay 5\ntype hi\n")
    assert paste_command("xdotool").argv == ("xdotool", "key", "--clearmodifiers", "ctrl+v")
    assert paste_command("ydotool").argv == ("ydotool", "key", "29:1", "47:1", "47:0", "29:0")


def test_no_tool_says_so_once_and_stdout_keeps_everything(server_url: str, tmp_path: Path) -> None:
    wav = two_wav(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    env = app_env(tmp_path, PATH=str(empty))  # not one typing or clipboard tool
    args = ("--input", str(wav), "--url", server_url, "--speed", "0", "--quiet")
    done = run_app(env, *args, "--output", "text,type", "--output", "clipboard")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Alpha bravo.\nCharlie delta echo.\n"
    assert sorted(done.stderr.splitlines()) == [  # two threads: either may speak first
        "clipboard: no clipboard tool worked (none is installed for this session); install "
        "wl-clipboard (Wayland) or xclip (X11); utterances are still printed on stdout and kept in "
        "'vad-dictate history'.",
        "type: no typing tool worked (none is installed for this session); install wtype "
        "(Wayland), xdotool (X11) or ydotool; utterances are still printed on stdout and kept in "
        "'vad-dictate history'.",
    ]


@needs_x
def test_a_failing_tool_is_reported_once(server_url: str, tmp_path: Path) -> None:
    wav = two_wav(tmp_path)
    env = app_env(tmp_path, DISPLAY=":77")  # no X server there: xdotool fails
    args = ("--input", str(wav), "--url", server_url, "--speed", "0", "--quiet")
    done = run_app(env, *args, "--output", "type", "--output", "jsonl")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2
    assert done.stderr.count("type: no typing tool worked (tried xdotool") == 1


def test_bad_output_names_are_usage_errors(tmp_path: Path) -> None:
    done = run_app(app_env(tmp_path), "--output", "text,speak")
    assert done.returncode == 2
    assert "invalid --output 'text,speak' (choose from text, jsonl, type, clipboard)" in done.stderr
    done = run_app(app_env(tmp_path), "--output", "text,jsonl", "--input", "x.wav")
    assert done.returncode == 2 and "one of text or jsonl" in done.stderr


@needs_x
def test_typing_into_an_x_window(server_url: str, tmp_path: Path) -> None:
    wav = two_wav(tmp_path)
    with xvfb() as display, text_box(display, tmp_path / "box.txt") as box:
        env = app_env(tmp_path, DISPLAY=display, VAD_DICTATE_OUTPUT_TYPE_DELAY_MS="0")
        done = run_app(
            env, "--input", str(wav), "--url", server_url, "--speed", "0", "--output", "type"
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "Alpha bravo.\nCharlie delta echo.\n"
        want = "Alpha bravo. Charlie delta echo."  # a space separates utterances
        assert wait_for(lambda: box.read_text() == want, timeout=10), box.read_text()


@needs_x
def test_clipboard_pastes_and_puts_the_old_clipboard_back(server_url: str, tmp_path: Path) -> None:
    wav = two_wav(tmp_path)
    with xvfb() as display, text_box(display, tmp_path / "box.txt") as box:
        xenv = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
        clip = ("xclip", "-selection", "clipboard")
        subprocess.run(
            [*clip, "-i"],
            input=b"my precious text",
            env=xenv,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        env = app_env(tmp_path, DISPLAY=display, VAD_DICTATE_OUTPUT_TYPE_DELAY_MS="0")
        done = run_app(
            env, "--input", str(wav), "--url", server_url, "--speed", "0", "--output", "clipboard"
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "Alpha bravo.\nCharlie delta echo.\n"
        assert wait_for(lambda: box.read_text() == "Alpha bravo. Charlie delta echo.", timeout=10)
        after = subprocess.run([*clip, "-o"], env=xenv, capture_output=True, check=True)
        assert after.stdout == b"my precious text"
