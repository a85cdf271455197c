"""The history file: private, one JSON line per record, rotated past its cap, undo marks
resolved when read; a typing failure leaves the text in it and says so once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.apprun import app_cmd, app_env, two_wav
from vad_dictate.ui.history import History, format_record, read_records


def test_records_rotation_and_marks(tmp_path: Path) -> None:
    path = tmp_path / "state" / "vad-dictate" / "history.jsonl"
    warnings: list[str] = []
    h = History(path, max_bytes=400, warn=warnings.append)
    for seq in range(1, 6):
        h.record({"session": "s", "type": "utterance", "seq": seq, "text": f"Line {seq}."})
    h.record({"session": "s", "type": "command", "name": "undo", "retracts": 5})
    h.close()
    assert warnings == []
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    old = path.with_name("history.jsonl.1")
    assert old.exists() and path.stat().st_size <= 400 and old.stat().st_size <= 400
    records = read_records(path)
    assert [r.get("seq") for r in records] == [1, 2, 3, 4, 5, None]  # one rotation: all kept
    last = next(r for r in records if r.get("seq") == 5)
    assert last["retracted"] is True and records[0]["time"].endswith("+00:00")
    assert format_record(last) == f"{last['time'][:19].replace('T', ' ')}  [retracted] Line 5."
    assert format_record(records[-1]) is None  # the undo itself is shown as the mark


def test_a_line_cut_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text('{"session":"s","seq":1,"text":"kept"}\n{"session":"s","seq":2,"te')
    assert [r["text"] for r in read_records(path)] == ["kept"]


def test_typing_failure_keeps_the_text_in_history_and_says_so_once(
    server_url: str, tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = app_env(tmp_path, PATH=str(empty))
    args = ("--input", str(two_wav(tmp_path)), "--url", server_url, "--speed", "0", "--quiet")
    done = subprocess.run(
        app_cmd(*args, "--output", "text,type"), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("kept in 'vad-dictate history'") == 1
    lines = (tmp_path / "state" / "vad-dictate" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["Alpha bravo.", "Charlie delta echo."]
