"""Audio as it travels through the app: int16 frames, the blocks sources deliver, and what a
source must offer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """Frames at the pipeline rate; ``start`` counts frames since the session began."""

    samples: Int16Array  # shape (n, channels)
    start: int
    captured_at: float  # time.monotonic() when the last frame was captured or released


class AudioSource(Protocol):
    """What a dictation session needs from a microphone or a file."""

    sample_rate: int
    channels: int
    live: bool  # True: audio not taken at once is lost (a microphone); False: it can wait (a file)
    overflows_portaudio: int  # callbacks whose status flagged an input overflow
    overflows_queue: int  # blocks dropped because the consumer fell behind
    # Frames (at the pipeline rate) the source may gather before it hands them out together:
    # it delivers once it holds at least this many, so one wake-up of the consumer takes
    # several blocks. 0 (or one block or less): every block at once. The consumer sets it
    # from what its decisions can wait for (``Pipeline.hold``); a source may ignore it.
    hold: int

    def blocks(self) -> AsyncIterator[AudioBlock]:
        """Frames until the input ends; raises AudioDeviceError when the device fails."""
        ...

    def reset(self) -> None:
        """Allow ``blocks()`` to open the input again after a failure."""
        ...

    def release(self) -> None:
        """Hand out what is held now, without waiting for ``hold`` frames (event loop thread)."""
        ...
