"""Smoke tests: each benchmark runs on a tiny input and gives well-formed numbers.

These check shapes and exact words, never speed: the numbers themselves come from
``python -m benchmarks.run`` on a quiet machine.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from benchmarks import billing, cpu, latency, memory, offline, resampling
from vad_dictate.audio.files import read_wav
from vad_dictate.engines.sphinx import SphinxEngine
from vad_dictate.engines.tone import ToneEngine, silence
from vad_dictate.server.serve import BackgroundServer
from vad_dictate.vad.events import EndpointerSettings

PARTS = {"vad_lag", "quant", "block_wait", "client", "server"}


@pytest.fixture(scope="module")
def tone_url() -> Iterator[str]:
    with BackgroundServer(ToneEngine()) as server:
        yield server.start()


def _finite(*values: float) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) for v in values)


def test_latency_three_paths_side_by_side(tone_url: str) -> None:
    script = latency.tone_script(2, seed=5, pause_s=(1.2, 1.2), lead_s=0.5, tail_s=1.6)

    async def all_three() -> list[list[dict[str, Any]]]:
        return list(
            await asyncio.gather(
                latency.run_ours(tone_url, script, 300),
                latency.run_server_path(tone_url, script, "endpointing", 300),
                latency.run_server_path(tone_url, script, "utterance_end", 1000),
            )
        )

    ours, endpointing, utterance_end = asyncio.run(all_three())
    for records in (ours, endpointing, utterance_end):
        assert [r["text"] for r in records] == [u.text for u in script.utterances]
        assert all(r["ok"] for r in records)
        assert all(_finite(r["total"], r["overhead"]) and r["total"] > 0 for r in records)
    for rec in ours:
        assert set(rec["parts"]) == PARTS
        assert _finite(*rec["parts"].values())
        # The end is the frame boundary nearest last speech + 300 ms: within half a frame.
        frame_ms = EndpointerSettings().frame_ms
        assert -frame_ms / 2 - 1e-6 < rec["parts"]["quant"] <= frame_ms / 2 + 1e-6
        assert math.isclose(sum(rec["parts"].values()), rec["overhead"], abs_tol=1e-6)
    text = latency.summarize(
        {"ours:300": ours, "endpointing:300": endpointing, "utterance_end:1000": utterance_end}
    )
    assert "| VAD + Finalize (ours) | silence_ms=300 | 2/2 |" in text
    assert "| server speech_final | endpointing=300 | 2/2 |" in text
    assert "| server UtteranceEnd | utterance_end_ms=1000 | 2/2 |" in text


def test_cpu_throughput_and_counters(tone_url: str) -> None:
    audio = cpu.speech_audio(10.0)
    assert len(audio) == 10 * latency.RATE
    assert cpu.core_speed(audio, "speech") > 0
    results = cpu.throughput(tone_url, audio, ["speech"])
    assert [t.policy for t in results] == ["speech"]
    t = results[0]
    assert t.audio_s == 10.0 and t.dropped_s == 0.0
    assert _finite(t.capture_x, t.end_to_end_x, t.core_x, t.client_cpu_s)
    assert t.capture_x > 0 and t.end_to_end_x > 0
    assert cpu.cpu_ticks(os.getpid()) > 0
    floor, core = asyncio.run(cpu.pacing_floor(audio[: latency.RATE // 5]))
    assert _finite(floor, core) and floor >= 0 and core > 0
    assert "| speech | 10 |" in cpu.summarize([], results)


def test_memory_checkpoints(tone_url: str) -> None:
    result = asyncio.run(memory.run_worker(tone_url, [1, 2], speed=0.0))
    points = result["checkpoints"]
    assert [round(p["minute"]) for p in points] == [1, 2]
    assert all(p["rss_kb"] > 0 and p["hwm_kb"] >= p["rss_kb"] for p in points)
    assert all(p["blocks"] > 0 for p in points)
    assert result["dropped_s"] == 0.0
    assert result["utterances"] >= 38  # 20 utterances a minute, none merged or lost
    assert "| 2 |" in memory.summarize(result)


def test_billing_tone_words_identical_under_both_policies(tone_url: str) -> None:
    corpus = billing.tones(3, seed=2)

    async def both() -> list[billing.Billing]:
        return list(
            await asyncio.gather(
                *(billing.dictate(tone_url, corpus, p) for p in ("speech", "always"))
            )
        )

    speech, always = asyncio.run(both())
    assert speech.transcript == always.transcript == corpus.reference
    assert speech.captured_s == always.captured_s == len(corpus.samples) / latency.RATE
    assert speech.sent_s < always.sent_s
    assert always.sent_s == pytest.approx(always.captured_s + 0.1, abs=0.03)  # + connect silence
    for b in (speech, always):
        assert b.billed_s == pytest.approx(b.sent_s, abs=0.01)
        assert b.dropped_s == 0.0
    text = billing.summarize([corpus], [speech, always])
    assert "| transcript speech vs always | identical |" in text


def test_billing_offline_engine_on_one_librivox_clip() -> None:
    clip = billing.CLIPS[0]
    samples = np.concatenate([silence(1.0), read_wav(clip).samples[:, 0], silence(1.5)])
    corpus = billing.Corpus("clip", samples, clip.with_suffix(".txt").read_text().strip())
    with BackgroundServer(SphinxEngine()) as server:
        url = server.start()
        speech = asyncio.run(billing.dictate(url, corpus, "speech"))
        always = asyncio.run(billing.dictate(url, corpus, "always"))
    assert speech.transcript and speech.transcript == always.transcript
    assert speech.sent_s <= always.sent_s
    assert "WER vs reference" in billing.summarize([corpus], [speech, always])


def test_resampling_both_resamplers_on_each_path() -> None:
    rows = resampling.measure(repeats=1, seconds=0.5)
    assert [(r.what.split(",")[0], r.rate, r.channels) for r in rows] == [
        (what, rate, channels)
        for rate, channels in [(44100, 1), (48000, 1), (48000, 2)]
        for what in ("capture", "whole file")
    ]
    assert all(_finite(r.fir_x, r.soxr_x, r.ratio) and r.fir_x > 0 for r in rows)
    assert "| soxr / FIR |" in resampling.summarize(rows)


def test_offline_engines_benchmark_on_pocketsphinx() -> None:
    c = offline.corpus(1)
    assert len(c.references) == len(c.ends) == 5 and c.ends == sorted(c.ends)
    with BackgroundServer(SphinxEngine()) as server:
        result = asyncio.run(offline.dictate(server.start(), c, speed=0))
    assert result["lines"] == 5 and result["latency"] == []
    decode = result["decode"]
    assert isinstance(decode, list) and len(decode) == 5 and _finite(*decode)
    assert 0.0 <= float(str(result["wer"])) <= 0.45
    row = {"engine": "pocketsphinx", "turn": "silence 700 ms", "startup": 0.5, "cpu": 0.2}
    row |= {"rss": 80.0, **result}
    assert "| pocketsphinx | silence 700 ms | " in offline.summarize([row], 5)


def test_turn_counts_stopped_calls_apart() -> None:
    """The turn benchmark over the first sentences of its set: the smart pass stops the calls
    for pauses where speech resumed, and decides exactly as the pass as before (the features
    are the same to the bit, and stopped calls' answers were never used)."""
    pytest.importorskip("onnxruntime")
    from benchmarks import turn
    from tests.clips import RATE
    from vad_dictate.vad.smart_turn import SmartTurn, bundled_model
    from vad_dictate.vad.turn import TurnSettings

    if bundled_model() is None:
        pytest.skip("pipecat-ai is not installed (.ci/setup installs it)")
    full = turn.dictation(rounds=1)
    cut = full.sentence_ends[3] + RATE  # two sentences and their one-word answers
    track = turn.Track(
        full.audio[:cut],
        [w for w in full.words if w[1] < cut],
        [e for e in full.sentence_ends if e < cut],
        [k for k in full.one_word if k < 4],
        [p for p in full.pauses if p[1] < cut],
    )
    model, settings = SmartTurn(), TurnSettings()
    # Answers 70 ms after asking, whatever the calls took: the two passes decide alike.
    smart = turn.run(track, EndpointerSettings(), settings, model, 1.0, 0.3, 300, 70.0)
    before = turn.run(
        track, EndpointerSettings(), settings, turn.WholeWindow(model), 1.0, 0.3, 300, 70.0, False
    )
    assert 0 < smart.stopped < len(smart.calls) == len(before.calls)
    assert before.stopped == 0
    assert [f.speech.end for f in smart.finals] == [f.speech.end for f in before.finals]
    row = turn.judge("smart", track, smart, turn.printed_lines(track, smart.finals, 10, 1300))
    assert (row.words_lost, row.one_word_sent) == (0, row.one_word_total)
    assert 0 <= turn.stopped_cpu(model, track.audio[:RATE], 0.0) < 1.0


def test_pause_words_decodes_up_to_each_pause() -> None:
    """The pause-words benchmark finds every inserted pause and sentence end of the track and
    judges real decodes of the first sentence (Whisper tiny.en)."""
    pytest.importorskip("faster_whisper", reason="the whisper extra is not installed")
    from benchmarks import pause_words
    from benchmarks.turn import dictation
    from vad_dictate.engines.whisper import WhisperEngine
    from vad_dictate.vad.turn import sounds_finished

    track = dictation(rounds=1)
    kinds = [kind for kind, _, _ in pause_words.points(track)]
    assert kinds.count("pause") == len(track.pauses) > 0
    assert kinds.count("end") == len(track.sentence_ends) > 0
    found = pause_words.judge(WhisperEngine(), track, limit=2)
    assert [p.kind for p in found] == kinds[:2] and kinds[0] == "pause"
    assert all(p.text and p.verdict == sounds_finished(p.text) for p in found)
    table = pause_words.summarize(found)
    assert "| inserted mid-phrase | 1 |" in table or "| inserted mid-phrase | 2 |" in table
