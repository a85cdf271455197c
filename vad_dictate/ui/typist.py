"""Output into other applications: type each utterance, or paste it through the clipboard.

Typing tries, in order, the tools that exist for this session: ``wtype`` (Wayland),
``ydotool`` and ``dotool`` (kernel uinput, any session), ``xdotool`` (X11). The first
that succeeds is used from then on. The ``clipboard`` output saves the clipboard,
puts the utterance there, presses Ctrl+V with one of the same tools, and puts the
saved text back only if the clipboard still holds ours (``wl-copy``/``wl-paste`` on
Wayland, ``xclip`` or ``xsel`` on X11): text the user copied meanwhile wins. Both take
text back with one BackSpace per character. When nothing works the user is told once;
stdout and the history keep every utterance anyway.

All of this runs on one worker thread, in order, so a slow tool never holds up the
event loop and utterances are never typed out of order.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vad_dictate.ui.composer import Edit

TOOL_TIMEOUT_S = 10.0
CLIPBOARD_WAIT_S = 1.0  # longest wait for a new clipboard owner to take over
PASTE_SETTLE_S = 0.3  # the target app reads the clipboard after Ctrl+V: wait before restoring
TYPERS = ("wtype", "ydotool", "dotool", "xdotool")


@dataclass(frozen=True, slots=True)
class Command:
    """One tool invocation: argv and what to write to its stdin."""

    argv: tuple[str, ...]
    stdin: str | None = None


def session_tools(
    names: tuple[str, ...],
    environ: Mapping[str, str] = os.environ,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str]:
    """The tools among ``names`` that are installed and fit this session, in order."""
    wayland, x11 = bool(environ.get("WAYLAND_DISPLAY")), bool(environ.get("DISPLAY"))
    needs = {"wtype": wayland, "wl-copy": wayland, "xdotool": x11, "xclip": x11, "xsel": x11}
    return [n for n in names if needs.get(n, True) and which(n) is not None]


def type_command(tool: str, text: str, key_delay_ms: int = 12) -> Command:
    """How ``tool`` types ``text`` into the focused window."""
    if tool == "wtype":
        return Command(("wtype", "-d", str(key_delay_ms), "--", text))
    if tool == "ydotool":
        return Command(("ydotool", "type", "--key-delay", str(key_delay_ms), "--", text))
    if tool == "dotool":
        return Command(("dotool",), f"typedelay {key_delay_ms}\ntype {text}\n")
    if tool == "xdotool":
        return Command(("xdotool", "type", "--clearmodifiers", "--delay", str(key_delay_ms), text))
    raise ValueError(f"unknown typing tool {tool}")


def backspace_command(tool: str, count: int) -> Command:
    """How ``tool`` presses BackSpace ``count`` times."""
    if tool == "wtype":
        return Command(("wtype", *("-k", "BackSpace") * count))
    if tool == "ydotool":
        return Command(("ydotool", "key", *("14:1", "14:0") * count))  # evdev KEY_BACKSPACE
    if tool == "dotool":
        return Command(("dotool",), "key backspace\n" * count)
    if tool == "xdotool":
        return Command(("xdotool", "key", "--clearmodifiers", *("BackSpace",) * count))
    raise ValueError(f"unknown typing tool {tool}")


def paste_command(tool: str) -> Command:
    """How ``tool`` presses Ctrl+V."""
    if tool == "wtype":
        return Command(("wtype", "-M", "ctrl", "v", "-m", "ctrl"))
    if tool == "ydotool":
        return Command(("ydotool", "key", "29:1", "47:1", "47:0", "29:0"))  # evdev codes
    if tool == "dotool":
        return Command(("dotool",), "key ctrl+v\n")
    if tool == "xdotool":
        return Command(("xdotool", "key", "--clearmodifiers", "ctrl+v"))
    raise ValueError(f"unknown typing tool {tool}")


CLIPBOARDS: dict[str, tuple[Command, Command]] = {  # tool -> (read, write from stdin)
    "wl-copy": (Command(("wl-paste", "--no-newline")), Command(("wl-copy",))),
    "xclip": (
        Command(("xclip", "-selection", "clipboard", "-o")),
        Command(("xclip", "-selection", "clipboard", "-i")),
    ),
    "xsel": (Command(("xsel", "--clipboard", "--output")), Command(("xsel", "--clipboard", "-i"))),
}


def run(cmd: Command, capture: bool = False) -> str | None:
    """Run a tool; its stdout if it succeeded (``""`` when not captured), else None."""
    # Clipboard writers fork a daemon that keeps the selection; with pipes on its stdout
    # we would wait for that daemon, so output is only captured when asked for.
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    try:
        done = subprocess.run(
            cmd.argv,
            input=(cmd.stdin or "").encode(),
            stdout=out,
            stderr=subprocess.DEVNULL,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace") if capture else ""


def _set_clipboard(read: Command, write: Command, text: str) -> bool:
    """Put ``text`` on the clipboard and wait until it is there.

    ``xclip -i`` returns before its background copy owns the selection, so a paste or a
    read right after it could still see the previous text.
    """
    if run(Command(write.argv, text)) is None:
        return False
    deadline = time.monotonic() + CLIPBOARD_WAIT_S
    while time.monotonic() < deadline:
        got = run(read, capture=True)
        if got == text or (got is None and not text):
            return True
        time.sleep(0.01)
    return True  # a tool that cannot read back (or is slow): paste anyway


class Typist:
    """Types or pastes the composer's edits on a worker thread, in order."""

    def __init__(
        self,
        mode: str,
        delay_ms: int,
        notify: Callable[[str], None],
        environ: Mapping[str, str] = os.environ,
        kept: str = "printed on stdout",
    ) -> None:
        if mode not in ("type", "clipboard"):
            raise ValueError(f"unknown mode {mode}")
        self.name = mode
        self.mode, self.delay_s, self.notify = mode, delay_ms / 1000, notify
        self.kept = kept  # where the text still is when typing fails, for the warning
        self.typers = session_tools(TYPERS, environ)
        self.clipboards = session_tools(tuple(CLIPBOARDS), environ)
        self._working: str | None = None  # the typer that last succeeded
        self._warned = False
        self._queue: queue.Queue[Edit | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"vad-dictate-{mode}", daemon=True)
        self._thread.start()

    def apply(self, edit: Edit) -> None:
        """Queue the edit of one utterance or command."""
        self._queue.put(edit)

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(TOOL_TIMEOUT_S * 3)

    def _loop(self) -> None:
        while (edit := self._queue.get()) is not None:
            time.sleep(self.delay_s)  # let the user release the keys of a hotkey first
            with contextlib.suppress(Exception):  # a worker must never die silently mid-session
                if edit.erase:
                    self._erase(len(edit.erase))
                if edit.insert:
                    (self._type if self.mode == "type" else self._paste)(edit.insert)

    def _with_typer(self, make: Callable[[str], Command]) -> bool:
        order = [self._working] if self._working else []
        order += [t for t in self.typers if t != self._working]
        for tool in order:
            if run(make(tool)) is not None:
                self._working = tool
                return True
        return False

    def _type(self, text: str) -> None:
        if not self._with_typer(lambda tool: type_command(tool, text)):
            self._warn_once(
                f"type: no typing tool worked ({self._tried(self.typers)}); install wtype "
                f"(Wayland), xdotool (X11) or ydotool; utterances are still {self.kept}."
            )

    def _erase(self, count: int) -> None:
        if count and not self._with_typer(lambda tool: backspace_command(tool, count)):
            self._warn_once(
                f"{self.mode}: no tool could press BackSpace ({self._tried(self.typers)}); "
                f"install wtype (Wayland), xdotool (X11) or ydotool; utterances are still "
                f"{self.kept}."
            )

    def _paste(self, text: str) -> None:
        for tool in self.clipboards:
            read, write = CLIPBOARDS[tool]
            saved = run(read, capture=True)  # None: empty, or not text
            if not _set_clipboard(read, write, text):
                continue
            if not self._with_typer(paste_command):
                self._warn_once(
                    f"clipboard: no tool could press Ctrl+V ({self._tried(self.typers)}); each "
                    f"utterance is left on the clipboard to paste yourself; it is also {self.kept}."
                )
                return
            time.sleep(PASTE_SETTLE_S)
            if run(read, capture=True) == text:  # the user copied nothing meanwhile
                _set_clipboard(read, write, saved or "")
            return
        self._warn_once(
            f"clipboard: no clipboard tool worked ({self._tried(self.clipboards)}); install "
            f"wl-clipboard (Wayland) or xclip (X11); utterances are still {self.kept}."
        )

    @staticmethod
    def _tried(tools: list[str]) -> str:
        return "tried " + ", ".join(tools) if tools else "none is installed for this session"

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            self.notify(message)
