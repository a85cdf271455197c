"""Run every client benchmark in one go and print markdown tables.

``python -m benchmarks.run`` (about 5 minutes) or ``python -m benchmarks.run --quick``
(about 2 minutes, smaller samples). The benchmarks run one after another, so they do
not compete for the cores; each starts its own local server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from benchmarks import billing, cpu, latency, memory, resampling
from benchmarks.latency import ROOT


def _header(argv: Sequence[str]) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "vad_dictate"], capture_output=True, text=True, cwd=ROOT
    ).stdout.split()
    if dirty:
        commit += " plus uncommitted changes to vad_dictate/"
    return (
        f"Command: `{' '.join(['python -m benchmarks.run', *argv])}`"
        + f"  \nCommit {commit or '?'}; Python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs; load average at start {load}."
    )


def _section(title: str, body: Callable[[], str]) -> str:
    t0 = time.monotonic()
    text = body()
    return f"## {title}\n\n{text}\n\n({time.monotonic() - t0:.0f} s)\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run latency, CPU, memory, billing and resampling; print the tables."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller samples, about 2 minutes")
    p.add_argument("-n", type=int, help="utterances per latency configuration (default 40)")
    args = p.parse_args(args_list)
    n = args.n or (12 if args.quick else 40)
    print(_header(args_list) + "\n", flush=True)
    sections: list[tuple[str, Callable[[], str]]] = [
        (
            f"1. Finalize latency ({n} utterances per row, tone engine, real time)",
            lambda: latency.summarize(latency.measure(n)),
        ),
        ("2. Client CPU", lambda: cpu.summarize(*cpu.measure(args.quick))),
        (
            f"3. Memory over {'10 minutes' if args.quick else 'one hour'} of audio",
            lambda: memory.summarize(memory.measure(args.quick)),
        ),
        (
            "4. Billed audio, speech vs always",
            lambda: billing.summarize(*billing.measure(args.quick)),
        ),
        (
            "5. Capture + resample throughput, hand-written FIR vs soxr",
            lambda: resampling.summarize(resampling.measure(args.quick)),
        ),
    ]
    for title, body in sections:
        print(_section(title, body), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
