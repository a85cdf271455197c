"""Signals for a running session: the first Ctrl-C or SIGTERM stops it cleanly, a second
one exits at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Protocol


class Stoppable(Protocol):
    """What the handlers need from a session."""

    stop_requested: asyncio.Event

    def request_stop(self) -> None: ...

    def notify(self, text: str) -> None: ...


def install_signal_handlers(
    session: Stoppable, before_exit: Callable[[], None] | None = None
) -> list[signal.Signals]:
    """First Ctrl-C/SIGTERM stops cleanly; a second one exits at once (after ``before_exit``,
    e.g. restoring the terminal). Returns the signals it took over."""
    loop = asyncio.get_running_loop()

    def handler() -> None:
        if session.stop_requested.is_set():
            if before_exit is not None:
                before_exit()
            sys.stdout.flush()
            os._exit(130)
        session.notify("stopping: finalizing what was said (Ctrl-C again to quit now)")
        session.request_stop()

    taken = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)
            taken.append(sig)
    return taken
