"""Where finished utterances and status go: stdout carries utterances only, stderr the rest.

Every utterance goes through the composer (spoken commands, replacements, joining)
and into the history before anything is printed; then stdout gets one line per
dictated utterance (JSONL: commands as events too) and the extra targets (an
``--append`` file, typing into the focused window, the clipboard) get the
composer's edits, so each holds the same document. A target never replaces stdout.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from vad_dictate.client.actions import (
    Action,
    Notice,
    Print,
    ShowInterim,
    StateChanged,
    StatusRecord,
)
from vad_dictate.client.assembler import Committed
from vad_dictate.errors import ConfigError
from vad_dictate.ui.composer import Composed, Composer, Edit
from vad_dictate.ui.history import History


class TextTarget(Protocol):
    """Somewhere the composed document goes besides stdout."""

    name: str

    def apply(self, edit: Edit) -> None: ...

    def close(self) -> None: ...


class UtteranceSink:
    """Writes each committed utterance as one line of text or JSON, flushed at once."""

    def __init__(
        self,
        fmt: str,
        channels: int,
        stream: TextIO | None = None,
        targets: Sequence[TextTarget] = (),
        before_write: Callable[[], None] | None = None,
        composer: Composer | None = None,
        history: History | None = None,
        session_id: str = "",
    ) -> None:
        self._fmt = fmt
        self._multi = channels > 1
        self._out = stream or sys.stdout
        self._targets = list(targets)
        self._before_write = before_write  # the live view clears its status line first
        self.composer = composer or Composer()
        self._history = history
        self._session = session_id
        self.count = 0
        self.stdout_closed = False  # the reader of stdout went away (``| head -1``)

    def write(self, item: Committed, latency_ms: float | None) -> None:
        """Compose one utterance; record it, print it, and edit every target."""
        composed = self.composer.utterance(item.text)
        if composed is None:
            return
        info = item.info
        where = {"channel": info.channel, "trigger": info.trigger}
        self._record(composed, item.text, where)
        if self._fmt == "jsonl":
            record: dict[str, Any] = {"type": "utterance", "channel": info.channel}
            if composed.command:
                record = {"type": "command", "name": composed.command, "channel": info.channel}
            record.update(
                text=composed.text.strip(" ") if composed.command else composed.text.strip(),
                start=round(info.start, 3),
                end=round(info.end, 3),
                trigger=info.trigger,
                latency_ms=None if latency_ms is None else round(latency_ms, 1),
                seq=composed.seq,
            )
            if composed.retracted is not None or composed.command == "undo":
                record["retracted"] = composed.retracted
            if item.outcome == "late":
                record["late"] = True
            self._line(json.dumps(record, ensure_ascii=False))
        elif not composed.command:
            text = composed.text.strip()
            self._line(f"[ch{info.channel}] {text}" if self._multi else text)
        self._apply(composed)

    def undo(self) -> Composed:
        """Take back the latest utterance still in the document (``vad-dictate undo``, a key)."""
        composed = self.composer.undo()
        self._record(composed, "", {"trigger": "control"})
        if self._fmt == "jsonl":
            event = {"type": "command", "name": "undo", "retracted": composed.retracted}
            self._line(json.dumps(event))
        self._apply(composed)
        return composed

    def status(self, record: dict[str, object]) -> None:
        """In JSONL mode, a ``{"type": "status", ...}`` line (e.g. capture overflows)."""
        if self._fmt != "jsonl":
            return  # text mode: stdout carries utterances only; stderr has the warning
        self._line(json.dumps({"type": "status", **record}))

    def close(self) -> None:
        """Close every extra target (waits for pending typing), then the history."""
        for target in self._targets:
            target.close()
        if self._history is not None:
            self._history.close()

    def _line(self, line: str) -> None:
        if self.stdout_closed:
            return
        if self._before_write is not None:
            self._before_write()
        try:
            self._out.write(line + "\n")
            self._out.flush()
        except BrokenPipeError:
            self._reader_gone()
            return
        self.count += 1

    def _reader_gone(self) -> None:
        """A closed pipe: the other targets and the history still get every utterance."""
        self.stdout_closed = True
        if self._out is sys.stdout:  # so the interpreter's last flush has nowhere to fail
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)

    def _apply(self, composed: Composed) -> None:
        if composed.edit is not None:
            for target in self._targets:
                target.apply(composed.edit)

    def _record(self, composed: Composed, said: str, where: dict[str, Any]) -> None:
        if self._history is None:
            return
        record: dict[str, Any] = {"session": self._session}
        if composed.command == "undo":
            record.update(type="command", name="undo", retracts=composed.retracted)
        else:
            kind = "command" if composed.command else "utterance"
            record.update(type=kind, seq=composed.seq, name=composed.command or None)
            record.update(text=composed.text.strip(" "), said=said.strip())
        record.update(where, targets=["stdout", *(t.name for t in self._targets)])
        self._history.record(record)


class AppendTarget:
    """Keeps the composed document in a file (``--append FILE``), flushed per edit."""

    name = "append"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self._file = self.path.open("ab")
        except OSError as exc:
            raise ConfigError(
                f"Cannot open '{self.path}' to append utterances ({exc.strerror}); "
                "check the --append path."
            ) from exc
        self._wrote = False
        self._last = b""

    def apply(self, edit: Edit) -> None:
        """Erase text by cutting it off the end, if it is still there; append inserted text."""
        if edit.erase:
            self._erase(edit.erase.encode())
        if edit.insert:
            self._file.write(edit.insert.encode())
            self._wrote = True
        self._file.flush()
        self._last = self._tail(1)

    def _erase(self, data: bytes) -> None:
        self._file.flush()
        if self._tail(len(data)) == data:  # nobody else wrote to the file meanwhile
            fd = self._file.fileno()
            os.ftruncate(fd, os.fstat(fd).st_size - len(data))

    def _tail(self, n: int) -> bytes:
        with self.path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - n))
            return f.read()

    def close(self) -> None:
        """End the session's text with a line break, so the next session starts a line."""
        if self._wrote and self._last not in (b"", b"\n"):
            self._file.write(b"\n")
        self._file.close()


class StatusView:
    """Status and interim text on stderr; interim redraws in place only on a terminal."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._err = stream or sys.stderr
        self._tty = self._err.isatty() and not quiet
        self._quiet = quiet
        self._shown = False

    @property
    def live(self) -> bool:
        """Whether this view keeps a live status line for a person at a terminal."""
        return False

    def message(self, text: str) -> None:
        """Print a status or warning line."""
        self._clear()
        self._err.write(text + "\n")
        self._err.flush()

    def alert(self, kind: str, text: str) -> None:
        """Something a person must not miss (``kind``: mic_lost, mic_back): a status line."""
        self.message(text)

    def info(self, text: str) -> None:
        """Print a status line unless quiet."""
        if not self._quiet:
            self.message(text)

    def interim(self, channel: int, text: str) -> None:
        """Show the current unfinished text of a channel (terminal only)."""
        if not self._tty:
            return
        width = 100
        shown = text if len(text) <= width else "…" + text[-width + 1 :]
        self._err.write(f"\r\x1b[2K\x1b[2m{shown}\x1b[0m")
        self._err.flush()
        self._shown = bool(text)

    def state(self, name: str) -> None:
        """The session's state changed (listening, speech, finalizing, reconnecting, paused)."""

    def level(self, samples: object, speech: bool) -> None:
        """A block of captured audio and the VAD's current decision, for a level meter."""

    def committed(self, channel: int, latency_ms: float | None) -> None:
        """An utterance was printed; the live view clears its interim text."""
        self.interim(channel, "")

    def clear(self) -> None:
        """Remove anything drawn in place, so a stdout line starts at column 0."""
        self._clear()

    def close(self) -> None:
        """The session is over: leave the terminal clean."""
        self._clear()

    def _clear(self) -> None:
        if self._tty and self._shown:
            self._err.write("\r\x1b[2K")
            self._err.flush()
            self._shown = False


def present(action: Action, sink: UtteranceSink, status: StatusView) -> bool:
    """Show the user one of the session core's actions; False when it is not for the user."""
    if isinstance(action, Print):
        sink.write(action.item, action.latency_ms)
        status.committed(action.item.info.channel, action.latency_ms)
    elif isinstance(action, ShowInterim):
        status.interim(action.channel, action.text)
    elif isinstance(action, Notice) and action.alert:
        status.alert(action.alert, action.text)
    elif isinstance(action, Notice):
        (status.info if action.verbose else status.message)(action.text)
    elif isinstance(action, StatusRecord):
        sink.status(action.record)
    elif isinstance(action, StateChanged):
        status.state(action.state)
    else:
        return False
    return True
