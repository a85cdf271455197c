"""Benchmark 4: billed audio, streaming policy ``speech`` versus ``always``.

Each corpus is dictated through the real :class:`~vad_dictate.app.Session` under both
policies against a local server in its own process: the LibriVox clips joined with
natural pauses (pocketsphinx engine, the offline transcript) and tone speech with the
same pauses (tone engine, whose words are known exactly). Audio is released as fast
as possible: what is sent and what is recognised do not depend on pacing, and the
acknowledgement timeout is long enough that no utterance is committed before the
server has answered.

"Sent" is what the pipeline put on the wire plus the 100 ms of silence that opens
every connection; "billed" is the duration the server's closing Metadata reports.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.latency import (
    RATE,
    ROOT,
    PacedSource,
    Script,
    ServerProcess,
    TimingSink,
    WireRecorder,
    quiet_status,
    session_options,
    table,
    tone_script,
)
from tests.words import edit_distance, normalize, word_error_rate
from vad_dictate.audio.block import Int16Array
from vad_dictate.audio.files import read_wav
from vad_dictate.client.core import CONNECT_SILENCE_MS
from vad_dictate.client.session import Session
from vad_dictate.engines.tone import silence

CLIPS = sorted((ROOT / "tests" / "data" / "librivox").glob("*.wav"))
PAUSES_S = (0.7, 3.0)  # between sentences of dictation; savings scale with these


@dataclass(frozen=True, slots=True)
class Corpus:
    """Audio to dictate and the words in it."""

    name: str
    samples: Int16Array
    reference: str


def librivox(repeats: int = 2, seed: int = 7, pause_s: tuple[float, float] = PAUSES_S) -> Corpus:
    """The LibriVox clips ``repeats`` times over, joined with seeded pauses."""
    rng = random.Random(seed)
    parts, words = [silence(1.0)], []
    for i in range(repeats * len(CLIPS)):
        clip = CLIPS[i % len(CLIPS)]
        if i:
            parts.append(silence(rng.uniform(*pause_s)))
        wav = read_wav(clip)
        assert wav.sample_rate == RATE and wav.channels == 1
        parts.append(wav.samples[:, 0])
        words.append(clip.with_suffix(".txt").read_text().strip())
    parts.append(silence(2.0))
    return Corpus("LibriVox (pocketsphinx)", np.concatenate(parts), " ".join(words))


def tones(n: int = 20, seed: int = 7, pause_s: tuple[float, float] = PAUSES_S) -> Corpus:
    """Tone utterances with the same pauses: the transcript is known exactly."""
    script: Script = tone_script(n, seed, pause_s)
    text = " ".join(u.text for u in script.utterances)
    return Corpus("tone speech (tone engine)", script.samples, text)


@dataclass(frozen=True, slots=True)
class Billing:
    """One corpus dictated under one policy."""

    corpus: str
    policy: str
    captured_s: float
    sent_s: float  # pipeline audio + connect silence
    billed_s: float  # the server's Metadata duration
    transcript: str
    dropped_s: float


async def dictate(url: str, corpus: Corpus, policy: str) -> Billing:
    """Dictate ``corpus`` at full speed under ``policy``; count what went on the wire."""
    source = PacedSource(corpus.samples, speed=0)
    sink, recorder = TimingSink(), WireRecorder()
    retain = len(corpus.samples) / RATE + 60  # a busy server must not cost audio here
    options = session_options(
        url, policy=policy, ack_timeout=60.0, close_timeout=120.0, retain_s=retain
    )
    session = Session(source, options, sink, quiet_status(), recorder)
    await session.run()
    pipe = session.core.pipeline
    connect_s = session.core.connections * CONNECT_SILENCE_MS / 1000
    return Billing(
        corpus.name,
        policy,
        pipe.captured_frames / RATE,
        pipe.sent_frames_total / RATE + connect_s,
        recorder.metadata_s,
        " ".join(line.text for line in sink.lines),
        session.core.outbox.dropped_frames / RATE,
    )


async def _both(url: str, corpus: Corpus) -> list[Billing]:
    return list(await asyncio.gather(*(dictate(url, corpus, p) for p in ("speech", "always"))))


def measure(quick: bool = False) -> tuple[list[Corpus], list[Billing]]:
    """Both corpora under both policies."""
    corpora = [librivox(1 if quick else 2), tones(8 if quick else 20)]
    results: list[Billing] = []
    with ServerProcess("pocketsphinx") as sphinx:
        results += asyncio.run(_both(sphinx.url, corpora[0]))
    with ServerProcess("tone") as tone:
        results += asyncio.run(_both(tone.url, corpora[1]))
    return corpora, results


def summarize(corpora: Sequence[Corpus], results: Sequence[Billing]) -> str:
    """Billing table, then the no-lost-words proof per corpus."""
    rows: list[list[object]] = []
    for r in results:
        share = f"{100 * r.billed_s / r.captured_s:.0f}%"
        rows.append(
            [r.corpus, r.policy, r.captured_s, r.sent_s, r.billed_s, share, f"{r.dropped_s:g}"]
        )
    headers = ["corpus", "policy", "captured s", "sent s", "billed s (Metadata)"]
    out = [table([*headers, "billed / captured", "dropped s"], rows)]
    out += ["", table(["corpus", "check", "result"], _proof_rows(corpora, results))]
    return "\n".join(out)


def _proof_rows(corpora: Sequence[Corpus], results: Sequence[Billing]) -> list[list[object]]:
    rows: list[list[object]] = []
    for corpus in corpora:
        by = {r.policy: r for r in results if r.corpus == corpus.name}
        speech, always = normalize(by["speech"].transcript), normalize(by["always"].transcript)
        ref = normalize(corpus.reference)
        same = "identical" if speech == always else f"differ ({_diff_words(speech, always)})"
        rows.append([corpus.name, "transcript speech vs always", same])
        counts = f"{len(speech)} / {len(always)} / {len(ref)}"
        rows.append([corpus.name, "words (speech / always / reference)", counts])
        wer = f"{word_error_rate(ref, speech):.3f} / {word_error_rate(ref, always):.3f}"
        rows.append([corpus.name, "WER vs reference (speech / always)", wer])
    return rows


def _diff_words(a: Sequence[str], b: Sequence[str]) -> str:
    return f"{edit_distance(a, b)} word edits"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.billing [--quick]``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.billing", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller corpora")
    args = p.parse_args(argv)
    print(summarize(*measure(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
