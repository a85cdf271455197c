"""Benchmark 6: turn taking on dictation-like speech: silence timers against the smart policy.

``python -m benchmarks.turn`` prints a markdown table. The set: the five LibriVox sentences of
``tests/data/librivox`` (each cut to its ``.lab`` span plus 0.2 s either side), every one with
one or two 0.6-1.2 s pauses inserted mid-phrase at word boundaries after function words
("the", "of", "to", "be", ...; seeded), and a one-word sentence cut from the alignments after
each; 1.5 s of silence between sentences; two shuffled rounds. Pauses are digital silence; the
whole track gets pink noise 45 dB below the speech (a quiet room), so pauses are not exact zeros.

Each row runs the real :class:`Pipeline` over the track in the microphone's 20 ms blocks, in one
process:
- the model (smart-turn v3.2) runs synchronously on each ScoreTurn, its wall time measured,
  and its answer is delivered at the first block captured after request + that time, as the
  client's worker would deliver it; a request the pipeline cancels (CancelScore: speech
  resumed, or the words ended the utterance) before its answer is due is stopped by the client's
  worker that much time into the call, so its CPU is counted as that of a real call stopped
  after that much wall time (re-run after the pass with a timer calling its Stop);
- interim transcripts are simulated as Deepgram-like: one per ``--interim-s`` of audio
  inside an utterance, arriving ``--lag-s`` after the audio it covers, holding the true words
  heard so far with a "." after a sentence's last word (perfect punctuation: optimistic).

Columns: mid-phrase cut rate (inserted pauses with a Finalize inside them); lines split
mid-phrase (inserted pauses with a line break in the printed text: each Finalize's words come back
``--reply-ms`` later as a punctuating server would finalize them, a full stop at the end, and go
through the client's :class:`LineJoiner`, which holds an utterance cut after "the", "from", ...
and joins it to the next); sentence end -> Finalize lag (true .lab end to the capture time of the
block that sent it; the one-word sentences included); sentence end -> printed line (to when the
line holding the sentence's last word is printed); one-word sentences sent and finalized on their
own; words lost (aligned words not wholly inside a streamed utterance); CPU of this process per
second of audio (process time: endpointer, pipeline and model), in % of one core.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from tests.clips import DATA, RATE, clips, colored_noise, lab, load, to_int16
from vad_dictate.audio.block import Int16Array
from vad_dictate.client.assembler import Committed, UtteranceInfo
from vad_dictate.client.lines import LineJoiner
from vad_dictate.client.pipeline import CancelScore, Pipeline, PipelineSettings, SendFinalize
from vad_dictate.vad.events import EndpointerSettings
from vad_dictate.vad.melspec import log_mel, padded_window
from vad_dictate.vad.smart_turn import NORMALISE_EPS, WINDOW_S, SmartTurn, Stop, Stopped
from vad_dictate.vad.turn import HOLD_WORDS, TurnSettings

BLOCK = RATE * 20 // 1000  # MicSource's block
SENTENCE_GAP_S = 1.5
EDGE_S = 0.2
ROOM_DB = 45


@dataclass
class Track:
    """The dictation audio and its truth, in samples."""

    audio: Int16Array
    words: list[tuple[int, int, str, int]] = field(
        default_factory=list
    )  # begin, end, text, sentence
    sentence_ends: list[int] = field(default_factory=list)
    one_word: list[int] = field(default_factory=list)  # indexes of one-word sentences
    pauses: list[tuple[int, int]] = field(default_factory=list)  # inserted mid-phrase pauses


def aligned(stem: str) -> list[tuple[float, float, str]]:
    """(begin, end, word) seconds of a clip's aligned words, alternate marks removed."""
    rows = json.loads((DATA / f"{stem}.json").read_text())["w"]
    return [(w["b"], w["b"] + w["d"], w["t"].split("(")[0]) for w in rows if w["t"][0] != "<"]


def dictation(rounds: int = 2, seed: int = 3) -> Track:
    """The benchmark's track (see the module docstring)."""
    rng = np.random.default_rng(seed)
    parts: list[Int16Array] = [np.zeros(RATE, dtype=np.int16)]
    track, pos = Track(np.zeros(0, dtype=np.int16)), RATE

    def add(audio: Int16Array, words: list[tuple[float, float, str]], cuts: set[int]) -> None:
        nonlocal pos
        sentence, offset = len(track.sentence_ends), 0
        for i, (b, e, text) in enumerate(words):
            track.words.append(
                (pos + round(b * RATE) + offset, pos + round(e * RATE) + offset, text, sentence)
            )
            if i in cuts:
                cut = round(e * RATE)
                gap = round(rng.uniform(0.6, 1.2) * RATE)
                at = pos + cut + offset
                track.pauses.append((at, at + gap))
                audio = np.concatenate(
                    [audio[: cut + offset], np.zeros(gap, np.int16), audio[cut + offset :]]
                )
                offset += gap
        track.sentence_ends.append(track.words[-1][1])
        parts.extend([audio, np.zeros(round(SENTENCE_GAP_S * RATE), dtype=np.int16)])
        pos += len(audio) + len(parts[-1])

    for _ in range(rounds):
        for i in rng.permutation(len(clips())):
            stem = clips()[i]
            audio, (t0, t1), words = load(stem), lab(stem), aligned(stem)
            lo, hi = max(0.0, t0 - EDGE_S), t1 + EDGE_S
            clip = audio[round(lo * RATE) : round(hi * RATE)]
            shifted = [(b - lo, e - lo, w) for b, e, w in words]
            holds = [k for k, (_, _, w) in enumerate(shifted[:-1]) if w in HOLD_WORDS and k > 0]
            cuts = set(
                rng.choice(
                    holds, size=min(len(holds), int(rng.integers(1, 3))), replace=False
                ).tolist()
            )
            add(clip, shifted, cuts)
            b, e, w = shifted[int(rng.integers(0, len(shifted)))]
            one = clip[max(0, round((b - 0.05) * RATE)) : round((e + 0.05) * RATE)]
            track.one_word.append(len(track.sentence_ends))
            add(one, [(0.05, 0.05 + e - b, w)], set())
    audio = np.concatenate(parts)
    speech = np.sqrt(np.mean(audio[audio != 0].astype(np.float64) ** 2))
    room = colored_noise("pink", len(audio), seed=11) * speech / 10 ** (ROOM_DB / 20)
    track.audio = to_int16(audio + room)
    return track


@dataclass
class Row:
    """One configuration's results."""

    name: str
    cuts: int
    pauses: int
    splits: int
    lags_ms: list[float]
    one_word_sent: int
    one_word_total: int
    words_lost: int
    cpu_pct: float
    model_ms: list[float]
    line_cuts: int  # inserted pauses with a line break in the printed text
    line_lags_ms: list[float]  # sentence end -> the line holding its last word is printed
    stopped: int  # model calls stopped part way (speech resumed before the answer)


def interim_text(track: Track, start: int, upto: int) -> str:
    """The words of the utterance that began at ``start`` heard by ``upto``, punctuated."""
    heard = [w for w in track.words if w[0] >= start - BLOCK and w[1] <= upto]
    if not heard:
        return ""
    text = " ".join(w[2] for w in heard)
    last = heard[-1]
    return text + "." if last[1] == track.sentence_ends[last[3]] else text


def server_finals(track: Track, endpointing_ms: int, lag_s: float) -> list[tuple[int, int]]:
    """(due sample, covers) of the finals a server sends ``endpointing_ms`` into each pause."""
    if endpointing_ms <= 0:
        return []
    wait, lag = RATE * endpointing_ms // 1000, round(lag_s * RATE)
    begins = [w[0] for w in track.words[1:]] + [len(track.audio)]
    return [
        (e + wait + lag, e + wait)
        for (_, e, _, _), b in zip(track.words, begins, strict=True)
        if b - e > wait
    ]


@dataclass
class Asked:
    """A model call whose answer has not been delivered yet."""

    due: int  # the sample at whose block the answer arrives
    channel: int
    token: int
    probability: float
    asked: int  # the sample at which it was asked
    cpu: float  # CPU seconds the whole call took
    audio: Int16Array
    stopped_at: int = 0  # the sample at which the pipeline cancelled it


@dataclass
class Pass:
    """One run over the track."""

    finals: list[SendFinalize]
    calls: list[float]  # wall ms of every call, each run to its end here
    cpu: float  # CPU seconds, stopped calls counted as stopped
    stopped: int  # calls stopped before their answer


class WholeWindow:
    """The model as it ran before: the FFT of all 800 frames, padding included, each call."""

    def __init__(self, model: SmartTurn) -> None:
        self.model = model

    def score(self, audio: Int16Array, stop: Stop | None = None) -> float:
        n = WINDOW_S * RATE
        window = padded_window(audio[-n:].astype(np.float32) / 32768.0, n, NORMALISE_EPS)
        return self.model.score_features(log_mel(window)[np.newaxis], stop)


def stopped_cpu(scorer: SmartTurn | WholeWindow, audio: Int16Array, after_s: float) -> float:
    """CPU seconds of a call that the worker stops ``after_s`` seconds after it began."""
    stop = Stop()
    timer = threading.Timer(after_s, stop)
    cpu0 = time.process_time()
    timer.start()
    with contextlib.suppress(Stopped):
        scorer.score(audio, stop)
    timer.cancel()
    return time.process_time() - cpu0


def run(
    track: Track,
    endpointer: EndpointerSettings,
    turn: TurnSettings | None,
    scorer: SmartTurn | WholeWindow | None,
    interim_s: float,
    lag_s: float,
    endpointing_ms: int = 0,
    model_ms: float | None = None,
    stop_stale: bool = True,
) -> Pass:
    """Every Finalize of one pass, the model's call times and the CPU seconds used."""
    pipeline = Pipeline(endpointer, PipelineSettings(), 1, RATE, turn, scorer is not None)
    finals: list[SendFinalize] = []
    answers: list[Asked] = []
    stopped: list[Asked] = []
    interims: list[tuple[int, int]] = []  # due sample, covers
    finals_due = server_finals(track, endpointing_ms, lag_s)
    calls: list[float] = []
    next_interim, ep = 0, pipeline.endpointers[0]
    cpu0 = time.process_time()
    for pos in range(0, len(track.audio) - BLOCK + 1, BLOCK):
        now = pos + BLOCK
        out = list(pipeline.push(track.audio[pos:now, np.newaxis], now / RATE))
        for req in pipeline.score_requests():
            if isinstance(req, CancelScore):
                if not stop_stale:
                    continue  # the call runs to its end; the pipeline drops its answer
                stopped += [replace(a, stopped_at=now) for a in answers if a.token == req.token]
                answers = [a for a in answers if a.token != req.token]
                continue
            c0, t0 = time.process_time(), time.perf_counter()
            p = scorer.score(req.audio) if scorer else 0.0
            took, cpu = time.perf_counter() - t0, time.process_time() - c0
            calls.append(took * 1000)
            took = took if model_ms is None else model_ms / 1000
            due = now + round(took * RATE)
            answers.append(Asked(due, req.channel, req.token, p, now, cpu, req.audio))
        for a in [a for a in answers if a.due <= now]:
            out += pipeline.turn_scored(a.channel, a.token, a.probability, now / RATE)
        answers = [a for a in answers if a.due > now]
        if ep.confirmed and now >= next_interim:
            interims.append((now + round(lag_s * RATE), now))
            next_interim = now + round(interim_s * RATE)
        elif not ep.confirmed:
            next_interim = now + round(interim_s * RATE)
        while finals_due and finals_due[0][0] <= now:
            interims.append(finals_due.pop(0))
        for _due, covers in sorted(i for i in interims if i[0] <= now):
            text = interim_text(track, ep.utterance_start, covers)
            out += pipeline.heard(0, text, covers, now / RATE)
        interims = [i for i in interims if i[0] > now]
        finals += [o for o in out if isinstance(o, SendFinalize)]
    finals += [o for o in pipeline.force_end("end", 0.0) if isinstance(o, SendFinalize)]
    cpu = time.process_time() - cpu0
    cpu -= sum(a.cpu for a in stopped)  # each ran to its end above; the worker stops it part way
    if scorer is not None:
        cpu += sum(stopped_cpu(scorer, a.audio, (a.stopped_at - a.asked) / RATE) for a in stopped)
    return Pass(finals, calls, cpu, len(stopped))


def final_text(track: Track, indexes: list[int]) -> str:
    """What a punctuating server finalizes for these words: capital first, a full stop after
    each sentence's last word and at the end (as Deepgram ends a finalized segment)."""
    words = []
    for i in indexes:
        _, end, text, sentence = track.words[i]
        words.append(text + "." if end == track.sentence_ends[sentence] else text)
    text = " ".join(words)
    text = text[:1].upper() + text[1:]
    return text if not text or text.endswith(".") else text + "."


def printed_lines(
    track: Track, finals: list[SendFinalize], reply_ms: float, release_ms: int
) -> list[tuple[int, list[int]]]:
    """(sample when printed, word indexes) of each line the client prints: every Finalize's
    words come back ``reply_ms`` later and go through the client's :class:`LineJoiner`."""
    reply = round(reply_ms * RATE / 1000)
    mids = [(b + e) // 2 for b, e, _, _ in track.words]
    replies: list[tuple[int, Committed, list[int]]] = []
    for seq, f in enumerate(finals, 1):
        sp = f.speech
        idx = [i for i, m in enumerate(mids) if sp.start <= m < sp.end]
        times = (sp.start / RATE, sp.last_speech / RATE)
        info = UtteranceInfo(0, *times, sp.trigger, last_speech_at=times[1], seq=seq)
        replies.append((sp.end + reply, Committed(info, final_text(track, idx), "ack"), idx))
    spans = [(f.speech.start, f.speech.end + reply) for f in finals]
    joiner, held, lines = LineJoiner(release_ms / 1000), [], []
    last = max([len(track.audio), *(r[0] for r in replies)]) + RATE * 3
    events: list[tuple[int, Committed | None, list[int]]] = [*replies]
    events += [(t, None, []) for t in range(0, last, BLOCK)]  # the client's clock ticks
    for now, item, idx in sorted(events, key=lambda e: (e[0], e[1] is None)):
        if item is not None:  # a final result arrives: print, join or hold
            held += idx
            done = joiner.add(item)
        else:
            busy = {0} if any(a <= now < b for a, b in spans) else set()
            done = joiner.tick(now / RATE, busy)
        if done:
            lines.append((now, held))
            held = []
    if joiner.flush():
        lines.append((last, held))
    return lines


def _sentences(track: Track) -> list[list[tuple[int, int, str, int]]]:
    out: list[list[tuple[int, int, str, int]]] = [[] for _ in track.sentence_ends]
    for w in track.words:
        out[w[3]].append(w)
    return out


def judge(name: str, track: Track, done: Pass, lines: list[tuple[int, list[int]]]) -> Row:
    """Score one pass against the truth."""
    finals = done.finals
    line_of = {i: k for k, (_, idx) in enumerate(lines) for i in idx}
    ends_at = {e: i for i, (_, e, _, _) in enumerate(track.words)}
    line_cuts = sum(
        1 for a, _ in track.pauses if line_of.get(ends_at[a]) != line_of.get(ends_at[a] + 1)
    )
    line_lags = [
        (lines[line_of[ends_at[s]]][0] - s) * 1000 / RATE
        for s in track.sentence_ends
        if ends_at[s] in line_of
    ]
    spans = [(f.speech.start, f.speech.end) for f in finals]
    ends = sorted(e for _, e in spans)
    cuts = sum(1 for a, b in track.pauses if any(a <= e < b for e in ends))
    inside = [(ws[0][0], ws[-1][1]) for ws in _sentences(track)]
    splits = sum(
        1
        for e in ends
        if any(lo < e < hi for lo, hi in inside) and not any(a <= e < b for a, b in track.pauses)
    )
    lags = []
    for s in track.sentence_ends:
        after = [e for e in ends if e >= s]
        if after:
            lags.append((after[0] - s) * 1000 / RATE)
    one = 0
    for k in track.one_word:
        word = next(w for w in track.words if w[3] == k)
        prev_end = track.sentence_ends[k - 1] if k else 0
        nxt = next((w[0] for w in track.words if w[3] == k + 1), len(track.audio))
        if any(a <= word[0] and word[1] <= b and b < nxt for a, b in spans) and any(
            prev_end <= e <= word[0] for e in [*ends, 0]
        ):
            one += 1
    lost = sum(1 for b, e, _, _ in track.words if not any(x <= b and e <= y for x, y in spans))
    seconds = len(track.audio) / RATE
    return Row(
        name,
        cuts,
        len(track.pauses),
        splits,
        lags,
        one,
        len(track.one_word),
        lost,
        100 * done.cpu / seconds,
        done.calls,
        line_cuts,
        line_lags,
        done.stopped,
    )


def _pct(values: Sequence[float], q: float) -> str:
    return f"{np.percentile(values, q):.0f}" if len(values) else "-"


def table(rows: Sequence[Row]) -> str:
    """The markdown table."""
    out = [
        "| turn | mid-phrase cut (Finalize) | lines split mid-phrase | other splits "
        "| sentence end -> Finalize p50 / p95 ms | -> printed line p50 / p95 ms "
        "| one-word sent alone | words lost | CPU % of a core "
        "| model calls (stopped part way): p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = max(1, r.pauses)
        out.append(
            f"| {r.name} | {r.cuts}/{r.pauses} ({100 * r.cuts / n:.0f}%) | "
            f"{r.line_cuts}/{r.pauses} ({100 * r.line_cuts / n:.0f}%) | {r.splits} | "
            f"{_pct(r.lags_ms, 50)} / {_pct(r.lags_ms, 95)} | "
            f"{_pct(r.line_lags_ms, 50)} / {_pct(r.line_lags_ms, 95)} | "
            f"{r.one_word_sent}/{r.one_word_total} | {r.words_lost} | {r.cpu_pct:.2f} | "
            f"{len(r.model_ms)} ({r.stopped}): {_pct(r.model_ms, 50)} / {_pct(r.model_ms, 95)} |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the side-by-side table."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.turn", description=__doc__)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--interim-s", type=float, default=1.0, help="audio per simulated interim")
    p.add_argument("--lag-s", type=float, default=0.3, help="delay of a simulated interim")
    p.add_argument(
        "--reply-ms", type=float, default=10.0, help="Finalize -> its final result arrives"
    )
    p.add_argument(
        "--endpointing-ms",
        type=int,
        default=300,
        help="the server's own final this far into each pause (deepgram.endpointing; 0: none)",
    )
    p.add_argument(
        "--model-ms",
        type=float,
        default=None,
        help="deliver each answer this long after its request, not after the measured call",
    )
    p.add_argument("--rows", default="", help="only the rows whose name contains this")
    p.add_argument(
        "--repeat", type=int, default=1, help="passes of the smart rows; CPU is their median"
    )
    d = TurnSettings()
    for key in ("ask_ms", "early_ms", "ceiling_ms"):
        p.add_argument("--" + key.replace("_", "-"), type=int, default=getattr(d, key))
    p.add_argument("--threshold", type=float, default=d.threshold)
    args = p.parse_args(argv)
    smart = TurnSettings(
        ask_ms=args.ask_ms,
        early_ms=args.early_ms,
        ceiling_ms=args.ceiling_ms,
        threshold=args.threshold,
    )
    track = dictation(args.rounds)
    base = EndpointerSettings()
    rows = []
    for ms in (300, 700, 1200):
        if args.rows in (name := f"silence {ms}"):
            done = run(track, replace(base, silence_ms=ms), None, None, args.interim_s, args.lag_s)
            lines = printed_lines(track, done.finals, args.reply_ms, smart.ceiling_ms)
            rows.append(judge(name, track, done, lines))
    model = SmartTurn()
    before = "smart, as before: FFT of the whole window, stale calls run to their end"
    passes: dict[str, list[Pass]] = {}
    for _ in range(args.repeat):  # interleaved, so that a busy spell hits every row alike
        for name, scorer, lag, ep_ms, stop in (
            ("smart (model + words)", model, args.lag_s, args.endpointing_ms, True),
            (before, WholeWindow(model), args.lag_s, args.endpointing_ms, False),
            ("smart, words only (no model)", None, args.lag_s, args.endpointing_ms, True),
            ("smart, model only (no words)", model, 1e6, 0, True),
        ):
            if args.rows in name:
                passes.setdefault(name, []).append(
                    run(track, base, smart, scorer, args.interim_s, lag, ep_ms, args.model_ms, stop)
                )
    for name, all_passes in passes.items():  # the first pass, with the median CPU of all
        median = replace(all_passes[0], cpu=float(np.median([d.cpu for d in all_passes])))
        lines = printed_lines(track, median.finals, args.reply_ms, smart.ceiling_ms)
        rows.append(judge(name, track, median, lines))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
