"""The pocketsphinx engine on real LibriVox recordings (tests/data/librivox)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.words import corpus_wer, matches, normalize, word_error_rate
from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.base import RecognizedWord
from vad_dictate.engines.sphinx import SphinxEngine, SphinxRecognizer
from vad_dictate.errors import ConfigError

DATA = Path(__file__).resolve().parents[1] / "data" / "librivox"
CLIPS = sorted(p.stem for p in DATA.glob("*.wav"))
RATE = 16000
SHORT, OTHER = CLIPS[1], CLIPS[4]  # 2.99 s and 3.29 s


def load(stem: str) -> Int16Array:
    with wave.open(str(DATA / f"{stem}.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def reference(stem: str) -> list[str]:
    return normalize((DATA / f"{stem}.txt").read_text())


def alignment(stem: str) -> list[float]:
    """Start times of the spoken words in the clip's forced alignment."""
    entries = json.loads((DATA / f"{stem}.json").read_text())["w"]
    return [e["b"] for e in entries if not e["t"].startswith("<")]


def feed(recognizer: SphinxRecognizer, audio: Int16Array, chunk_ms: int) -> None:
    step = RATE * chunk_ms // 1000
    for i in range(0, len(audio), step):
        recognizer.accept(audio[i : i + step])


def decode(engine: SphinxEngine, stem: str, chunk_ms: int) -> list[RecognizedWord]:
    recognizer = engine.new_recognizer()
    try:
        feed(recognizer, load(stem), chunk_ms)
        return recognizer.finalize()
    finally:
        recognizer.close()


def texts(words: list[RecognizedWord]) -> list[str]:
    return normalize(" ".join(w.text for w in words))


@pytest.fixture(scope="module")
def engine() -> SphinxEngine:
    return SphinxEngine()


@pytest.fixture(scope="module")
def decoded(engine: SphinxEngine) -> dict[str, list[RecognizedWord]]:
    """Each clip fed in 100 ms chunks and finalized once."""
    return {stem: decode(engine, stem, 100) for stem in CLIPS}


def test_five_clips_present() -> None:
    assert len(CLIPS) == 5


def test_corpus_wer_within_bound(decoded: dict[str, list[RecognizedWord]]) -> None:
    pairs = [(reference(stem), texts(decoded[stem])) for stem in CLIPS]
    for stem, (ref, hyp) in zip(CLIPS, pairs, strict=True):
        print(f"{stem}: WER {word_error_rate(ref, hyp):.3f}  {' '.join(hyp)}")
    wer = corpus_wer(pairs)
    print(f"corpus WER {wer:.3f}")
    assert wer <= 0.45


def test_words_are_clean_dictionary_words(decoded: dict[str, list[RecognizedWord]]) -> None:
    for words in decoded.values():
        for word in words:
            assert word.text and word.text == word.text.strip()
            assert not any(c in word.text for c in "()<>[]+"), word.text


def test_chunk_size_does_not_change_words(
    engine: SphinxEngine, decoded: dict[str, list[RecognizedWord]]
) -> None:
    # pocketsphinx buffers partial frames internally, so 20 ms and 100 ms
    # chunks give the same frames and the same search: identical words and times
    # (two of the clips: decoding is the slow part of this suite).
    for stem in (SHORT, OTHER):
        assert decode(engine, stem, 20) == decoded[stem]


def test_word_times_monotonic_within_clip_and_near_alignment(
    decoded: dict[str, list[RecognizedWord]],
) -> None:
    near = total = 0
    for stem in CLIPS:
        words = decoded[stem]
        duration = len(load(stem)) / RATE
        for word in words:
            assert 0.0 <= word.start < word.end <= duration + 0.01
        for before, after in itertools.pairwise(words):
            assert before.end <= after.start
        starts = alignment(stem)
        for ref_i, hyp_i in matches(reference(stem), texts(words)):
            total += 1
            near += abs(words[hyp_i].start - starts[ref_i]) <= 0.3
    assert total >= 45  # of 71 reference words
    assert near >= 0.9 * total


def test_second_utterance_is_offset_by_first(engine: SphinxEngine) -> None:
    first, second = load(SHORT), load(OTHER)
    offset = len(first) / RATE
    recognizer = engine.new_recognizer()
    try:
        feed(recognizer, first, 100)
        one = recognizer.finalize()
        feed(recognizer, second, 100)
        two = recognizer.finalize()
    finally:
        recognizer.close()
    assert one and two
    assert all(w.end <= offset + 0.01 for w in one)
    assert all(offset <= w.start < w.end <= offset + len(second) / RATE + 0.01 for w in two)
    # The second utterance's correctly heard words sit where the alignment says, shifted.
    starts = alignment(OTHER)
    pairs = matches(reference(OTHER), texts(two))
    assert len(pairs) >= 5
    for ref_i, hyp_i in pairs:
        assert abs(two[hyp_i].start - (offset + starts[ref_i])) <= 0.3


def test_partial_shows_hypothesis_before_finalize(engine: SphinxEngine) -> None:
    audio = load(SHORT)
    recognizer = engine.new_recognizer()
    try:
        assert recognizer.partial() == []
        feed(recognizer, audio[: RATE * 2], 100)
        partial = recognizer.partial()
        assert texts(partial)[:3] == ["he", "was", "not"]
        assert all(0.0 <= w.start < w.end <= 2.01 for w in partial)
        feed(recognizer, audio[RATE * 2 :], 100)
        final = recognizer.finalize()
        assert recognizer.partial() == []  # the utterance is closed
        assert texts(final)[:3] == ["he", "was", "not"]
        for early, late in zip(partial[:2], final[:2], strict=True):
            assert abs(early.start - late.start) <= 0.05
    finally:
        recognizer.close()


def test_finalize_without_audio_returns_nothing(engine: SphinxEngine) -> None:
    recognizer = engine.new_recognizer()
    try:
        assert recognizer.finalize() == []
        recognizer.accept(np.zeros(0, dtype=np.int16))
        assert recognizer.finalize() == []
        feed(recognizer, np.zeros(RATE // 2, dtype=np.int16), 100)
        assert recognizer.finalize() == []  # silence decodes to fillers only
        assert recognizer.finalize() == []
    finally:
        recognizer.close()


def test_pool_reuses_decoders_and_resets_them() -> None:
    engine = SphinxEngine()
    assert (engine.decoders_created, engine.decoders_idle) == (1, 1)
    fresh = decode(engine, OTHER, 100)
    for _ in range(8):
        recognizer = engine.new_recognizer()
        feed(recognizer, load(SHORT)[: RATE // 2], 100)
        recognizer.close()  # closes with an utterance still open
    assert engine.decoders_created == 1
    # The reused decoder adapted to other audio, but a new recognizer starts clean.
    assert decode(engine, OTHER, 100) == fresh

    a, b = engine.new_recognizer(), engine.new_recognizer()
    assert (engine.decoders_created, engine.decoders_idle) == (2, 0)
    a.close()
    b.close()
    b.close()  # idempotent: the decoder goes back once
    for _ in range(3):
        engine.new_recognizer().close()
    assert (engine.decoders_created, engine.decoders_idle) == (2, 2)


def test_closed_recognizer_refuses_use(engine: SphinxEngine) -> None:
    recognizer = engine.new_recognizer()
    recognizer.close()
    with pytest.raises(ValueError, match="closed"):
        recognizer.accept(np.zeros(160, dtype=np.int16))
    with pytest.raises(ValueError, match="closed"):
        recognizer.finalize()


def test_recognizers_in_threads_match_sequential(engine: SphinxEngine) -> None:
    expected = decode(engine, SHORT, 100)
    results: list[list[RecognizedWord]] = []
    lock = threading.Lock()

    def work() -> None:
        words = decode(engine, SHORT, 100)
        with lock:
            results.append(words)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3
    assert engine.decoders_created <= 3


def test_engine_keeps_stderr_quiet() -> None:
    code = (
        "import numpy as np, wave\n"
        "from vad_dictate.engines.sphinx import SphinxEngine\n"
        f"w = wave.open({str(DATA / (SHORT + '.wav'))!r})\n"
        "a = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)\n"
        "r = SphinxEngine().new_recognizer(); r.accept(a)\n"
        "print(' '.join(x.text for x in r.finalize())); r.close()\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("he was not")


def test_missing_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # makes the import fail
    with pytest.raises(ConfigError, match="pip install pocketsphinx") as info:
        SphinxEngine()
    assert info.value.exit_code == 2


def test_pool_keeps_at_most_max_idle_decoders() -> None:
    engine = SphinxEngine(max_idle=1)
    burst = [engine.new_recognizer() for _ in range(3)]
    assert (engine.decoders_created, engine.decoders_idle) == (3, 0)
    for recognizer in burst:
        recognizer.close()
    assert engine.decoders_idle == 1  # the other two were dropped, not kept for ever
    engine.new_recognizer().close()
    assert (engine.decoders_created, engine.decoders_idle) == (3, 1)
