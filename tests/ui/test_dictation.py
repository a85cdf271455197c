"""A whole dictation session through the composer, into a real X11 text box, the clipboard,
an --append file and the history, against the local server's tone engine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.apprun import (
    ANSI,
    app_cmd,
    app_env,
    in_shell,
    run_cli,
    text_box,
    tmux_pane,
    wait_for,
    xvfb,
)
from tests.wavs import utterances, write_wav
from vad_dictate.ui import typist
from vad_dictate.ui.composer import Edit

needs_x = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("Xvfb", "xdotool", "xclip")),
    reason="needs Debian's xvfb, xdotool and xclip",
)

SESSION = [
    ["alpha", "bravo"],  # Alpha bravo.
    ["charlie"],  # Charlie.
    ["delta", "echo"],  # Delta echo.
    ["scratch", "that"],  # takes back "Delta echo."
    ["scratch", "that"],  # and then "Charlie."
    ["new", "line"],
    ["foxtrot", "golf"],  # replaced: FG-1.
    ["new", "paragraph"],
    ["hotel", "india"],
    ["sign", "off"],  # a user command
]
DOCUMENT = "Alpha bravo.\nFG-1.\n\nHotel india. Best regards,\nAlice"
PRINTED = ["Alpha bravo.", "Charlie.", "Delta echo.", "FG-1.", "Hotel india."]
CONFIG = """
[commands]
"sign off" = { insert = "Best regards,\\nAlice" }
[replacements]
"Foxtrot  golf" = "FG-1"
"""


def session_env(tmp: Path, **extra: str) -> tuple[dict[str, str], Path]:
    (tmp / "vad-dictate").mkdir(exist_ok=True)
    (tmp / "vad-dictate" / "config.toml").write_text(CONFIG)
    wav = write_wav(tmp / "session.wav", utterances(SESSION, pause=1.0, lead=0.3, tail=1.2))
    return app_env(tmp, VAD_DICTATE_OUTPUT_TYPE_DELAY_MS="0", **extra), wav


def run_app(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(args, env, timeout=90)


def history(env: dict[str, str], *args: str) -> list[str]:
    done = run_app(env, "history", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@needs_x
def test_a_session_typed_into_a_text_box_and_appended(server_url: str, tmp_path: Path) -> None:
    env, wav = session_env(tmp_path)
    notes = tmp_path / "notes.txt"
    with xvfb() as display, text_box(display, tmp_path / "box.txt") as box:
        env["DISPLAY"] = display
        args = ("--input", str(wav), "--url", server_url, "--speed", "0", "--quiet")
        done = run_app(env, *args, "--output", "type", "--append", str(notes))
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == PRINTED  # one line per dictated utterance
        assert wait_for(lambda: box.read_text() == DOCUMENT, timeout=15), box.read_text()
    assert notes.read_text() == DOCUMENT + "\n"
    shown = [line[21:] for line in history(env, "-n", "50")]
    assert shown == [
        "Alpha bravo.",
        "[retracted] Charlie.",
        "[retracted] Delta echo.",
        "<new_line>",
        "FG-1.",
        "<new_paragraph>",
        "Hotel india.",
        "<sign off>",
    ]
    assert [line[21:] for line in history(env, "-n", "2")] == ["Hotel india.", "<sign off>"]
    records = [json.loads(line) for line in history(env, "--json", "-n", "50")]
    undo = [r for r in records if r.get("name") == "undo"]
    assert [r["retracts"] for r in undo] == [3, 2]
    assert all(r["targets"] == ["stdout", "append", "type"] for r in records)
    state = tmp_path / "state" / "vad-dictate" / "history.jsonl"
    assert state.stat().st_mode & 0o777 == 0o600


@needs_x
def test_the_same_session_through_the_clipboard(server_url: str, tmp_path: Path) -> None:
    env, wav = session_env(tmp_path)
    with xvfb() as display, text_box(display, tmp_path / "box.txt") as box:
        env["DISPLAY"] = display
        clip = ("xclip", "-selection", "clipboard")
        xenv = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
        subprocess.run(
            [*clip, "-i"], input=b"mine", env=xenv, check=True, stdout=subprocess.DEVNULL
        )
        args = ("--input", str(wav), "--url", server_url, "--speed", "0", "--quiet")
        done = run_app(env, *args, "--output", "jsonl,clipboard")
        assert done.returncode == 0, done.stderr
        assert wait_for(lambda: box.read_text() == DOCUMENT, timeout=20), box.read_text()
        after = subprocess.run([*clip, "-o"], env=xenv, capture_output=True, check=True)
        assert after.stdout == b"mine"  # the user's clipboard is back
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [
        (e["type"], e.get("name"), e["seq"], e["text"], e.get("retracted")) for e in events
    ] == [
        ("utterance", None, 1, "Alpha bravo.", None),
        ("utterance", None, 2, "Charlie.", None),
        ("utterance", None, 3, "Delta echo.", None),
        ("command", "undo", 0, "", 3),
        ("command", "undo", 0, "", 2),
        ("command", "new_line", 4, "\n", None),
        ("utterance", None, 5, "FG-1.", None),
        ("command", "new_paragraph", 6, "\n\n", None),
        ("utterance", None, 7, "Hotel india.", None),
        ("command", "sign off", 8, "Best regards,\nAlice", None),
    ]


def test_undo_from_the_control_socket(server_url: str, tmp_path: Path) -> None:
    env = app_env(tmp_path)
    notes = tmp_path / "notes.txt"
    groups = [["alpha"], ["bravo"], ["charlie"]]
    wav = write_wav(tmp_path / "three.wav", utterances(groups, pause=4.0, lead=0.3, tail=1.0))
    args = ("--input", str(wav), "--url", server_url, "--output", "jsonl", "--append", str(notes))
    proc = subprocess.Popen(
        app_cmd(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    lines: list[dict[str, Any]] = [json.loads(proc.stdout.readline()) for _ in range(2)]
    reply = run_app(env, "undo")
    assert reply.returncode == 0, reply.stderr
    assert reply.stdout == "undo: took back utterance 2\n"
    out, err = proc.communicate(timeout=60)
    lines += [json.loads(line) for line in out.splitlines()]
    assert proc.returncode == 0, err
    assert [(e["type"], e.get("text"), e.get("retracted")) for e in lines] == [
        ("utterance", "Alpha.", None),
        ("utterance", "Bravo.", None),
        ("command", None, 2),
        ("utterance", "Charlie.", None),
    ]
    assert notes.read_text() == "Alpha. Charlie.\n"


def test_history_survives_kill_9(server_url: str, tmp_path: Path) -> None:
    env = app_env(tmp_path)
    groups = [["alpha", "bravo"], ["charlie"], ["delta"], ["echo"], ["golf"], ["hotel"]]
    wav = write_wav(tmp_path / "six.wav", utterances(groups, pause=1.0, lead=0.3, tail=1.0))
    proc = subprocess.Popen(
        app_cmd("--input", str(wav), "--url", server_url),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    printed = [proc.stdout.readline().strip() for _ in range(3)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    kept = [line[21:] for line in history(env, "-n", "50")]
    assert printed == ["Alpha bravo.", "Charlie.", "Delta."]
    assert kept[:3] == printed and len(kept) < len(groups)


def test_history_off_and_unwritable(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "one.wav", utterances([["alpha"]], lead=0.3, tail=1.0))
    args = ("--input", str(wav), "--url", server_url, "--speed", "0")
    env = app_env(tmp_path, VAD_DICTATE_HISTORY_ENABLED="false")
    done = run_app(env, *args)
    assert done.returncode == 0 and done.stdout == "Alpha.\n"
    assert not (tmp_path / "state").exists()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the state directory should be")
    env = app_env(tmp_path, XDG_STATE_HOME=str(blocked))
    done = run_app(env, *args)
    assert done.returncode == 0 and done.stdout == "Alpha.\n"  # the session goes on
    warning = [line for line in done.stderr.splitlines() if line.startswith("history:")]
    assert warning == [
        f"history: cannot write '{blocked}/vad-dictate/history.jsonl' (Not a directory); "
        "utterances are still printed but not kept in the history; fix its permissions or set "
        "history.enabled = false."
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[commands]\n'go home' = 'teleport'\n", "command 'go home' has the unknown action"),
        ("[replacements]\n'' = 'x'\n", "has an entry with an empty phrase"),
    ],
)
def test_bad_tables_are_one_sentence_and_exit_2(tmp_path: Path, config: str, message: str) -> None:
    (tmp_path / "vad-dictate").mkdir()
    (tmp_path / "vad-dictate" / "config.toml").write_text(config)
    done = run_app(app_env(tmp_path), "--input", "x.wav")
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr


@needs_x
def test_text_the_user_copied_meanwhile_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(typist, "PASTE_SETTLE_S", 1.5)  # room to copy before the restore
    with xvfb() as display, text_box(display, tmp_path / "box.txt") as box:
        xenv = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
        clip = ("xclip", "-selection", "clipboard")
        subprocess.run([*clip, "-i"], input=b"old", env=xenv, check=True, stdout=subprocess.DEVNULL)
        monkeypatch.setenv("DISPLAY", display)
        paster = typist.Typist("clipboard", 0, print, environ=xenv)
        paster.apply(Edit(insert="Pasted."))
        assert wait_for(lambda: box.read_text() == "Pasted.", timeout=10)
        subprocess.run(
            [*clip, "-i"], input=b"theirs", env=xenv, check=True, stdout=subprocess.DEVNULL
        )
        paster.close()
        after = subprocess.run([*clip, "-o"], env=xenv, capture_output=True, check=True)
        assert after.stdout == b"theirs"


def test_undo_key_in_the_terminal(server_url: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    groups = [["alpha"], ["bravo"], ["charlie"]]
    wav = write_wav(tmp_path / "three.wav", utterances(groups, pause=4.0, lead=0.3, tail=1.0))
    argv = app_cmd("--input", str(wav), "--url", server_url, "--append", str(notes))
    with tmux_pane(tmp_path, app_env(tmp_path)) as pane:
        pane.start(in_shell(argv, 'echo "EXIT=$?"'))

        def printed() -> list[str]:
            return [line.strip() for line in ANSI.sub("", pane.screen()).splitlines()]

        assert wait_for(lambda: "Bravo." in printed()), pane.screen()  # a line, not interim text
        pane.keys("u")
        assert wait_for(lambda: "EXIT=0" in pane.screen(), timeout=30), pane.screen()
    assert notes.read_text() == "Alpha. Charlie.\n"
