"""Terminal keys: single key presses in cbreak mode, read on the event loop.

``KeyMap`` (pure) turns configured key names into characters and characters into
actions. ``TerminalKeys`` (shell) puts the terminal in cbreak mode and always puts
it back: on ``stop()``, at interpreter exit, and before the process suspends
(Ctrl-Z) or is killed by a second Ctrl-C (the controls call ``restore()`` there).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import termios
import tty
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vad_dictate.errors import ConfigError

Action = Literal["finalize", "pause", "less_sensitive", "more_sensitive", "quit", "undo"]
ACTIONS: tuple[Action, ...] = (
    "finalize",
    "pause",
    "less_sensitive",
    "more_sensitive",
    "quit",
    "undo",
)
KEY_NAMES = {
    "space": (" ",),
    "enter": ("\r", "\n"),  # cbreak keeps ICRNL, but a terminal may send either
    "tab": ("\t",),
    "escape": ("\x1b",),
    "backspace": ("\x7f", "\x08"),
}


def key_chars(name: str) -> tuple[str, ...]:
    """The characters a configured key name stands for: a named key or one character."""
    lowered = name.lower()
    if lowered in KEY_NAMES:
        return KEY_NAMES[lowered]
    if len(name) == 1 and name.isprintable():
        return (name,)
    raise ConfigError(
        f"'{name}' is not a key; use one character or one of: {', '.join(KEY_NAMES)}."
    )


@dataclass(frozen=True, slots=True)
class KeyMap:
    """Which character triggers which action."""

    actions: Mapping[str, Action]

    @classmethod
    def build(cls, keys: Mapping[Action, Iterable[str]]) -> KeyMap:
        """Map each action's key names; a key bound to two actions is a ConfigError."""
        table: dict[str, Action] = {}
        for action, names in keys.items():
            for name in names:
                for ch in key_chars(name):
                    other = table.get(ch)
                    if other is not None and other != action:
                        raise ConfigError(
                            f"The key '{name}' is bound to both {other} and {action}; "
                            "give each action its own keys in [controls]."
                        )
                    table[ch] = action
        return cls(table)

    def decode(self, text: str) -> list[Action]:
        """The actions for the characters typed, in order; other characters are ignored."""
        return [self.actions[ch] for ch in text if ch in self.actions]


class TerminalKeys:
    """Reads key presses from a terminal in cbreak mode and reports their actions."""

    def __init__(self, keymap: KeyMap, on_action: Callable[[Action], None], fd: int = 0) -> None:
        self.keymap = keymap
        self.on_action = on_action
        self.fd = fd
        self._saved: list[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> bool:
        """Enter cbreak mode and listen; False (and nothing changed) if ``fd`` is no terminal."""
        if not os.isatty(self.fd):
            return False
        self._loop = asyncio.get_running_loop()
        self.enter()
        atexit.register(self.restore)
        self._loop.add_reader(self.fd, self._readable)
        return True

    def enter(self) -> None:
        """Save the terminal's mode and switch to cbreak (no echo, keys arrive one by one)."""
        if self._saved is None:
            self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)

    def restore(self) -> None:
        """Put the terminal back the way it was; safe to call any number of times."""
        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def stop(self) -> None:
        """Stop listening and restore the terminal."""
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.fd)
            self._loop = None
        self.restore()
        atexit.unregister(self.restore)
        self._saved = None

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 64)
        except OSError:
            data = b""
        if not data:  # the terminal went away
            if self._loop is not None:
                self._loop.remove_reader(self.fd)
            return
        for action in self.keymap.decode(data.decode("utf-8", "replace")):
            self.on_action(action)
