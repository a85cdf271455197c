"""History: every committed utterance and command, appended as one JSON line each.

The file lives in the user's state directory (``$XDG_STATE_HOME/vad-dictate``), is
created 0600, and each record is written with one ``write`` on an ``O_APPEND`` file
descriptor before the utterance is printed or typed, so whatever was printed is in the
history even if the process is killed right after. An undo appends a record naming the
entry it retracted; readers mark that entry retracted. Past ``max_bytes`` the file is
rotated to ``history.jsonl.1`` (one old file is kept).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vad_dictate import paths
from vad_dictate.errors import ConfigError

FILE_NAME = "history.jsonl"


def default_path(environ: Mapping[str, str] = os.environ) -> Path:
    """history.jsonl in the per-user state directory (``$XDG_STATE_HOME/vad-dictate``)."""
    return paths.state_dir(environ) / FILE_NAME


class History:
    """Appends history records; a file that cannot be written is reported once, not fatal."""

    def __init__(self, path: Path, max_bytes: int, warn: Callable[[str], None]) -> None:
        self.path, self.max_bytes, self._warn = path, max_bytes, warn
        self._fd: int | None = None
        self._size = 0
        self._failed = False
        self._open()

    @property
    def working(self) -> bool:
        """True while records are being kept."""
        return self._fd is not None

    def record(self, record: dict[str, Any]) -> None:
        """Append one record (with the current UTC time) as a line, in one write."""
        if self._fd is None:
            return
        stamped = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
        line = (json.dumps(stamped, ensure_ascii=False) + "\n").encode()
        try:
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            if self._fd is not None:
                os.write(self._fd, line)
                self._size += len(line)
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._size = os.fstat(self._fd).st_size
        except OSError as exc:
            self._fail(exc)

    def _rotate(self) -> None:
        self.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._open()

    def _fail(self, exc: OSError) -> None:
        self.close()
        if not self._failed:
            self._failed = True
            self._warn(
                f"history: cannot write '{self.path}' ({exc.strerror or exc}); utterances are "
                "still printed but not kept in the history; fix its permissions or set "
                "history.enabled = false."
            )


def read_records(path: Path) -> list[dict[str, Any]]:
    """All records of the rotated and current files, oldest first, undo marks resolved."""
    records: list[dict[str, Any]] = []
    for part in (path.with_name(path.name + ".1"), path):
        try:
            lines = part.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"Cannot read the history file '{part}' ({exc.strerror}).") from exc
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(record, dict):
                records.append(record)
    by_key = {(r.get("session"), r.get("seq")): r for r in records if r.get("seq")}
    for r in records:
        if r.get("seq"):
            r.setdefault("retracted", False)
    for r in records:
        target = by_key.get((r.get("session"), r.get("retracts")))
        if target is not None:
            target["retracted"] = True
    return records


def format_record(record: dict[str, Any]) -> str | None:
    """One line for ``vad-dictate history``; None for undo records (shown as marks)."""
    when = str(record.get("time", ""))[:19].replace("T", " ")
    mark = "[retracted] " if record.get("retracted") else ""
    if record.get("type") == "command":
        if record.get("name") == "undo":
            return None
        return f"{when}  {mark}<{record.get('name')}>"
    return f"{when}  {mark}{record.get('text', '')}"


def run_history(argv: Sequence[str], parser: argparse.ArgumentParser) -> int:
    """``vad-dictate history [-n N] [--json]``: the latest entries, retracted ones marked."""
    parser.add_argument("-n", type=int, default=20, help="how many entries (default 20)")
    parser.add_argument("--json", action="store_true", help="print the records as JSON lines")
    parser.add_argument("--file", metavar="PATH", help="history file (default: the state dir)")
    args = parser.parse_args(argv)
    if args.n < 1:
        raise ConfigError(f"-n is {args.n}, but it must be 1 or more.")
    path = Path(args.file).expanduser() if args.file else default_path()
    records = read_records(path)
    if args.json:
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
    else:
        lines = [line for r in records if (line := format_record(r)) is not None]
    for line in lines[-args.n :]:
        print(line)
    return 0
