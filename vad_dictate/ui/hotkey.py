"""An optional global hotkey and push-to-talk key through ``pynput`` (X11, macOS, Windows).

Install with ``pip install 'vad-dictate[hotkey]'``. pynput cannot see keys pressed in
Wayland applications, so on a Wayland session this refuses with one sentence that
points at the control socket (``vad-dictate finalize`` bound to a desktop shortcut).
Every failure to start is a message, never an exception: the other controls keep working.
pynput calls back on its own thread; the callbacks given here must be thread-safe
(the controls hand them to the event loop with ``call_soon_threadsafe``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

WAYLAND_HINT = (
    "bind 'vad-dictate finalize' (or 'vad-dictate toggle') to a shortcut in your desktop's "
    "keyboard settings instead"
)


def wayland_session(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the desktop is a Wayland session (where pynput sees only X11 windows)."""
    return bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE") == "wayland"


def _load_keyboard() -> Any:
    return importlib.import_module("pynput.keyboard")


class GlobalHotkey:
    """A running pynput listener: a combination that finalizes and/or a push-to-talk key."""

    def __init__(
        self,
        keyboard: Any,
        combo: str,
        ptt: str,
        on_finalize: Callable[[], None],
        on_talk: Callable[[bool], None],
    ) -> None:
        self._kb = keyboard
        self._hotkey = keyboard.HotKey(keyboard.HotKey.parse(combo), on_finalize) if combo else None
        self._ptt = keyboard.HotKey.parse(ptt) if ptt else None
        if self._ptt is not None and len(self._ptt) != 1:
            raise ValueError("push-to-talk must be a single key")
        self._on_talk = on_talk
        self._held = False
        self.listener = keyboard.Listener(on_press=self._press, on_release=self._release)

    def _canonical(self, key: Any) -> Any:
        return self.listener.canonical(key)

    def _press(self, key: Any) -> None:
        k = self._canonical(key)
        if self._hotkey is not None:
            self._hotkey.press(k)
        if self._ptt is not None and k == self._ptt[0] and not self._held:
            self._held = True  # auto-repeat sends more presses while held: only the first counts
            self._on_talk(True)

    def _release(self, key: Any) -> None:
        k = self._canonical(key)
        if self._hotkey is not None:
            self._hotkey.release(k)
        if self._ptt is not None and k == self._ptt[0] and self._held:
            self._held = False
            self._on_talk(False)

    def start(self) -> None:
        """Start listening (pynput's own thread)."""
        self.listener.start()
        self.listener.wait()

    def stop(self) -> None:
        """Stop listening."""
        self.listener.stop()


def start_global_hotkey(
    combo: str,
    ptt: str,
    on_finalize: Callable[[], None],
    on_talk: Callable[[bool], None],
    environ: Mapping[str, str] = os.environ,
) -> GlobalHotkey | str:
    """Start the listener, or return the one-sentence reason it cannot run."""
    prefix = "global hotkey: not available"
    if wayland_session(environ):
        return f"{prefix}: pynput cannot see keys pressed in Wayland windows; {WAYLAND_HINT}."
    try:
        keyboard = _load_keyboard()
    except ModuleNotFoundError:
        return (
            f"{prefix}: pynput is not installed (pip install 'vad-dictate[hotkey]'); "
            "terminal keys, the control socket and SIGUSR1 still work."
        )
    except Exception as exc:  # pynput raises ImportError and others when it finds no display
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"{prefix} ({reason}); terminal keys, the control socket and SIGUSR1 still work."
    try:
        hotkey = GlobalHotkey(keyboard, combo, ptt, on_finalize, on_talk)
    except ValueError as exc:
        return f"{prefix}: '{combo or ptt}' is not a key combination pynput knows ({exc})."
    try:
        hotkey.start()
    except Exception as exc:  # e.g. the X server lacks the RECORD extension
        return f"{prefix} ({exc}); terminal keys, the control socket and SIGUSR1 still work."
    return hotkey
