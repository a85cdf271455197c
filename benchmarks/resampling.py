"""Benchmark 5: capture + resample throughput, hand-written polyphase FIR vs soxr.

The microphone's loop-thread work per PortAudio callback is: copy the buffer, resample
it to 16 kHz, wrap it in an AudioBlock. Here 20 ms callbacks of 60 s of LibriVox speech
(upsampled to the device rate) go through exactly that, once with the old resampler
(``benchmarks/fir_resample.py``, the module as it was before soxr) and once with
``vad_dictate.audio.resample`` (soxr). The two alternate, best of ``repeats`` each, so
both see the same machine load. Whole files (one call, the old file path) are timed too.

Throughput is seconds of audio per second of wall time ("x real time"); the ratio is
soxr over FIR, so above 1 means soxr is faster.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from benchmarks import fir_resample
from benchmarks.billing import librivox
from benchmarks.latency import table
from vad_dictate.audio import resample as soxr_resample
from vad_dictate.audio.block import AudioBlock, Int16Array

PIPELINE_RATE = 16000
CALLBACK_MS = 20


@dataclass(frozen=True, slots=True)
class Row:
    what: str
    rate: int
    channels: int
    fir_x: float
    soxr_x: float

    @property
    def ratio(self) -> float:
        return self.soxr_x / self.fir_x


def speech(seconds: float, rate: int, channels: int) -> Int16Array:
    """LibriVox speech at ``rate`` (resampled by soxr once, outside the timing)."""
    mono = librivox().samples
    reps = int(np.ceil(seconds * PIPELINE_RATE / len(mono)))
    mono = np.tile(mono, reps)[: round(seconds * PIPELINE_RATE)]
    hi = soxr_resample.resample(mono, PIPELINE_RATE, rate)
    return np.repeat(hi[:, None], channels, axis=1)


class Resampler(Protocol):
    def process(self, chunk: Int16Array) -> Int16Array: ...


def capture(make: Callable[[int, int, int], Resampler], audio: Int16Array, rate: int) -> float:
    """Seconds of wall time for every callback's copy + resample + AudioBlock."""
    resampler = make(rate, PIPELINE_RATE, audio.shape[1])
    step = rate * CALLBACK_MS // 1000
    start = 0
    t0 = time.perf_counter()
    for i in range(0, len(audio), step):
        data = audio[i : i + step].copy()  # what the PortAudio callback does
        out = resampler.process(data)
        if len(out):
            AudioBlock(out, start, time.monotonic())
            start += len(out)
    return time.perf_counter() - t0


def whole(fn: Callable[[Int16Array, int, int], Int16Array], audio: Int16Array, rate: int) -> float:
    t0 = time.perf_counter()
    fn(audio, rate, PIPELINE_RATE)
    return time.perf_counter() - t0


def measure(quick: bool = False, repeats: int = 3, seconds: float | None = None) -> list[Row]:
    seconds = seconds or (20.0 if quick else 60.0)
    rows: list[Row] = []
    for rate, channels in [(44100, 1), (48000, 1), (48000, 2)]:
        audio = speech(seconds, rate, channels)
        fir_best = soxr_best = fir_file = soxr_file = float("inf")
        for _ in range(repeats):
            fir_best = min(fir_best, capture(fir_resample.StreamResampler, audio, rate))
            soxr_best = min(soxr_best, capture(soxr_resample.StreamResampler, audio, rate))
            fir_file = min(fir_file, whole(fir_resample.resample, audio, rate))
            soxr_file = min(soxr_file, whole(soxr_resample.resample, audio, rate))
        rows.append(
            Row("capture, 20 ms callbacks", rate, channels, seconds / fir_best, seconds / soxr_best)
        )
        rows.append(
            Row("whole file, one call", rate, channels, seconds / fir_file, seconds / soxr_file)
        )
    return rows


def summarize(rows: Sequence[Row]) -> str:
    return table(
        [
            "path",
            "device rate",
            "channels",
            "FIR (x real time)",
            "soxr (x real time)",
            "soxr / FIR",
        ],
        [
            [
                r.what,
                f"{r.rate}",
                f"{r.channels}",
                f"{r.fir_x:.0f}x",
                f"{r.soxr_x:.0f}x",
                f"{r.ratio:.1f}",
            ]
            for r in rows
        ],
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.resampling", description=__doc__)
    p.add_argument("--quick", action="store_true", help="20 s of audio instead of 60 s")
    args = p.parse_args(argv)
    print(summarize(measure(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
