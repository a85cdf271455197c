"""The session's time: the shell that gives the core the time when client/ticks.py says so,
with the audio while blocks arrive and from a timer while none do (a file waiting for the
network, a device being reopened, the input ended)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from vad_dictate.client.ticks import TickSchedule


class Clock:
    """Calls ``tick(now)`` on the schedule; when the timer fires, ``idle()`` first."""

    def __init__(
        self,
        tick: Callable[[float], None],
        idle: Callable[[], None],
        crash: Callable[[BaseException], None],
    ) -> None:
        """``idle``: no audio came for a while; ``crash``: a callback failed (a bug)."""
        self._tick, self._idle, self._crash = tick, idle, crash
        self._schedule = TickSchedule()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # when it fires

    def start(self) -> None:
        """The session starts: the first tick comes ``TICK_S`` from now."""
        self._set_timer(self._schedule.start(time.monotonic()))

    def block(self, held_s: float) -> None:
        """A block arrived, and the source gathers ``held_s`` before the next: tick if it is
        time, and put the timer off."""
        now = time.monotonic()
        tick, timer_at = self._schedule.block(now, held_s)
        if tick:
            self._tick(now)
        self._set_timer(timer_at)

    def stop(self) -> None:
        """No more ticks."""
        if self._timer is not None:
            self._timer.cancel()

    def _fired(self) -> None:
        try:
            self._idle()
            now = time.monotonic()
            timer_at = self._schedule.timer(now)
            self._tick(now)
        except Exception as exc:  # a bug: end the session with it rather than hang
            self._crash(exc)
            return
        self._set_timer(timer_at)

    def _set_timer(self, at: float) -> None:
        """(Re)set the timer to fire at ``at`` (monotonic time)."""
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(at - time.monotonic(), self._fired)
