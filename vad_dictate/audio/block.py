"""Audio as it travels through the app: int16 frames and the blocks sources deliver."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """Frames at the pipeline rate; ``start`` counts frames since the session began."""

    samples: Int16Array  # shape (n, channels)
    start: int
    captured_at: float  # time.monotonic() when the last frame was captured or released
