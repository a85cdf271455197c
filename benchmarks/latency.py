"""Benchmark 1: finalize latency, from the true end of speech to the printed line.

Compared side by side in one run against one local server (tone engine), each client
in its own process so that none delays another's timestamps:

- ``ours:<silence_ms>``: the real :class:`~vad_dictate.app.Session` (client VAD + Finalize),
  run in-process with a source that releases 20 ms blocks at known wall times and a
  sink that stamps ``time.monotonic()`` when a line is written;
- ``endpointing:<ms>``: a minimal client that streams everything and prints at the
  server's ``speech_final: true``;
- ``utterance_end:<ms>``: a minimal client that prints at ``UtteranceEnd``.

The shared pieces (tone scripts, the paced source, the server process, tables) live
here and are used by the other benchmarks too.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
from websockets.asyncio.client import connect

from vad_dictate.audio.block import AudioBlock, Int16Array
from vad_dictate.client.assembler import Committed
from vad_dictate.client.pipeline import PipelineSettings, SendAudio, SendFinalize
from vad_dictate.client.session import Session, SessionOptions
from vad_dictate.deepgram import protocol as proto
from vad_dictate.engines.tone import WORDS, silence, synth_utterance
from vad_dictate.ui.sinks import StatusView, UtteranceSink
from vad_dictate.vad.events import EndpointerSettings

RATE = 16000
BLOCK_MS = 20
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIGS = (
    "ours:300",
    "ours:500",
    "ours:700",
    "endpointing:300",
    "endpointing:700",
    "utterance_end:1000",
)

# -- audio with known truth ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Utterance:
    """Tone words and where they are in the script (samples)."""

    words: tuple[str, ...]
    start: int
    end: int  # sample just after the last non-silent sample: the true end of speech

    @property
    def text(self) -> str:
        """The exact transcript the tone engine must give."""
        return " ".join(self.words)


@dataclass(frozen=True, slots=True)
class Script:
    """Mono 16 kHz audio and its utterances."""

    samples: Int16Array
    utterances: tuple[Utterance, ...]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / RATE


def tone_script(
    n: int,
    seed: int,
    pause_s: tuple[float, float] = (1.6, 2.4),
    lead_s: float = 1.0,
    tail_s: float = 2.0,
) -> Script:
    """``n`` utterances of 1-4 tone words, pauses drawn uniformly from ``pause_s`` (seeded)."""
    rng = random.Random(seed)
    parts: list[Int16Array] = [silence(lead_s)]
    pos = len(parts[0])
    utterances = []
    for i in range(n):
        if i:
            parts.append(silence(rng.uniform(*pause_s)))
            pos += len(parts[-1])
        words = tuple(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        audio = synth_utterance(list(words))
        nonzero = np.flatnonzero(audio)
        utterances.append(Utterance(words, pos + int(nonzero[0]), pos + int(nonzero[-1]) + 1))
        parts.append(audio)
        pos += len(audio)
    parts.append(silence(tail_s))
    return Script(np.concatenate(parts), tuple(utterances))


class PacedSource:
    """An AudioSource that releases ``block_ms`` blocks when their last sample is due, or,
    gathering ``hold`` frames, together once that many are due (``release()``: at once).

    Sample ``k`` is "spoken" at ``t0 + k / rate / speed``; every release time is kept so
    a benchmark can tell how long a block waited for its deadline.
    """

    channels = 1
    overflows_portaudio = overflows_queue = 0  # generated audio never overflows
    hold = 0  # frames gathered per release, as the microphone and file sources do

    def reset(self) -> None:
        """Nothing to reopen: it never fails like a device."""

    def release(self) -> None:
        """Hand out the blocks due by now at once."""
        self._release.set()

    def __init__(self, samples: Int16Array, speed: float = 1.0, block_ms: int = BLOCK_MS) -> None:
        self._release = asyncio.Event()
        self.sample_rate = RATE
        self.samples = samples.reshape(-1, 1)
        self.speed = speed
        self.live = speed > 0  # unpaced input may wait for the network, like a file
        self.block = RATE * block_ms // 1000
        self.t0 = 0.0
        self.ends: list[int] = []
        self.released: list[float] = []

    def due(self, sample: int) -> float:
        """Wall time at which ``sample`` is spoken."""
        return self.t0 + sample / self.sample_rate / self.speed

    def release_of(self, sample: int) -> float:
        """Wall time at which the block holding sample ``sample - 1`` was released."""
        i = bisect.bisect_left(self.ends, sample)
        return self.released[min(i, len(self.released) - 1)]

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        """Yield the blocks, paced (``speed`` 0: as fast as possible)."""
        self.t0 = time.monotonic()
        total = len(self.samples)
        batch_end = -1.0  # blocks due by then go out together then (see ``hold``)
        for start in range(0, total, self.block):
            end = min(total, start + self.block)
            captured = time.monotonic()
            if self.speed > 0:
                due = captured = self.due(end)
                if due > batch_end:  # a new batch: out once ``hold`` frames of it are due
                    batch_end = self.due(start + max(self.hold, end - start))
                wait = batch_end - time.monotonic()
                if wait > 0 and not self._release.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._release.wait()
                if self._release.is_set():  # what is due by now goes at once
                    self._release.clear()
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    batch_end = time.monotonic()
            else:
                await asyncio.sleep(0)
            self.ends.append(end)
            self.released.append(time.monotonic())
            yield AudioBlock(self.samples[start:end], start, captured)


# -- the local server in its own process ---------------------------------------------------------


class ServerProcess:
    """``vad-dictate serve --port 0 --engine E [--model M]`` on 127.0.0.1, in its own process;
    the URL is its first line. ``stop_wait_s``: how long a stop may take before a kill."""

    def __init__(
        self,
        engine: str = "tone",
        idle_timeout: float = 60.0,
        model: str = "",
        stop_wait_s: float = 10.0,
    ) -> None:
        self.args = ["--engine", engine, "--idle-timeout", str(idle_timeout)]
        self.args += ["--model", model] if model else []
        self.stop_wait_s = stop_wait_s
        self.proc: subprocess.Popen[str] | None = None
        self.url, self.startup_s = "", 0.0

    def __enter__(self) -> Self:
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vad_dictate", "serve", "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=clean_env(),
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        self.startup_s = time.monotonic() - started
        if not self.url.startswith("ws://"):
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {self.url!r}")
        return self

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far (user + system)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory (VmHWM) in MB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_wait_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def clean_env() -> dict[str, str]:
    """The environment for child processes: no API key, the project on the path."""
    env = {k: v for k, v in os.environ.items() if k != "DEEPGRAM_API_KEY"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# -- the real app, in-process --------------------------------------------------------------------


@dataclass(slots=True)
class Line:
    """A printed line: when, what, and (for our app) which Finalize produced it."""

    at: float
    text: str
    last_speech: float = 0.0  # seconds on the capture clock
    seq: int = 0


class TimingSink(UtteranceSink):
    """Keeps each line with the ``time.monotonic()`` of its write, instead of printing it."""

    def __init__(self) -> None:
        super().__init__("text", 1, io.StringIO())
        self.lines: list[Line] = []

    def write(self, item: Committed, latency_ms: float | None) -> None:
        """Record the line."""
        at = time.monotonic()
        self.lines.append(Line(at, item.text, item.info.end, item.info.seq))
        self.count += 1


@dataclass(slots=True)
class WireRecorder:
    """Session recorder: when each Finalize left, what the server said about duration."""

    finalizes: dict[int, tuple[int, float]] = field(default_factory=dict)  # seq -> (end, sent)
    metadata_s: float = 0.0

    def audio(self, block: AudioBlock) -> None:
        """Not needed."""

    def sent(self, item: SendAudio | SendFinalize | str) -> None:
        """Stamp each Finalize as it leaves."""
        if isinstance(item, SendFinalize):
            self.finalizes[item.seq] = (item.speech.end, time.monotonic())

    def received(self, raw: str | bytes) -> None:
        """Add up the audio duration each Metadata reports (what the server would bill)."""
        if isinstance(raw, str) and '"Metadata"' in raw:
            msg = json.loads(raw)
            if msg.get("type") == "Metadata":
                self.metadata_s += float(msg.get("duration", 0.0))


def session_options(
    url: str,
    silence_ms: int = 700,
    policy: str = "speech",
    ack_timeout: float = 2.0,
    punctuate: bool = False,
    close_timeout: float = 5.0,
    retain_s: float = 120.0,
) -> SessionOptions:
    """The CLI's defaults (server endpointing 300 ms, 50 ms messages), unpunctuated."""
    connect_opts = proto.ConnectOptions(
        sample_rate=RATE, channels=1, model=None, punctuate=punctuate, endpointing=300
    )
    return SessionOptions(
        url=url,
        api_key=None,
        connect=connect_opts,
        endpointer=EndpointerSettings(silence_ms=silence_ms),
        pipeline=PipelineSettings(policy="always" if policy == "always" else "speech"),
        ack_timeout=ack_timeout,
        close_timeout=close_timeout,
        retain_s=retain_s,
    )


def quiet_status() -> StatusView:
    """A status view that shows nothing."""
    return StatusView(io.StringIO(), quiet=True)


async def run_ours(url: str, script: Script, silence_ms: int) -> list[dict[str, Any]]:
    """Dictate the script in real time through the real Session; one record per utterance."""
    source = PacedSource(script.samples)
    sink, recorder = TimingSink(), WireRecorder()
    session = Session(source, session_options(url, silence_ms), sink, quiet_status(), recorder)
    await session.run()
    records = []
    for u, lines in zip(script.utterances, assign(script, source, sink.lines), strict=True):
        rec = judge(u, source, lines, silence_ms)
        if lines and rec["ok"] and lines[-1].seq in recorder.finalizes:
            last = lines[-1]
            decision, sent = recorder.finalizes[last.seq]
            release = source.release_of(decision)
            rec["parts"] = {
                "vad_lag": (last.last_speech - u.end / RATE) * 1000,
                "quant": (decision / RATE - last.last_speech) * 1000 - silence_ms,
                "block_wait": (release - source.due(decision)) * 1000,
                "client": (sent - release) * 1000,
                "server": (last.at - sent) * 1000,
            }
        records.append(rec)
    return records


def assign(script: Script, source: PacedSource, lines: Sequence[Line]) -> list[list[Line]]:
    """Lines printed between utterance i's true end and the next one's belong to utterance i."""
    ends = [source.due(u.end) for u in script.utterances]
    out: list[list[Line]] = [[] for _ in ends]
    for line in lines:
        i = bisect.bisect_right(ends, line.at) - 1
        if i >= 0:
            out[i].append(line)
    return out


def judge(u: Utterance, source: PacedSource, lines: Sequence[Line], wait_ms: int) -> dict[str, Any]:
    """Exact words in exactly one line? Latency to the line that completed the utterance."""
    text = " ".join(line.text for line in lines)
    rec: dict[str, Any] = {"ok": len(lines) == 1 and text == u.text, "text": text, "want": u.text}
    if lines:
        total = (lines[-1].at - source.due(u.end)) * 1000
        rec.update(total=total, overhead=total - wait_ms)
    return rec


# -- the server's own endpointing, with a minimal client of our own ------------------------------


async def run_server_path(url: str, script: Script, kind: str, ms: int) -> list[dict[str, Any]]:
    """Stream everything in real time; print at speech_final or at UtteranceEnd."""
    query = "encoding=linear16&sample_rate=16000&channels=1"
    if kind == "endpointing":
        query += f"&endpointing={ms}"
    else:  # UtteranceEnd needs interim results; endpointing as in our config
        query += f"&endpointing=300&interim_results=true&utterance_end_ms={ms}"
    source = PacedSource(script.samples)
    lines: list[Line] = []
    async with connect(f"{url}?{query}", proxy=None, max_size=2**24) as ws:
        pending: list[str] = []

        async def reader() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "Results" and msg.get("is_final"):
                    text = msg["channel"]["alternatives"][0]["transcript"].strip()
                    pending.extend([text] if text else [])
                ends = (kind == "endpointing" and bool(msg.get("speech_final"))) or (
                    kind == "utterance_end" and msg.get("type") == "UtteranceEnd"
                )
                if ends and pending:
                    lines.append(Line(time.monotonic(), " ".join(pending)))
                    pending.clear()

        task = asyncio.create_task(reader())
        async for block in source.blocks():
            await ws.send(block.samples.tobytes())
        await ws.send(proto.close_stream_message())
        await task
        if pending:
            lines.append(Line(time.monotonic(), " ".join(pending)))
    return [
        judge(u, source, ls, ms)
        for u, ls in zip(script.utterances, assign(script, source, lines), strict=True)
    ]


# -- running it ----------------------------------------------------------------------------------


def run_worker(config: str, url: str, n: int, seed: int) -> list[dict[str, Any]]:
    """Run one configuration (``kind:ms``) in this process."""
    kind, _, value = config.partition(":")
    script = tone_script(n, seed)
    if kind == "ours":
        return asyncio.run(run_ours(url, script, int(value)))
    return asyncio.run(run_server_path(url, script, kind, int(value)))


def measure(
    n: int = 40, seed: int = 1, configs: Sequence[str] = DEFAULT_CONFIGS
) -> dict[str, list[dict[str, Any]]]:
    """Run every configuration at once, each in its own process, against one tone server."""
    with ServerProcess("tone") as server, tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for config in configs:
            out = open(Path(tmp) / f"{config.replace(':', '_')}.err", "w")  # noqa: SIM115
            cmd = [sys.executable, "-m", "benchmarks.latency", "--worker", config]
            cmd += ["--url", server.url, "-n", str(n), "--seed", str(seed)]
            procs[config] = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=out, text=True, env=clean_env(), cwd=ROOT
            )
        results = {}
        for config, proc in procs.items():
            stdout, _ = proc.communicate()
            if proc.returncode != 0:
                err = (Path(tmp) / f"{config.replace(':', '_')}.err").read_text()[-2000:]
                raise RuntimeError(f"latency worker {config} failed:\n{err}")
            results[config] = json.loads(stdout)
    return results


# -- tables --------------------------------------------------------------------------------------

LABELS = {
    "ours": ("VAD + Finalize (ours)", "silence_ms"),
    "endpointing": ("server speech_final", "endpointing"),
    "utterance_end": ("server UtteranceEnd", "utterance_end_ms"),
}
PARTS = (
    ("vad_lag", "VAD lag: end of speech as found - true end"),
    ("quant", "end frame - (that + silence_ms): the nearest frame boundary"),
    ("block_wait", "capture block wait (20 ms blocks)"),
    ("client", "block released -> Finalize sent"),
    ("server", "Finalize sent -> line printed (server round trip)"),
)


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (linear interpolation); NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.1f}"
    return str(value)


def summarize(results: dict[str, list[dict[str, Any]]]) -> str:
    """Latency table for every configuration, then our overhead broken down."""
    base = [r["total"] for r in results.get("ours:700", []) if r["ok"]]
    rows = []
    for config, recs in results.items():
        kind, _, ms = config.partition(":")
        good = [r for r in recs if r["ok"]]
        total = [r["total"] for r in good]
        over = [r["overhead"] for r in good]
        ratio = pct(total, 50) / pct(base, 50) if base and total else float("nan")
        name, knob = LABELS[kind]
        rows.append(
            [
                name,
                f"{knob}={ms}",
                f"{len(good)}/{len(recs)}",
                pct(total, 50),
                pct(total, 95),
                pct(over, 50),
                pct(over, 95),
                f"{ratio:.2f}",
            ]
        )
    out = [
        table(
            [
                "path",
                "setting",
                "exact lines",
                "p50 ms",
                "p95 ms",
                "overhead p50",
                "overhead p95",
                "p50 / ours@700",
            ],
            rows,
        )
    ]
    out.append("")
    out.append(overhead_table(results))
    return "\n".join(out)


def overhead_table(results: dict[str, list[dict[str, Any]]]) -> str:
    """Where our overhead (printed - speech end - silence_ms) goes, p50 / p95 per part."""
    ours = {
        c: [r["parts"] for r in recs if "parts" in r]
        for c, recs in results.items()
        if c.startswith("ours:")
    }
    headers = ["part (ms, p50 / p95)", *[f"silence_ms={c.partition(':')[2]}" for c in ours]]
    rows: list[list[object]] = []
    for key, label in PARTS:
        rows.append([label, *[_pair([p[key] for p in parts]) for parts in ours.values()]])
    app = {
        c: [p["block_wait"] + p["client"] + p["server"] for p in parts] for c, parts in ours.items()
    }
    rows.append(
        [
            "**app after the VAD decision** (block + client + server)",
            *[_pair(v) for v in app.values()],
        ]
    )
    total = {c: [sum(p[k] for k, _ in PARTS) for p in parts] for c, parts in ours.items()}
    rows.append(["**overhead** (sum; target p95 < 15)", *[_pair(v) for v in total.values()]])
    return table(headers, rows)


def _pair(values: Sequence[float]) -> str:
    return f"{pct(values, 50):.1f} / {pct(values, 95):.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.latency [-n 40]``: run and print the tables."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    p.add_argument("-n", type=int, default=40, help="utterances per configuration")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--config", action="append", help="kind:ms (default: all six)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.url, args.n, args.seed)))
        return 0
    results = measure(args.n, args.seed, args.config or DEFAULT_CONFIGS)
    print(summarize(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
