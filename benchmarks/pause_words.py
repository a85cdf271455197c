"""Benchmark 8: could the offline server's early decode tell a pause that ends a sentence?

``python -m benchmarks.pause_words`` prints a markdown table. The local Whisper server starts
an utterance's final decode 150 ms into every pause (``WhisperRecognizer.pause``), so it has
the words up to the pause about one decode later, long before its own endpointing or the 1.3 s
ceiling. Sent as an interim, those words would let the client's word rule
(:func:`~vad_dictate.vad.turn.sounds_finished`) end a pause that the end-of-turn model was
unsure of. This measures what the rule would say.

The audio is the turn benchmark's dictation track (:func:`benchmarks.turn.dictation`: the
LibriVox sentences with 0.6-1.2 s pauses inserted after function words, one-word sentences,
1.5 s between sentences). At every inserted pause and every sentence end, Whisper decodes the
sentence from 0.3 s before its first word up to 150 ms past the pause, as the early decode
would, and the rule judges the text. A good signal says "finished" at sentence ends and never
at inserted pauses.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.turn import Track, dictation
from tests.clips import RATE
from vad_dictate.engines.base import RecognizerOptions
from vad_dictate.engines.whisper import WhisperEngine
from vad_dictate.vad.turn import sounds_finished

LEAD_S = 0.3  # audio kept before a sentence's first word
PAUSE_S = 0.15  # the server's early decode starts this far into a pause


@dataclass(frozen=True, slots=True)
class Point:
    """A place in the track where speech pauses, and what the decode and the rule said."""

    kind: str  # "pause" (inserted mid-phrase) or "end" (of a sentence)
    at: int  # sample of the last word's end
    text: str
    verdict: bool | None  # sounds_finished(text)


def points(track: Track) -> list[tuple[str, int, int]]:
    """(kind, sample where speech pauses, sample where its sentence starts), in track order."""
    starts: dict[int, int] = {}
    ends = {end: sentence for _, end, _, sentence in track.words}
    for begin, _, _, sentence in track.words:
        starts.setdefault(sentence, begin)
    found = [("pause", at, starts[ends[at]]) for at, _ in track.pauses]
    found += [("end", at, starts[s]) for s, at in enumerate(track.sentence_ends)]
    return sorted(found, key=lambda p: p[1])


def judge(engine: WhisperEngine, track: Track, limit: int | None = None) -> list[Point]:
    """Decode and judge every point (the first ``limit`` of them)."""
    out = []
    for kind, at, start in points(track)[:limit]:
        lo = max(0, start - round(LEAD_S * RATE))
        audio = track.audio[lo : at + round(PAUSE_S * RATE)].astype(np.float32) / 32768.0
        words = engine.decode(audio, 0.0, RecognizerOptions())
        text = " ".join(w.punctuated or w.text for w in words)
        out.append(Point(kind, at, text, sounds_finished(text)))
    return out


def summarize(found: list[Point]) -> str:
    """The markdown table: per kind of pause, how often the rule says each thing."""
    lines = [
        "| pause | points | says finished | says not yet | no sign (or no words) |",
        "|---|---|---|---|---|",
    ]
    for kind, name in (("pause", "inserted mid-phrase"), ("end", "end of a sentence")):
        said = Counter(p.verdict for p in found if p.kind == kind)
        total = sum(said.values())
        lines.append(f"| {name} | {total} | {said[True]} | {said[False]} | {said[None]} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table (``--show``: every decode's text too)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.pause_words", description=__doc__)
    p.add_argument("--rounds", type=int, default=2, help="rounds of the dictation track")
    p.add_argument("--show", action="store_true", help="print each decode's text")
    args = p.parse_args(argv)
    found = judge(WhisperEngine(), dictation(rounds=args.rounds))
    if args.show:
        for point in found:
            print(f"{point.kind:5s} {point.verdict!s:5s} {point.text[-70:]!r}")
    print(summarize(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
