"""Benchmark 3: the client's resident memory over a one-hour stream.

A worker process runs the real :class:`~vad_dictate.app.Session` on a generated source
that repeats 60 s of tone speech (about 20 utterances a minute, every one transcribed by
the tone server in another process) as fast as it is taken, for an hour of audio. The
source reads ``VmRSS`` and ``VmHWM`` (peak) from ``/proc/self/status`` and the number
of memory blocks Python has allocated (``sys.getallocatedblocks``) when the audio clock
passes each checkpoint: a leak of Python state shows as a growing block count, while
heap fragmentation moves RSS only. At the end, glibc's ``malloc_trim`` shows how much of
the RSS is free heap that was never returned to the system. The generated source holds
only its 60 s loop, so the numbers are the client's own state, not an input file's.
Lines go to the real sink, writing to ``/dev/null``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from benchmarks.latency import (
    RATE,
    ROOT,
    ServerProcess,
    clean_env,
    quiet_status,
    session_options,
    table,
    tone_script,
)
from vad_dictate.audio.block import AudioBlock
from vad_dictate.client.assembler import Committed
from vad_dictate.client.session import Session
from vad_dictate.ui.sinks import UtteranceSink

BLOCK = RATE // 50  # 20 ms
FULL_MINUTES = (1, 5, 15, 30, 45, 60)
QUICK_MINUTES = (1, 2, 5, 10)


def status_kb(field: str) -> int:
    """A ``/proc/self/status`` field in kB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class LoopSource:
    """An AudioSource repeating a tone script until ``minutes`` of audio; samples RSS.

    As fast as it is taken, but never more than ``ahead_s`` of audio beyond the last
    printed utterance: on a busy machine the server falls behind, and without this the
    client would hold a growing backlog that says nothing about leaks.
    """

    channels = 1
    live = False
    overflows_portaudio = overflows_queue = 0  # generated audio never overflows
    hold = 0  # ignored: every block as fast as it is taken

    def reset(self) -> None:
        """Nothing to reopen: it never fails like a device."""

    def release(self) -> None:
        """Nothing is held."""

    def __init__(self, minutes: Sequence[int], speed: float = 0.0, ahead_s: float = 30.0):
        self.sample_rate = RATE
        self.loop = tone_script(20, seed=3, lead_s=1.0, tail_s=0.0).samples.reshape(-1, 1)
        self.marks = [m * 60 * RATE for m in minutes]
        self.speed, self.ahead = speed, round(ahead_s * RATE)
        self.samples: list[dict[str, Any]] = []
        self.sink = EndSink()
        self.waited_s = 0.0

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        """Yield 20 ms blocks of the loop, forever until the last checkpoint."""
        t0, pos, total = time.monotonic(), 0, self.marks[-1]
        marks = list(self.marks)
        while pos < total:
            i = pos % len(self.loop)
            n = min(BLOCK, len(self.loop) - i, total - pos)
            await self._wait(t0, pos + n)
            yield AudioBlock(self.loop[i : i + n], pos, time.monotonic())
            pos += n
            if marks and pos >= marks[0]:
                marks.pop(0)
                self.samples.append(
                    {
                        "minute": pos / RATE / 60,
                        "rss_kb": status_kb("VmRSS"),
                        "hwm_kb": status_kb("VmHWM"),
                        "wall_s": time.monotonic() - t0,
                        "blocks": sys.getallocatedblocks(),
                    }
                )

    async def _wait(self, t0: float, end: int) -> None:
        if self.speed > 0:
            await asyncio.sleep(max(0.0, t0 + end / RATE / self.speed - time.monotonic()))
        else:
            await asyncio.sleep(0)
        started = time.monotonic()
        while end - self.sink.end > self.ahead and time.monotonic() - started < 30:
            await asyncio.sleep(0.01)
        self.waited_s += time.monotonic() - started


class EndSink(UtteranceSink):
    """The real sink writing to /dev/null; remembers where the last line's speech ended."""

    def __init__(self) -> None:
        super().__init__("text", 1, open(os.devnull, "w"))  # noqa: SIM115
        self.end = 0  # capture frame

    def write(self, item: Committed, latency_ms: float | None) -> None:
        """Write the line, note its end."""
        super().write(item, latency_ms)
        self.end = round(item.info.end * RATE)


def _trimmed_rss() -> int:
    """RSS after glibc returns free heap to the system (0 if glibc is not there)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return 0
    return status_kb("VmRSS")


async def run_worker(url: str, minutes: Sequence[int], speed: float) -> dict[str, Any]:
    """Dictate the loop through the real Session; return the RSS checkpoints."""
    source = LoopSource(minutes, speed)
    options = session_options(url, close_timeout=120.0)
    session = Session(source, options, source.sink, quiet_status())
    await session.run()
    peak = status_kb("VmHWM")
    return {
        "checkpoints": source.samples,
        "peak_kb": peak,
        "trimmed_kb": _trimmed_rss(),
        "utterances": source.sink.count,
        "throttled_s": source.waited_s,
        "dropped_s": session.core.outbox.dropped_frames / RATE,
    }


def measure(quick: bool = False, speed: float = 0.0) -> dict[str, Any]:
    """Run the worker in its own process against a tone server in another."""
    minutes = QUICK_MINUTES if quick else FULL_MINUTES
    with ServerProcess("tone", idle_timeout=120.0) as server:
        cmd = [sys.executable, "-m", "benchmarks.memory", "--worker", "--url", server.url]
        cmd += ["--minutes", ",".join(map(str, minutes)), "--speed", str(speed)]
        res = subprocess.run(
            cmd, capture_output=True, text=True, env=clean_env(), cwd=ROOT, check=False
        )
    if res.returncode != 0:
        raise RuntimeError(f"memory worker failed:\n{res.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(res.stdout)
    return result


def summarize(result: dict[str, Any]) -> str:
    """RSS at each checkpoint, and the growth after the first one."""
    points = result["checkpoints"]
    first = points[0]["rss_kb"]
    rows = [
        [
            f"{p['minute']:.0f}",
            f"{p['rss_kb'] / 1024:.1f}",
            f"{p['hwm_kb'] / 1024:.1f}",
            f"{(p['rss_kb'] - first) / 1024:+.1f}",
            p["blocks"],
            f"{p['wall_s']:.0f}",
        ]
        for p in points
    ]
    out = table(
        ["audio min", "RSS MB", "peak RSS MB", "vs minute 1", "Python blocks", "wall s"], rows
    )
    ref = points[1] if len(points) > 1 else points[0]  # minute 1 still warms up
    growth = (points[-1]["rss_kb"] - ref["rss_kb"]) / 1024
    blocks = points[-1]["blocks"] / ref["blocks"] - 1
    verdict = "flat" if abs(growth) < 2.0 else "grows"
    return (
        f"{out}\n\nUtterances printed: {result['utterances']}; dropped audio: "
        f"{result['dropped_s']:g} s; waited for the server {result['throttled_s']:.0f} s; "
        f"RSS change from minute {ref['minute']:.0f} to "
        f"{points[-1]['minute']:.0f}: {growth:+.1f} MB ({verdict}); peak "
        f"{result['peak_kb'] / 1024:.1f} MB; RSS after malloc_trim at the end "
        f"{result['trimmed_kb'] / 1024:.1f} MB; Python blocks {blocks:+.1%}."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.memory [--quick] [--speed X]``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    p.add_argument("--quick", action="store_true", help="10 minutes instead of 60")
    p.add_argument("--speed", type=float, default=0.0, help="x real time (0: as fast as taken)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--minutes", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        minutes = [int(m) for m in args.minutes.split(",")]
        print(json.dumps(asyncio.run(run_worker(args.url, minutes, args.speed))))
        return 0
    print(summarize(measure(args.quick, args.speed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
