"""Benchmark 7: end of speech -> Finalize overhead of the client, per VAD frame length.

``python -m benchmarks.end_timing`` prints a markdown table. Tone utterances with exact ends
(``benchmarks.latency.tone_script``: 1-4 tone words, 1.6-2.4 s pauses, seeded) and the
LibriVox sentences (``.lab`` ends, 0.7-1.5 s pauses), each with pink room noise 45 dB under
the speech (``--room-db``), go through the real :class:`Pipeline` in the microphone's 20 ms
blocks. For every utterance the VAD ends, the overhead is

    (end of the block that returned the Finalize) + (time that push took)
        - (true end of speech + silence_ms)

so it counts what the detector adds (where it puts the end of speech against the true end, and
the rounding of silence_ms to a frame boundary), the wait for the capture block that completes
the deciding frame, and the client's own processing; not the network or the server. The
LibriVox ends are forced alignments, so their rows also hold the aligner's and the level rule's
disagreement about where a fading word ends (negative: the VAD ended early, as README's quality
table says).

Each frame length runs twice: "sub-frame" is the endpointer as it is (speech ends at the last
5 ms sub-block above the level rules; the frame boundary nearest the end + silence_ms ends the
utterance), "frame ends" the rule before it (:class:`FrameEnds`: speech ends at the end of the
last speech frame; silence_ms rounded up to whole frames).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from benchmarks.latency import tone_script
from tests.clips import RATE, colored_noise, corpus, to_int16
from vad_dictate.audio.block import Int16Array
from vad_dictate.client.pipeline import Pipeline, PipelineSettings, SendFinalize
from vad_dictate.vad.endpointer import Endpointer
from vad_dictate.vad.events import EndpointerSettings

BLOCK = RATE * 20 // 1000  # MicSource's block
ROOM_DB = 45


def with_room(audio: Int16Array, seed: int, room_db: float = ROOM_DB) -> Int16Array:
    """``audio`` plus pink noise ``room_db`` under its speech."""
    speech = np.sqrt(np.mean(audio[audio != 0].astype(np.float64) ** 2))
    room = colored_noise("pink", len(audio), seed=seed) * speech / 10 ** (room_db / 20)
    return to_int16(audio + room)


class FrameEnds(Endpointer):
    """The rule before sub-frame ends, for comparison: speech ends at the last speech frame's
    end, and the utterance once silence_ms rounded up to whole frames has passed since."""

    def _speech_end(self, frame_start: int) -> int:
        return frame_start

    def _silence_over(self) -> bool:
        frames = -(-self.settings.silence_ms // self.settings.frame_ms)
        return self._seen - self._last_speech >= frames * self._frame


def overheads(
    audio: Int16Array, ends: Sequence[int], settings: EndpointerSettings, old: bool = False
) -> list[float]:
    """Overhead (ms) of each utterance the VAD ended within 300 ms of a true end + silence_ms."""
    pipeline = Pipeline(settings, PipelineSettings(), 1, RATE)
    if old:
        pipeline.endpointers = [FrameEnds(settings, RATE)]
    wait = RATE * settings.silence_ms // 1000
    out = []
    for pos in range(0, len(audio) - BLOCK + 1, BLOCK):
        t0 = time.perf_counter()
        sent = pipeline.push(audio[pos : pos + BLOCK, np.newaxis], 0.0)
        took_ms = (time.perf_counter() - t0) * 1000
        for f in sent:
            if not isinstance(f, SendFinalize) or f.speech.trigger != "vad":
                continue
            due = [e + wait for e in ends if abs(pos + BLOCK - e - wait) < RATE * 3 // 10]
            if due:
                out.append((pos + BLOCK - due[0]) * 1000 / RATE + took_ms)
    return out


def row(name: str, values: Sequence[float], total: int) -> str:
    """One table row: utterances matched, p50 / p95 / max overhead."""
    if not values:
        return f"| {name} | 0/{total} | - | - |"
    p50, p95, top = np.percentile(values, 50), np.percentile(values, 95), max(values)
    return f"| {name} | {len(values)}/{total} | {p50:.1f} / {p95:.1f} | {top:.1f} |"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table: tone and LibriVox, each VAD frame length, both end rules."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.end_timing", description=__doc__)
    p.add_argument("--utterances", type=int, default=60, help="tone utterances")
    p.add_argument("--rounds", type=int, default=4, help="passes over the five LibriVox clips")
    p.add_argument("--silence-ms", type=int, default=700)
    p.add_argument("--room-db", type=float, default=ROOM_DB, help="pink noise this far down")
    args = p.parse_args(argv)
    script = tone_script(args.utterances, seed=5)
    tone = with_room(script.samples, 7, args.room_db)
    tone_ends = [u.end for u in script.utterances]
    clean = corpus(args.rounds)
    libri = with_room(clean.audio, 8, args.room_db)
    libri_ends = [e for _, e in clean.sentences]
    lines = [
        "| audio, VAD frame | utterances | overhead p50 / p95 ms | max ms |",
        "|---|---|---|---|",
    ]
    for frame_ms in (30, 20, 10):
        settings = replace(EndpointerSettings(), frame_ms=frame_ms, silence_ms=args.silence_ms)
        for old in (True, False):
            rule = "frame ends" if old else "sub-frame"
            for name, audio, ends in (("tone", tone, tone_ends), ("LibriVox", libri, libri_ends)):
                values = overheads(audio, ends, settings, old)
                default = " (default)" if frame_ms == EndpointerSettings().frame_ms else ""
                lines.append(row(f"{name}, {frame_ms} ms{default}, {rule}", values, len(ends)))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
