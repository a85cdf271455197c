"""The hand-written resampler vad-dictate used before soxr, kept only so that
``benchmarks/resampling.py`` can measure both side by side in one run.

Resampling is a windowed-sinc (Kaiser) polyphase FIR with integer taps: every
output sample is an exact integer dot product, so ``StreamResampler`` gives the
same bits as ``resample`` whatever the chunking. Output length convention: ``n``
input frames become ``floor(n * dst / src + 1/2)`` output frames (rounded half
up); output frame ``j`` is the signal at input time ``j * src / dst``, with
silence assumed before the first and after the last input frame.
"""

from __future__ import annotations

from math import ceil, gcd

import numpy as np
import numpy.typing as npt

from vad_dictate.audio.block import Int16Array

_ZERO_CROSSINGS = 24  # filter half-width, in samples of the lower of the two rates
_CUTOFF = 0.88  # passband edge as a fraction of the lower Nyquist frequency
_KAISER_BETA = 9.0  # about 90 dB stopband attenuation
_TAP_BITS = 24  # taps are integers scaled by 2**24
_SLICE = 8192  # outputs computed per vectorised step (bounds temporary memory)


def check_rate(name: str, rate: int) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer number of Hz, not {rate!r}")
    return int(rate)


def output_length(n: int, src_rate: int, dst_rate: int) -> int:
    """Frames that ``n`` input frames become: n * dst / src rounded half up."""
    return (2 * n * dst_rate + src_rate) // (2 * src_rate)


class _Filter:
    """The polyphase tap table for one (src, dst) pair; phase p is the fraction p / up."""

    def __init__(self, src: int, dst: int) -> None:
        g = gcd(src, dst)
        self.up, self.down = dst // g, src // g
        self.half = ceil(_ZERO_CROSSINGS * max(1.0, src / dst))  # half-width in input samples
        self.taps = 2 * self.half
        fc = _CUTOFF * min(src, dst) / (2 * src)  # cutoff, cycles per input sample
        width = _ZERO_CROSSINGS * max(1.0, src / dst)
        phase = np.arange(self.up, dtype=np.float64)[:, None] / self.up
        tau = phase + (self.half - 1) - np.arange(self.taps, dtype=np.float64)[None, :]
        ratio = np.clip(tau / width, -1.0, 1.0)
        window = np.i0(_KAISER_BETA * np.sqrt(1.0 - ratio * ratio)) / np.i0(_KAISER_BETA)
        h = 2 * fc * np.sinc(2 * fc * tau) * np.where(np.abs(tau) < width, window, 0.0)
        h /= h.sum(axis=1, keepdims=True)  # unity DC gain on every phase: no ripple at DC
        self.table = np.rint(h * (1 << _TAP_BITS)).astype(np.int32)

    def apply(
        self, buf: npt.NDArray[np.int16], first: int, js: npt.NDArray[np.int64]
    ) -> Int16Array:
        """Outputs ``js`` from ``buf`` (frames, channels) whose row 0 is input frame ``first``."""
        out = np.empty((len(js), buf.shape[1]), dtype=np.int16)
        offsets = np.arange(self.taps, dtype=np.int64)[None, :]
        for s in range(0, len(js), _SLICE):
            j = js[s : s + _SLICE]
            start = (j * self.down) // self.up - (self.half - 1) - first
            windows = buf[start[:, None] + offsets].astype(np.int64)  # (n, taps, channels)
            taps = self.table[(j * self.down) % self.up].astype(np.int64)  # (n, taps)
            acc = np.einsum("nt,ntc->nc", taps, windows)
            rounded = (acc + (1 << (_TAP_BITS - 1))) >> _TAP_BITS
            out[s : s + _SLICE] = np.clip(rounded, -32768, 32767)
        return out


class StreamResampler:
    """Resample chunk by chunk; concatenated output equals ``resample`` of the whole signal."""

    def __init__(self, src_rate: int, dst_rate: int, channels: int = 1) -> None:
        self.src_rate = check_rate("src_rate", src_rate)
        self.dst_rate = check_rate("dst_rate", dst_rate)
        if channels < 1:
            raise ValueError(f"channels must be at least 1, not {channels}")
        self.channels = channels
        self._flat = channels == 1  # flush() answers in the shape process() was last given
        self._filter = None if src_rate == dst_rate else _Filter(self.src_rate, self.dst_rate)
        pre = 0 if self._filter is None else self._filter.half - 1
        self._buf = np.zeros((pre, channels), dtype=np.int16)  # silence before the signal
        self._first = -pre  # input frame index of self._buf[0]
        self._received = 0
        self._emitted = 0

    def _as_frames(self, chunk: npt.NDArray[np.int16]) -> Int16Array:
        if chunk.dtype != np.int16:
            raise TypeError(f"samples must be int16, not {chunk.dtype}")
        self._flat = chunk.ndim == 1
        frames = chunk.reshape(-1, 1) if chunk.ndim == 1 else chunk
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s), got shape {chunk.shape}")
        return frames

    def _shape(self, frames: Int16Array) -> Int16Array:
        return frames.reshape(-1) if self._flat and self.channels == 1 else frames

    def _emit(self, end: int) -> Int16Array:
        """Compute outputs up to (excluding) ``end`` and drop input no longer needed."""
        f = self._filter
        assert f is not None
        js = np.arange(self._emitted, max(end, self._emitted), dtype=np.int64)
        out = f.apply(self._buf, self._first, js)
        self._emitted += len(js)
        keep_from = (self._emitted * f.down) // f.up - (f.half - 1)
        drop = max(0, keep_from - self._first)
        self._buf, self._first = self._buf[drop:], self._first + drop
        return out

    def process(self, chunk: npt.NDArray[np.int16]) -> Int16Array:
        """Take the next input frames; return every output frame they complete."""
        frames = self._as_frames(chunk)
        self._received += len(frames)
        if self._filter is None:
            self._emitted += len(frames)
            return self._shape(frames.copy())
        self._buf = np.concatenate([self._buf, frames])
        f = self._filter
        # Output j needs inputs up to floor(j*down/up) + half, all of which must have arrived.
        ready = self._received - f.half
        end = (ready * f.up + f.down - 1) // f.down if ready > 0 else 0
        return self._shape(self._emit(end))

    def flush(self) -> Int16Array:
        """End of input: return the remaining output frames (silence assumed after the end)."""
        total = output_length(self._received, self.src_rate, self.dst_rate)
        if self._filter is None:
            return self._shape(np.zeros((0, self.channels), dtype=np.int16))
        pad = np.zeros((self._filter.taps + self._filter.half, self.channels), dtype=np.int16)
        self._buf = np.concatenate([self._buf, pad])
        return self._shape(self._emit(total))


def resample(x: npt.NDArray[np.int16], src_rate: int, dst_rate: int) -> Int16Array:
    """Resample 1-D or (n, channels) int16 audio; exact copy when the rates are equal."""
    channels = 1 if x.ndim == 1 else x.shape[1]
    r = StreamResampler(src_rate, dst_rate, channels)
    head = r.process(x)
    return np.concatenate([head, r.flush()])
