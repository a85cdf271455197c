"""Where finished utterances and status go: stdout carries utterances only, stderr the rest.

Besides stdout, an utterance can go to extra targets (an ``--append`` file, typing into
the focused window, the clipboard); a target never replaces stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TextIO

from vad_dictate.client.assembler import Committed
from vad_dictate.errors import ConfigError


class TextTarget(Protocol):
    """Somewhere an utterance's plain text goes besides stdout."""

    def put(self, text: str) -> None: ...

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
    ) -> None:
        self._fmt = fmt
        self._multi = channels > 1
        self._out = stream or sys.stdout
        self._targets = list(targets)
        self._before_write = before_write  # the live view clears its status line first
        self.count = 0

    def write(self, item: Committed, latency_ms: float | None) -> None:
        """Write one utterance."""
        info = item.info
        if self._fmt == "jsonl":
            record = {
                "type": "utterance",
                "channel": info.channel,
                "text": item.text,
                "start": round(info.start, 3),
                "end": round(info.end, 3),
                "trigger": info.trigger,
                "latency_ms": None if latency_ms is None else round(latency_ms, 1),
            }
            if item.outcome == "late":
                record["late"] = True
            line = json.dumps(record, ensure_ascii=False)
        else:
            line = f"[ch{info.channel}] {item.text}" if self._multi else item.text
        if self._before_write is not None:
            self._before_write()
        self._out.write(line + "\n")
        self._out.flush()
        self.count += 1
        for target in self._targets:
            target.put(item.text)

    def status(self, record: dict[str, object]) -> None:
        """In JSONL mode, a ``{"type": "status", ...}`` line (e.g. capture overflows)."""
        if self._fmt != "jsonl":
            return  # text mode: stdout carries utterances only; stderr has the warning
        if self._before_write is not None:
            self._before_write()
        self._out.write(json.dumps({"type": "status", **record}) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Close every extra target (waits for pending typing)."""
        for target in self._targets:
            target.close()


class AppendTarget:
    """Appends each utterance as a line to a file, flushed per line (``--append FILE``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self._file: TextIO = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"Cannot open '{self.path}' to append utterances ({exc.strerror}); "
                "check the --append path."
            ) from exc

    def put(self, text: str) -> None:
        """Append one line and flush it."""
        self._file.write(text + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class StatusView:
    """Status and interim text on stderr; interim redraws in place only on a terminal."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._err = stream or sys.stderr
        self._tty = self._err.isatty() and not quiet
        self._quiet = quiet
        self._shown = False

    def message(self, text: str) -> None:
        """Print a status or warning line."""
        self._clear()
        self._err.write(text + "\n")
        self._err.flush()

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
