"""The live terminal view: one status line on stderr, redrawn in place.

``render_status`` is pure (state in, one line of text with ANSI colours out);
``LiveView`` is the shell that keeps the latest state and redraws. Plain ANSI is
enough for a single line, so no rendering library is needed. The line is cut to
the terminal's width: a line that wrapped could no longer be redrawn with ``\\r``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from vad_dictate.ui.sinks import StatusView

METER_CELLS = 10
METER_FLOOR_DB = -60.0  # the empty meter; 0 dBFS fills it
METER_FALL_DB = 1.5  # per block (20 ms): about 75 dB a second
REDRAW_S = 0.05  # level updates redraw at most this often (20 per second)
RESET, DIM, BOLD = "\x1b[0m", "\x1b[2m", "\x1b[1m"
COLOURS = {
    "speech": "\x1b[32m",  # green
    "listening": "\x1b[36m",  # cyan
    "finalizing": "\x1b[35m",  # magenta
    "paused": "\x1b[33m",  # yellow
    "reconnecting": "\x1b[31m",  # red
    "connecting": "\x1b[33m",
}


@dataclass(slots=True)
class ViewState:
    """What the status line shows."""

    state: str = "connecting"
    level_db: float = METER_FLOOR_DB
    speech: bool = False
    interim: dict[int, str] = field(default_factory=dict)
    latency_ms: float | None = None


def level_db(samples: np.ndarray[tuple[int, ...], np.dtype[np.int16]]) -> float:
    """RMS level of int16 samples in dBFS, floored at ``METER_FLOOR_DB``."""
    if samples.size == 0:
        return METER_FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float64))))) / 32768.0
    if rms <= 0:
        return METER_FLOOR_DB
    return max(METER_FLOOR_DB, 20.0 * float(np.log10(rms)))


def meter(db: float, cells: int = METER_CELLS) -> str:
    """A bar of ``cells`` characters, full at 0 dBFS and empty at the floor."""
    filled = round((db - METER_FLOOR_DB) / -METER_FLOOR_DB * cells)
    filled = max(0, min(cells, filled))
    return "█" * filled + "░" * (cells - filled)


def render_status(view: ViewState, width: int) -> str:
    """The status line: state, level meter with the VAD decision, latency, dimmed interim."""
    colour = COLOURS.get(view.state, "")
    vad = "speech" if view.speech else "quiet "
    parts = [(f"{view.state:<12}", colour + BOLD), (f"mic {meter(view.level_db)} {vad}", "")]
    if view.latency_ms is not None:
        parts.append((f"last {view.latency_ms:.0f} ms", ""))
    interim = " ".join(t for _, t in sorted(view.interim.items()) if t)
    if interim:
        parts.append((interim, DIM))
    out, used, budget = [], 0, max(0, width - 1)  # never the last column: no wrap
    for i, (text, style) in enumerate(parts):
        piece = (" │ " if i else "") + text
        if used + len(piece) > budget:
            room = budget - used
            if room > 1 and style == DIM:  # show the end of long interim text
                sep = piece[:3] if i else ""
                piece = sep + "…" + text[-(room - len(sep) - 1) :]
            else:
                piece = piece[:room]
        if not piece:
            break
        out.append(f"{style}{piece}{RESET}" if style else piece)
        used += len(piece)
    return "".join(out)


class LiveView(StatusView):
    """A StatusView that keeps a status line at the bottom of the terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream, quiet=False)
        self.view = ViewState()
        self._drawn_at = 0.0
        self._active = True

    @property
    def live(self) -> bool:
        """Yes: a person at a terminal watches the status line."""
        return True

    def message(self, text: str) -> None:
        """Print a line above the status line."""
        super().message(text)
        self._draw()

    def interim(self, channel: int, text: str) -> None:
        """Show the current unfinished text of a channel, dimmed."""
        self.view.interim[channel] = text
        self._draw()

    def state(self, name: str) -> None:
        """Show a new session state."""
        if name != self.view.state:
            self.view.state = name
            self._draw()

    def level(self, samples: object, speech: bool) -> None:
        """Update the meter from a block of captured audio (redraws at most 20 times a second)."""
        if isinstance(samples, np.ndarray):
            # Fall slowly, rise at once: the meter does not flicker between syllables.
            fallen = self.view.level_db - METER_FALL_DB
            self.view.level_db = max(level_db(samples), fallen, METER_FLOOR_DB)
        changed = speech != self.view.speech
        self.view.speech = speech
        now = time.monotonic()
        if changed or now - self._drawn_at >= REDRAW_S:
            self._draw()

    def committed(self, channel: int, latency_ms: float | None) -> None:
        """An utterance was printed: drop its interim text, show its latency, redraw."""
        self.view.interim[channel] = ""
        if latency_ms is not None:
            self.view.latency_ms = latency_ms
        self._draw()

    def close(self) -> None:
        """Remove the status line for good."""
        self._clear()
        self._active = False

    def _draw(self) -> None:
        if not self._active:
            return
        try:
            width = os.get_terminal_size(self._err.fileno()).columns or 80
        except (OSError, ValueError):
            width = 80
        self._err.write("\r\x1b[2K" + render_status(self.view, width))
        self._err.flush()
        self._shown = True
        self._drawn_at = time.monotonic()


def make_status_view(quiet: bool, stream: TextIO | None = None) -> StatusView:
    """The live view when stderr is a terminal and not ``quiet``; else plain status lines."""
    err = stream or sys.stderr
    if quiet or not err.isatty():
        return StatusView(err, quiet=quiet)
    return LiveView(err)
