"""When the session's shell gives the core the time, and when its timer must fire.

Pure: no I/O, threads or clock reads; ``now`` comes in as an argument. The core is ticked
every ``TICK_S``, and each wake-up of the event loop costs more CPU than most ticks do,
so the time comes with the audio where it can:

  - a block that arrives at or after the tick time ticks the core;
  - a timer ticks it only while no audio arrives: after each block it is set one
    ``TICK_S`` past the next tick time, plus the audio the source may gather before it
    delivers (blocks come every few tens of ms, so it fires only once they stop); once it
    fires, it ticks at every tick time;
  - a tick time that has already passed is not caught up: the next one is ``TICK_S`` on.
"""

from __future__ import annotations

TICK_S = 0.05  # how often the core is given the time


class TickSchedule:
    """The next tick time, kept by a block's arrival and the timer's firing."""

    def __init__(self) -> None:
        self.due = 0.0  # when the core is next given the time

    def start(self, now: float) -> float:
        """The session starts at ``now``: the first tick is ``TICK_S`` on; returns when the
        timer is to fire (then: no audio has come yet)."""
        self.due = now + TICK_S
        return self.due

    def block(self, now: float, held_s: float) -> tuple[bool, float]:
        """A block arrived at ``now`` with ``held_s`` of audio gathered before the next one:
        whether to tick now, and when the timer that ticks without audio is to fire."""
        tick = now >= self.due
        if tick:
            self._advance(now)
        return tick, self.due + TICK_S + held_s

    def timer(self, now: float) -> float:
        """The timer fired at ``now``: tick now; returns when it is to fire next."""
        self._advance(now)
        return self.due

    def _advance(self, now: float) -> None:
        due = self.due + TICK_S
        self.due = due if due > now else now + TICK_S
