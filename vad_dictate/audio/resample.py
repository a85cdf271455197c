"""Sample-rate conversion through libsoxr (python-soxr), chunk by chunk.

Samples are int16 at both ends but go through soxr as float32: soxr's int16 output
adds TPDF dither whose noise depends on where the chunks were cut, while its float
path gives the same samples whatever the chunking.
Quality is soxr's "HQ" (20-bit precision, passband to 95% of the lower Nyquist
frequency). soxr compensates its own delay: output frame ``j`` is the signal at input
time ``j * src / dst``, so ``n`` input frames become ``output_length(n)`` output frames
once flushed. It holds back up to a few tens of milliseconds of output at a time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from vad_dictate.audio.block import Int16Array

QUALITY = "HQ"
_FULL_SCALE = 32768.0

Float32Array = npt.NDArray[np.float32]


def check_rate(name: str, rate: int) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer number of Hz, not {rate!r}")
    return int(rate)


def output_length(n: int, src_rate: int, dst_rate: int) -> int:
    """Frames that ``n`` input frames become: n * dst / src rounded half up."""
    return (2 * n * dst_rate + src_rate) // (2 * src_rate)


def to_int16(x: npt.NDArray[np.floating]) -> Int16Array:
    """Full-scale floats (+-1.0) to int16, rounded; NaN is silence, overshoot clips."""
    scaled = np.rint(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0) * _FULL_SCALE)
    out: Int16Array = np.clip(scaled, -32768, 32767).astype(np.int16)
    return out


class StreamResampler:
    """Resample chunk by chunk; concatenated output equals ``resample`` of the whole signal.

    Takes int16, or float32 at full scale +-1.0 (decoded files); always gives int16.
    """

    def __init__(self, src_rate: int, dst_rate: int, channels: int = 1) -> None:
        self.src_rate = check_rate("src_rate", src_rate)
        self.dst_rate = check_rate("dst_rate", dst_rate)
        if channels < 1:
            raise ValueError(f"channels must be at least 1, not {channels}")
        self.channels = channels
        self._flat = channels == 1  # flush() answers in the shape process() was last given
        self._soxr = (
            None
            if self.src_rate == self.dst_rate
            else soxr.ResampleStream(
                self.src_rate, self.dst_rate, channels, dtype="float32", quality=QUALITY
            )
        )

    def _as_frames(
        self, chunk: npt.NDArray[np.int16] | Float32Array
    ) -> npt.NDArray[np.int16] | Float32Array:
        if chunk.dtype not in (np.int16, np.float32):
            raise TypeError(f"samples must be int16 or float32, not {chunk.dtype}")
        self._flat = chunk.ndim == 1
        frames = chunk.reshape(-1, 1) if chunk.ndim == 1 else chunk
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s), got shape {chunk.shape}")
        return frames

    def _shape(self, frames: Int16Array) -> Int16Array:
        return frames.reshape(-1) if self._flat and self.channels == 1 else frames

    def process(self, chunk: npt.NDArray[np.int16] | Float32Array) -> Int16Array:
        """Take the next input frames; return every output frame soxr has ready."""
        frames = self._as_frames(chunk)
        if frames.dtype == np.int16 and self._soxr is None:
            return self._shape(frames.astype(np.int16, copy=True))
        if frames.dtype == np.int16:
            floats = (frames / np.float32(_FULL_SCALE)).astype(np.float32)
        else:
            floats = np.ascontiguousarray(frames, dtype=np.float32)
        if self._soxr is None:
            return self._shape(to_int16(floats))
        return self._shape(to_int16(self._soxr.resample_chunk(floats)))

    def flush(self) -> Int16Array:
        """End of input: return the output soxr still holds (silence assumed after the end)."""
        if self._soxr is None:
            return self._shape(np.zeros((0, self.channels), dtype=np.int16))
        tail = self._soxr.resample_chunk(np.zeros((0, self.channels), np.float32), last=True)
        return self._shape(to_int16(tail))


def resample(x: npt.NDArray[np.int16], src_rate: int, dst_rate: int) -> Int16Array:
    """Resample 1-D or (n, channels) int16 audio; exact copy when the rates are equal."""
    channels = 1 if x.ndim == 1 else x.shape[1]
    r = StreamResampler(src_rate, dst_rate, channels)
    head = r.process(x)
    return np.concatenate([head, r.flush()])
