"""Benchmark 3: the client's resident memory over a one-hour stream.

A worker process runs the real :class:`~vad_dictate.app.Session` on a generated source
that repeats 60 s of tone speech (about 20 utterances a minute, every one transcribed by
the tone server in another process) as fast as it is taken, for an hour of audio. The
source reads ``VmRSS`` and ``VmHWM`` (peak) from ``/proc/self/status`` when the audio
clock passes each checkpoint. The generated source holds only its 60 s loop, so the
numbers are the client's own state, not the input file's. Lines go to the real sink,
writing to ``/dev/null``.
"""

from __future__ import annotations

import argparse
import asyncio
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
from vad_dictate.app import Session
from vad_dictate.audio import AudioBlock
from vad_dictate.sinks import UtteranceSink

BLOCK = RATE // 50  # 20 ms
FULL_MINUTES = (1, 5, 15, 30, 60)
QUICK_MINUTES = (1, 2, 5, 10)


def status_kb(field: str) -> int:
    """A ``/proc/self/status`` field in kB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class LoopSource:
    """An AudioSource repeating a tone script until ``minutes`` of audio; samples RSS."""

    channels = 1

    def __init__(self, minutes: Sequence[int], speed: float = 0.0) -> None:
        self.sample_rate = RATE
        self.loop = tone_script(20, seed=3, lead_s=1.0, tail_s=0.0).samples.reshape(-1, 1)
        self.marks = [m * 60 * RATE for m in minutes]
        self.speed = speed
        self.samples: list[dict[str, Any]] = []

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        """Yield 20 ms blocks of the loop, forever until the last checkpoint."""
        t0, pos, total = time.monotonic(), 0, self.marks[-1]
        marks = list(self.marks)
        while pos < total:
            i = pos % len(self.loop)
            n = min(BLOCK, len(self.loop) - i, total - pos)
            if self.speed > 0:
                await asyncio.sleep(max(0.0, t0 + (pos + n) / RATE / self.speed - time.monotonic()))
            else:
                await asyncio.sleep(0)
            yield AudioBlock(self.loop[i : i + n], pos, time.monotonic())
            pos += n
            if marks and pos >= marks[0]:
                marks.pop(0)
                self.samples.append(
                    {"minute": pos / RATE / 60, "rss_kb": status_kb("VmRSS"),
                     "hwm_kb": status_kb("VmHWM"), "wall_s": time.monotonic() - t0}
                )  # fmt: skip


async def run_worker(url: str, minutes: Sequence[int], speed: float) -> dict[str, Any]:
    """Dictate the loop through the real Session; return the RSS checkpoints."""
    source = LoopSource(minutes, speed)
    with open(os.devnull, "w") as devnull:
        sink = UtteranceSink("text", 1, devnull)
        options = session_options(url, close_timeout=120.0)
        session = Session(source, options, sink, quiet_status())
        await session.run()
    return {
        "checkpoints": source.samples,
        "peak_kb": status_kb("VmHWM"),
        "utterances": sink.count,
        "dropped_s": session.outbox.dropped_frames / RATE,
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
        [f"{p['minute']:.0f}", f"{p['rss_kb'] / 1024:.1f}", f"{p['hwm_kb'] / 1024:.1f}",
         f"{(p['rss_kb'] - first) / 1024:+.1f}", f"{p['wall_s']:.0f}"]
        for p in points
    ]  # fmt: skip
    out = table(["audio min", "RSS MB", "peak RSS MB", "vs minute 1", "wall s"], rows)
    growth = (points[-1]["rss_kb"] - points[1]["rss_kb"]) / 1024 if len(points) > 1 else 0.0
    verdict = "flat" if abs(growth) < 2.0 else "GROWS"
    return (
        f"{out}\n\nUtterances printed: {result['utterances']}; dropped audio: "
        f"{result['dropped_s']:g} s; RSS change from minute {points[1]['minute']:.0f} to "
        f"{points[-1]['minute']:.0f}: {growth:+.1f} MB ({verdict}); peak "
        f"{result['peak_kb'] / 1024:.1f} MB."
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
