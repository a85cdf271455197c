"""When a control takes effect: once the audio captured before it has reached the core.

Pure: no I/O, threads or clock reads; times come in as arguments (the shell's monotonic clock
for a key press, each block's capture time). The audio source may gather blocks
(``AudioSource.hold``), so when a key is pressed, audio captured before the press may not have
reached the core yet. A control waits for it:

  - a Finalize, a pause or a stop takes effect after the first block captured from the press
    on, so what was said up to the press belongs before it;
  - a resume (``first``) takes effect before that block, so what is said right after the
    press is heard, not taken for paused audio;
  - controls keep their order; with nothing gathered and nothing waiting, a control runs at
    once;
  - while a control waits, the source gathers nothing, so the audio it waits for comes soon.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Act = Callable[[], object]


@dataclass(frozen=True, slots=True)
class _Waiting:
    at: float  # when the control was given
    first: bool  # before the block that reaches ``at`` (a resume), not after it
    act: Act


class Controls:
    """The controls waiting for audio, in the order they were given."""

    def __init__(self) -> None:
        self._queue: deque[_Waiting] = deque()
        self.pausing: bool | None = None  # the latest pause or resume, until it takes effect

    @property
    def waiting(self) -> bool:
        """True while some control waits for audio."""
        return bool(self._queue)

    def hold(self, wanted: int) -> int:
        """Frames the source may gather before the core sees them (``AudioSource.hold``):
        ``wanted``, or none while a control waits."""
        return 0 if self._queue else wanted

    def add(self, at: float, act: Act, first: bool, gathering: bool) -> list[Act]:
        """A control given at ``at``; returns what may run now: ``act`` itself unless the
        source gathers audio or an earlier control still waits."""
        self._queue.append(_Waiting(at, first, act))
        return self.due(None) if not gathering and len(self._queue) == 1 else []

    def due(self, captured_until: float | None, before_block: bool = False) -> list[Act]:
        """The controls whose audio has reached the core, oldest first: a block captured until
        ``captured_until`` is about to be taken (``before_block``: only the resumes at the head
        of the queue go before it) or was just taken; None: no more audio is coming."""
        out: list[Act] = []
        while self._queue and (captured_until is None or self._queue[0].at <= captured_until):
            if before_block and not self._queue[0].first:
                break
            out.append(self._queue.popleft().act)
        if not self._queue:
            self.pausing = None
        return out
