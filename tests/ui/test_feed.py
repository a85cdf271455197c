"""The status feed for bars: exact records and formats, and ``status --follow`` on a session."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.apprun import app_cmd, app_env, wait_for
from tests.faultproxy import Fault, FaultProxy
from tests.wavs import utterances, write_wav
from vad_dictate.ui.feed import STOPPED, FeedRecord, parse_record, render, waybar

LISTENING = FeedRecord("listening", "deepgram", "", 42)


@pytest.mark.parametrize(
    ("record", "fmt", "line"),
    [
        (LISTENING, "json", '{"state": "listening", "engine": "deepgram", "pid": 42}'),
        (LISTENING, "text", "listening"),
        (FeedRecord("speech", "offline", "", 7), "text", "speech (offline)"),
        (STOPPED, "text", "stopped"),
        (
            FeedRecord("error", "deepgram", "The server rejected the key.", 9),
            "json",
            '{"state": "error", "engine": "deepgram", "pid": 9, '
            '"detail": "The server rejected the key."}',
        ),
    ],
)
def test_render(record: FeedRecord, fmt: Any, line: str) -> None:
    assert render(record, fmt) == line


def test_waybar_module_json() -> None:
    assert waybar(FeedRecord("paused", "offline", "", 5)) == {
        "text": "paused (offline)",
        "tooltip": "vad-dictate: paused: nothing is heard or sent\n"
        "transcribed by the offline engine\npid 5\nvad-dictate toggle resumes",
        "class": ["paused", "offline"],
        "alt": "paused",
    }
    error = waybar(FeedRecord("error", "deepgram", "Cannot reach the server.", 3))
    assert error["class"] == ["error"] and error["alt"] == "error"
    assert error["tooltip"] == (
        "vad-dictate: stopped on an error\nCannot reach the server.\ntranscribed by Deepgram\n"
        "pid 3\nstart it again with: vad-dictate"
    )


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1, 2]",
        b'{"state": "dancing", "engine": "deepgram", "pid": 1}',
        b'{"state": "speech", "engine": "whisper", "pid": 1}',
        b'{"state": "speech", "engine": "deepgram", "pid": true}',
        b'{"state": "speech", "engine": "deepgram", "pid": 1, "detail": 5}',
        b'{"ok": false, "error": "unknown command"}',
    ],
)
def test_parse_record_refuses_what_is_not_a_record(line: bytes) -> None:
    assert parse_record(line) is None


def test_parse_record_round_trips() -> None:
    for record in (LISTENING, STOPPED, FeedRecord("error", "offline", "why", 3)):
        assert parse_record(render(record, "json")) == record


def test_status_once_without_a_session_says_stopped(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    for fmt, line in (("waybar", json.dumps(waybar(STOPPED))), ("text", "stopped")):
        done = subprocess.run(
            app_cmd("status", "--format", fmt), env=env, capture_output=True, text=True, timeout=30
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, line + "\n", "")
    bad = subprocess.run(
        app_cmd("status", "--format", "xml"), env=env, capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 2 and "invalid choice: 'xml'" in bad.stderr


class Follower:
    """``vad-dictate status --follow`` in the background, its lines collected as they come."""

    def __init__(self, env: dict[str, str], fmt: str) -> None:
        self.proc = subprocess.Popen(
            app_cmd("status", "--follow", "--format", fmt),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def alts(self) -> list[str]:
        return [str(line["alt"]) for line in self.lines]

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        return err


def client(env: dict[str, str], command: str) -> None:
    done = subprocess.run(app_cmd(command), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_waybar_feed_across_pause_resume_finalize_and_reconnect(
    server_url: str, tmp_path: Path
) -> None:
    env = app_env(tmp_path)
    groups = [["alpha", "bravo"], ["charlie", "delta"], ["echo", "foxtrot"], ["golf", "hotel"]]
    wav = write_wav(tmp_path / "four.wav", utterances(groups, pause=1.5, tail=1.5))
    follower = Follower(env, "waybar")
    # The connection breaks right after the first Finalize reaches the server.
    with FaultProxy(server_url, [Fault(1, "close1011", after_finalize=True)]) as proxy:
        app = subprocess.Popen(
            app_cmd("--input", str(wav), "--url", proxy.url, "--output", "jsonl"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_for(lambda: "reconnecting" in follower.alts(), timeout=30)
            at = len(follower.lines)
            assert wait_for(lambda: "speech" in follower.alts()[at:], timeout=30)
            client(env, "pause")
            assert wait_for(lambda: follower.alts()[-1:] == ["paused"])
            client(env, "resume")
            out, err = app.communicate(timeout=60)
        finally:
            app.kill()
            app.wait()
        assert proxy.connections == 2
    assert app.returncode == 0, err
    assert wait_for(lambda: follower.alts()[-1:] == ["stopped"], timeout=30), follower.alts()
    assert follower.stop() == ""
    alts = follower.alts()
    assert alts[0] == "stopped"  # before the session started
    states = alts[1:]
    for state in ("listening", "speech", "finalizing", "reconnecting", "paused"):
        assert state in states, alts
    assert states.index("speech") < states.index("reconnecting")
    paused = states.index("paused")
    assert states.index("reconnecting") < paused
    assert set(states[paused + 1 : -1]) <= {"listening", "speech", "finalizing"}  # resumed
    assert states[-1] == "stopped"
    assert all(a != b for a, b in itertools.pairwise(alts))  # one line per change
    for line in follower.lines:
        assert set(line) == {"text", "tooltip", "class", "alt"}
        assert line["class"] == [line["alt"]]  # the tone server is not the offline engine
    pid = app.pid
    assert all(f"pid {pid}" in line["tooltip"] for line in follower.lines[1:])
    assert json.loads(out.splitlines()[0])["text"] == "Alpha bravo."  # replayed, once
