"""Benchmark 2: client CPU at real time, and throughput as fast as possible.

Real time: the real command line (``python -m vad_dictate --input speech.wav --speed 1``)
streams 60 s of LibriVox speech with pauses to a tone server in another process: with
``--turn silence`` under both send policies (VAD and transport: target < 2%), and with the
end-of-turn model (``--turn smart``, the default when it is installed: target < 3%). The three
clients run at once. ``--dictation`` runs the turn benchmark's set instead (98 s, see
``benchmarks/turn.py``), smart against silence. The
client's CPU time is read from ``/proc/PID/stat`` 5 s after it started and 5 s before
the audio ends, so imports and connecting are left out; the whole run (``wait4``
rusage) is shown too. Meanwhile this process measures the floor: an asyncio loop that
only takes 20 ms blocks and wakes every 50 ms, as the app's pump and ticker did, and the
pure pipeline core (endpointer + gate, ``--turn silence``) pushed the same audio one block
per wake. That row is the core's cost at real time: woken every 20 ms, it finds its
caches cold and takes about three times as long per block as it does back to back (the
throughput table and ``benchmarks/turn.py`` time it back to back), so the client's CPU
less that row and the floor is what the session shell, the file source and the socket
cost. Capture is the paced file source: PortAudio's callback thread is not included.

Throughput: the real Session, in this process, with a source that releases blocks as
fast as they are taken (speed 0). "Capture + VAD" is audio length over the time until
the last block was taken; "end to end" waits until every utterance is acknowledged, so
the server (another process on the same cores) is part of it. The pure pipeline core
(endpointer + gate, no asyncio, no socket) is timed alone as well.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.billing import librivox
from benchmarks.latency import (
    RATE,
    ROOT,
    PacedSource,
    ServerProcess,
    TimingSink,
    clean_env,
    quiet_status,
    session_options,
    table,
)
from tests.fakemic import fake_mic
from vad_dictate.audio.block import Int16Array
from vad_dictate.audio.files import read_wav
from vad_dictate.client.pipeline import Pipeline, PipelineSettings, Policy
from vad_dictate.client.session import Session
from vad_dictate.vad.events import EndpointerSettings

TICKS = os.sysconf("SC_CLK_TCK")
SKIP_S = 5.0  # imports and connecting, left out of the steady-state window


def speech_audio(seconds: float) -> Int16Array:
    """LibriVox speech with pauses, repeated or cut to ``seconds``."""
    one = librivox(2).samples
    reps = int(np.ceil(seconds * RATE / len(one)))
    return np.tile(one, reps)[: round(seconds * RATE)]


def write_wav(path: Path, samples: Int16Array) -> Path:
    """Write mono 16 kHz int16 samples as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


@dataclass(frozen=True, slots=True)
class RealTime:
    """One client process dictating at real time."""

    policy: str
    audio_s: float
    steady_pct: float  # CPU percent of one core, startup and the last 5 s left out
    whole_pct: float  # the whole process, imports and shutdown included, over its wall time
    wall_s: float


def real_time(
    url: str, wav: Path, runs: Sequence[tuple[str, list[str]]], audio_s: float, mic: bool = False
) -> list[RealTime]:
    """Run one CLI client per (label, extra flags) at once; sample each one's CPU time. A
    label ending in ``@DIR`` runs the client of the tree in DIR (``--against``). ``mic``: each
    client listens to its own clocked virtual microphone (``tests/fakemic.py``: PortAudio
    over ALSA's file plugin, fed in real time from this process) playing the file, and is
    stopped with SIGINT once the audio is over."""
    policies = [label for label, _ in runs]
    audio = read_wav(wav).samples[:, 0]
    source = [] if mic else ["--input", str(wav), "--speed", "1"]
    with tempfile.TemporaryDirectory() as home, contextlib.ExitStack() as stack:
        env = clean_env() | {"XDG_CONFIG_HOME": home}

        def env_for() -> dict[str, str]:
            if not mic:
                return env
            own = Path(tempfile.mkdtemp(dir=home))  # one microphone session per runtime dir
            (own / "run").mkdir(mode=0o700)
            return (
                env
                | {"XDG_RUNTIME_DIR": str(own / "run")}
                | stack.enter_context(fake_mic(own, audio))
            )

        started = time.monotonic()
        procs = {
            policy: subprocess.Popen(
                [sys.executable, "-m", "vad_dictate", *source, "--url", url, "--quiet", *flags],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                env=env_for(),
                cwd=policy.rpartition("@")[2] if "@" in policy else ROOT,
            )
            for policy, flags in runs
        }
        samples: dict[str, list[tuple[float, int]]] = {p: [] for p in policies}
        floor = core = 0.0
        for mark in (SKIP_S, audio_s - SKIP_S):
            if samples[policies[0]] and not mic:  # in the window: measure the floor meanwhile
                window = audio[round(SKIP_S * RATE) : round(mark * RATE)]
                floor, core = asyncio.run(pacing_floor(window))
            time.sleep(max(0.0, started + mark - time.monotonic()))
            for policy, proc in procs.items():
                samples[policy].append((time.monotonic(), cpu_ticks(proc.pid)))
        out = []
        for proc in procs.values() if mic else ():
            os.kill(proc.pid, signal.SIGINT)  # a microphone never ends: stop as Ctrl-C does
        for policy, proc in procs.items():
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - started
            if status != 0:
                raise RuntimeError(f"the {policy} client exited with status {status}")
            (t0, c0), (t1, c1) = samples[policy]
            steady = 100 * (c1 - c0) / TICKS / (t1 - t0)
            whole = 100 * (usage.ru_utime + usage.ru_stime) / wall
            out.append(RealTime(policy, audio_s, steady, whole, wall))
        if mic:  # this process feeds the microphones: its own CPU is no floor
            return out
        out.append(RealTime("floor: asyncio loop only", audio_s, floor, float("nan"), 0.0))
        label = "pipeline core alone, one block per 20 ms wake"
        out.append(RealTime(label, audio_s, core, float("nan"), 0.0))
        return out


async def pacing_floor(audio: Int16Array) -> tuple[float, float]:
    """CPU percent of an event loop that only takes 20 ms blocks of ``audio`` and ticks every
    50 ms, and of the pipeline core pushing each block as it comes (in that loop, timed apart)."""
    source = PacedSource(audio)
    pipe = Pipeline(EndpointerSettings(), PipelineSettings(), 1, RATE)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.05)

    tick = asyncio.create_task(ticker())
    core = 0.0
    cpu0, t0 = time.process_time(), time.monotonic()
    async for block in source.blocks():
        c0 = time.thread_time()
        pipe.push(block.samples, block.captured_at)
        core += time.thread_time() - c0
    tick.cancel()
    wall = time.monotonic() - t0
    return 100 * (time.process_time() - cpu0 - core) / wall, 100 * core / wall


@dataclass(frozen=True, slots=True)
class Throughput:
    """How many times faster than real time."""

    policy: str
    audio_s: float
    capture_x: float  # the Session took every block: capture + VAD + gate + queue
    end_to_end_x: float  # every utterance acknowledged by the server
    core_x: float  # Pipeline.push alone
    client_cpu_s: float  # this process's CPU time during the Session run
    dropped_s: float


def core_speed(samples: Int16Array, policy: str) -> float:
    """Pipeline.push over 20 ms blocks, no I/O: multiples of real time."""
    pol: Policy = "always" if policy == "always" else "speech"
    pipe = Pipeline(EndpointerSettings(), PipelineSettings(policy=pol), 1, RATE)
    frames = samples.reshape(-1, 1)
    t0 = time.perf_counter()
    for start in range(0, len(frames), RATE // 50):
        pipe.push(frames[start : start + RATE // 50], 0.0)
    return len(samples) / RATE / (time.perf_counter() - t0)


async def _session_speed(url: str, samples: Int16Array, policy: str) -> tuple[float, ...]:
    source = PacedSource(samples, speed=0)
    audio_s = len(samples) / RATE
    # Retain everything: a server that falls behind must not cost audio in this run.
    options = session_options(
        url, policy=policy, ack_timeout=60.0, close_timeout=120.0, retain_s=audio_s + 60
    )
    session = Session(source, options, TimingSink(), quiet_status())
    cpu0 = time.process_time()
    await session.run()
    end, cpu = time.monotonic(), time.process_time() - cpu0
    capture = audio_s / (source.released[-1] - source.t0)
    return capture, audio_s / (end - source.t0), cpu, session.core.outbox.dropped_frames / RATE


def throughput(url: str, samples: Int16Array, policies: Sequence[str]) -> list[Throughput]:
    """Each policy in turn (they would compete for the cores if run together)."""
    out = []
    for policy in policies:
        capture, e2e, cpu, dropped = asyncio.run(_session_speed(url, samples, policy))
        core = core_speed(samples, policy)
        out.append(Throughput(policy, len(samples) / RATE, capture, e2e, core, cpu, dropped))
    return out


def measure(
    quick: bool = False, against: str | None = None, idle: bool = False, mic: bool = False
) -> tuple[list[RealTime], list[Throughput]]:
    """Real-time CPU over 60 s of audio (25 s quick), then throughput over 10x (2x) that."""
    policies = ("speech", "always")
    seconds = 25.0 if quick else 60.0
    with ServerProcess("tone") as server, tempfile.TemporaryDirectory() as tmp:
        audio = quiet_room(seconds) if idle else speech_audio(seconds)
        wav = write_wav(Path(tmp) / "speech.wav", audio)
        runs = [(p, ["--policy", p, "--turn", "silence"]) for p in policies]
        runs.append(("speech, turn smart (model)", ["--policy", "speech", "--turn", "smart"]))
        runs += [(f"{label} @{against}", flags) for label, flags in runs] if against else []
        rt = real_time(server.url, wav, runs, seconds, mic)
        if idle or mic:
            return rt, []
        long = np.tile(speech_audio(60.0), 2 if quick else 10)
        tp = throughput(server.url, long, policies)
    return rt, tp


def quiet_room(seconds: float) -> Int16Array:
    """Nobody speaks: pink noise about 60 dB below full scale (a quiet room's microphone)."""
    from tests.clips import colored_noise

    return np.round(colored_noise("pink", round(seconds * RATE), seed=7) * 30).astype(np.int16)


def dictation(against: str | None = None) -> list[RealTime]:
    """The turn benchmark's dictation set (98 s, 34 pauses that end a sentence or sit inside
    one) at real time, through the whole client, with the end-of-turn model and without."""
    from benchmarks.turn import dictation as dictation_track

    audio = dictation_track().audio
    seconds = len(audio) / RATE
    runs = [
        ("speech, turn smart (model)", ["--turn", "smart"]),
        ("speech, turn silence", ["--turn", "silence"]),
    ]
    runs += [(f"{label} @{against}", flags) for label, flags in runs] if against else []
    with ServerProcess("tone") as server, tempfile.TemporaryDirectory() as tmp:
        wav = write_wav(Path(tmp) / "dictation.wav", audio)
        return real_time(server.url, wav, runs, seconds)


def target(label: str) -> float:
    """CPU % of a core a client may use: 2 for VAD and transport, 3 with the turn model."""
    return 3.0 if "model" in label else 2.0


def summarize(rt: Sequence[RealTime], tp: Sequence[Throughput]) -> str:
    """Two tables: real-time CPU and throughput."""
    out = []
    if rt:
        rows = [
            [
                r.policy,
                f"{r.audio_s:.0f}",
                f"{r.steady_pct:.2f}%",
                "" if r.whole_pct != r.whole_pct else f"{r.whole_pct:.2f}%",
                "" if not r.wall_s else "met" if r.steady_pct < target(r.policy) else "MISSED",
            ]
            for r in rt
        ]
        window = f"client CPU, steady ({SKIP_S:g} s to end - {SKIP_S:g} s)"
        headers = ["policy", "audio s", window, "whole process"]
        out += [
            table([*headers, "target: < 2% (VAD + transport), < 3% (with the model)"], rows),
            "",
        ]
    if not tp:
        return "\n".join(out)
    rows2 = [
        [
            t.policy,
            f"{t.audio_s:.0f}",
            f"{t.capture_x:.0f}x",
            f"{t.end_to_end_x:.0f}x",
            f"{t.core_x:.0f}x",
            f"{t.client_cpu_s:.1f}",
            f"{t.dropped_s:g}",
        ]
        for t in tp
    ]
    out.append(
        table(
            [
                "policy",
                "audio s",
                "capture + VAD (Session)",
                "end to end (incl. server)",
                "pipeline core alone",
                "client CPU s",
                "dropped s",
            ],
            rows2,
        )
    )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.cpu [--quick]``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.cpu", description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--dictation",
        action="store_true",
        help="only the turn benchmark's dictation set at real time, smart turn against silence",
    )
    p.add_argument(
        "--against",
        metavar="DIR",
        help="run every client row also from the tree in DIR (e.g. a worktree of the commit "
        "before a change), side by side in the same run",
    )
    p.add_argument(
        "--idle", action="store_true", help="a quiet room where nobody speaks, instead of speech"
    )
    p.add_argument(
        "--mic",
        action="store_true",
        help="the clients listen to virtual microphones through PortAudio instead of a file",
    )
    args = p.parse_args(argv)
    if args.dictation:
        print(summarize(dictation(args.against), []))
    else:
        print(summarize(*measure(args.quick, args.against, args.idle, args.mic)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
