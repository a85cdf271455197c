"""Benchmark 5: endpointing quality per VAD engine and noise type.

``python -m benchmarks.endpointing`` prints a markdown table. The corpus is the five LibriVox
clips of ``tests/data/librivox`` (one sentence each, with ``.lab`` speech boundaries and
``.json`` word alignments) in shuffled rounds, joined with 0.7-1.5 s of digital silence, then
mixed with white, pink or brown noise at a given SNR (fixed seeds). SNR is the RMS of the
speech (the ``.lab`` spans) over the RMS of the noise.

Scoring (``tests/clips.py``, the same definitions as tests/vad/test_endpointing_quality.py):
- a detected utterance *matches* a true sentence when its span [onset, last speech] overlaps
  the sentence and its end (the Finalize) lies within ``END_TOLERANCE_MS`` (300 ms) of
  sentence end + silence_ms; each sentence matches at most one utterance, in order.
  Precision = matches / detected utterances, recall = matches / sentences, F1 their harmonic
  mean. A merge of two sentences, a split, a miss or a false utterance each cost a match.
  300 ms, because at 10 dB SNR the faint tails of some final words (clip 0920's "was") lie
  within snr_db of the noise floor, so the end comes up to 290 ms early (audio still streams
  for silence_ms after it, so no word is lost; Silero alone hears those tails but ends up to
  200 ms late elsewhere). ``F1@100`` uses 100 ms, issue 2's bound.
- boundary error: onset minus .lab start, and end minus (.lab end + silence_ms), of matches.
- cut words: aligned words not wholly inside one utterance's streamed span [start, end].
- false utterances per minute: utterances confirmed in noise alone, at the 10 dB SNR level.

"webrtcvad + noise floor, frame ends" is the default VAD under the end rule before sub-frame
ends (``benchmarks.end_timing.FrameEnds``): speech ends at the end of its last frame and the
utterance once silence_ms rounded up to whole frames has passed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace

from benchmarks.end_timing import FrameEnds
from tests.clips import (
    NOISES,
    RATE,
    Corpus,
    corpus,
    false_per_minute,
    mix,
    run,
    score,
    speech_rms,
)
from vad_dictate.vad.endpointer import Endpointer
from vad_dictate.vad.events import EndpointerSettings

Kind = type[Endpointer]


def _span(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):+.0f} .. {max(values):+.0f}"


def engines(settings: EndpointerSettings) -> list[tuple[str, EndpointerSettings, Kind]]:
    """The VADs compared: plain webrtcvad, webrtcvad + loudness rules (also under the frame-end
    rule), Silero if installed."""
    webrtc = replace(settings, engine="webrtcvad")
    out: list[tuple[str, EndpointerSettings, Kind]] = [
        ("webrtcvad alone", replace(settings, snr_db=0, drop_db=0), Endpointer),
        ("webrtcvad + noise floor", webrtc, Endpointer),
        ("webrtcvad + noise floor, frame ends", webrtc, FrameEnds),
    ]
    if silero_available():
        plain = replace(settings, engine="silero", snr_db=0, drop_db=0)
        out.append(("silero alone", plain, Endpointer))
        out.append(("silero + noise floor", replace(settings, engine="silero"), Endpointer))
    return out


def silero_available() -> bool:
    """True when the optional Silero engine can load (onnxruntime and silero-vad)."""
    try:
        from vad_dictate.vad.silero import SileroVad

        SileroVad(RATE)
    except Exception:
        return False
    return True


def rows(name: str, settings: EndpointerSettings, clean: Corpus, rule: Kind) -> list[str]:
    """Table rows of one VAD: every mixed condition, then noise alone."""
    level = speech_rms(clean) / 10 ** (10 / 20)
    out = []
    conditions: list[tuple[str, str | None, int]] = [("clean", None, 0)]
    conditions += [(f"{kind} {snr} dB", kind, snr) for kind in NOISES for snr in (20, 10)]
    for label, kind, snr in conditions:
        c = clean if kind is None else mix(clean, kind, snr)
        t0 = time.perf_counter()
        ends = run(c.audio, settings, rule)
        frames = len(c.audio) / RATE * 1000 / settings.frame_ms
        us = (time.perf_counter() - t0) / frames * 1e6
        s, tight = score(ends, c, settings), score(ends, c, settings, 100)
        out.append(
            f"| {name} | {label} | {s.f1:.3f} | {tight.f1:.3f} | "
            f"{s.matched}/{s.detected}/{s.sentences} | {_span(s.onset_errors_ms)} | "
            f"{_span(s.end_errors_ms)} | {s.cut_words} | - | {us:.0f} |"
        )
    for noise in NOISES:
        fpm = false_per_minute(noise, level, settings, rule)
        out.append(f"| {name} | {noise} noise alone | - | - | - | - | - | - | {fpm:.0f} | - |")
    return out


def table(settings: EndpointerSettings, rounds: int) -> str:
    """The markdown table: one row per VAD and condition."""
    clean = corpus(rounds)
    head = [
        "| VAD | audio | F1 | F1@100 | matched/detected/true | onset error ms | "
        "end error ms | cut words | false utt./min | µs/frame |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    body = [row for name, s, rule in engines(settings) for row in rows(name, s, clean, rule)]
    return "\n".join(head + body)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table for the default settings."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.endpointing", description=__doc__)
    p.add_argument("--rounds", type=int, default=3, help="passes over the five clips")
    p.add_argument("--aggressiveness", type=int, default=2)
    p.add_argument("--frame-ms", type=int, default=EndpointerSettings().frame_ms)
    p.add_argument("--silence-ms", type=int, default=700)
    args = p.parse_args(argv)
    settings = replace(
        EndpointerSettings(),
        aggressiveness=args.aggressiveness,
        frame_ms=args.frame_ms,
        silence_ms=args.silence_ms,
    )
    print(table(settings, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
