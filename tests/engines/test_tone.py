"""The tone engine: exact, chunking-independent decoding; nothing from speech or noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.tones import Track, read_wav, track, write_tone_wav
from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.base import RecognizedWord
from vad_dictate.engines.tone import (
    WORDS,
    ToneEngine,
    ToneRecognizer,
    fundamental,
    identify,
    silence,
    synth_utterance,
    synth_word,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SPEECH = sorted(DATA.rglob("*.wav"))
TOL = 0.010  # word times within 10 ms of the truth

THREE = track([["alpha", "papa", "golf"], ["kilo", "delta"], ["november"]], pause_s=[0.7, 1.3])


def decode(samples: Int16Array, chunks: list[int] | int) -> list[RecognizedWord]:
    """Feed samples in chunks of the given sizes (cycled), then finalize."""
    rec = ToneRecognizer()
    sizes = [chunks] if isinstance(chunks, int) else chunks
    pos, i = 0, 0
    while pos < len(samples):
        size = sizes[i % len(sizes)]
        rec.accept(samples[pos : pos + size])
        pos, i = pos + size, i + 1
    return rec.finalize()


def assert_matches(
    got: list[RecognizedWord], truth: Track | list[RecognizedWord], tol: float = TOL
) -> None:
    expected = truth.words if isinstance(truth, Track) else truth
    assert [w.text for w in got] == [w.text for w in expected]
    for g, e in zip(got, expected, strict=True):
        assert g.start == pytest.approx(e.start, abs=tol), (g, e)
        assert g.end == pytest.approx(e.end, abs=tol), (g, e)
        assert 0.8 <= g.confidence <= 1.0


def test_synthesis_is_deterministic_and_about_minus_10_dbfs() -> None:
    a = synth_word("echo")
    assert a.dtype == np.int16 and len(a) == 4800
    assert np.array_equal(a, synth_word("echo"))
    peak_dbfs = 20 * np.log10(np.max(np.abs(a)) / 32768)
    assert -10.5 < peak_dbfs < -9.5
    assert len(synth_word("papa", 0.4, 48000)) == 19200
    assert a[0] == 0 and abs(int(a[-1])) < 50  # ramps start and end near zero
    utt = synth_utterance(["alpha", "bravo"], gap_s=0.1)
    assert len(utt) == 4800 * 2 + 1600 and not utt[4800:6400].any()
    assert not silence(0.5, 8000).any() and len(silence(0.5, 8000)) == 4000


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="gap_s"):
        synth_utterance(["alpha", "bravo"], gap_s=0.05)
    with pytest.raises(ValueError, match="zulu"):
        synth_word("zulu")
    assert [fundamental(w) for w in WORDS] == [100.0 + 10 * i for i in range(16)]


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("duration", [0.25, 0.3, 0.4])
def test_every_word_is_identified(word: str, duration: float) -> None:
    found = identify(synth_word(word, duration))
    assert found is not None and found[0] == word
    got = decode(np.concatenate([silence(0.1), synth_word(word, duration), silence(0.2)]), 320)
    assert_matches(got, [RecognizedWord(word, 0.1, 0.1 + duration)])


@pytest.mark.parametrize("chunks", [1, 7, 160, 320, 1600, 4801, 10**7, [1, 319, 7, 1600, 33]])
def test_decoding_is_exact_whatever_the_chunking(chunks: list[int] | int) -> None:
    assert_matches(decode(THREE.samples, chunks), THREE)


def test_decoding_is_exact_under_random_chunkings() -> None:
    rng = np.random.default_rng(7)
    reference = decode(THREE.samples, 1600)
    for _ in range(10):
        sizes = [int(s) for s in rng.integers(1, 3000, size=50)]
        assert decode(THREE.samples, sizes) == reference


def test_all_sixteen_words_back_to_back_with_the_shortest_gap() -> None:
    truth = track([list(WORDS)], gap_s=0.08, word_s=0.25)
    assert_matches(decode(truth.samples, 333), truth)


def test_quiet_tones_decode_too() -> None:
    truth = track([["mike", "oscar"]])
    quiet = (truth.samples.astype(np.float64) * 0.1).round().astype(np.int16)  # about -30 dBFS
    # Ramps stay under the energy floor a little longer: times are a bit less exact.
    assert_matches(decode(quiet, 160), truth, tol=0.015)


def test_partial_reports_completed_words_and_a_tone_in_progress() -> None:
    truth = track([["hotel", "india"]], lead_s=0.1)
    second = truth.words[1]
    rec = ToneRecognizer()
    cut = round((second.start + 0.05) * 16000)  # 50 ms into "india": too short to report
    rec.accept(truth.samples[:cut])
    assert [w.text for w in rec.partial()] == ["hotel"]
    cut2 = round((second.start + 0.15) * 16000)
    rec.accept(truth.samples[cut:cut2])
    partial = rec.partial()
    assert [w.text for w in partial] == ["hotel", "india"]
    assert partial[1].start == pytest.approx(second.start, abs=TOL)
    assert partial[1].end == pytest.approx(second.start + 0.15, abs=TOL)
    assert rec.partial() == partial  # asking again changes nothing
    rec.accept(truth.samples[cut2:])
    assert_matches(rec.partial(), truth)
    assert_matches(rec.finalize(), truth)
    assert rec.partial() == [] and rec.finalize() == []


def test_finalize_mid_tone_reports_it_once_and_the_clock_runs_on() -> None:
    truth = track([["lima", "mike"], ["papa"]], pause_s=0.6)
    lima, mike, papa = truth.words
    rec = ToneRecognizer()
    cut = round((mike.start + 0.08) * 16000)
    rec.accept(truth.samples[:cut])
    first = rec.finalize()
    assert [w.text for w in first] == ["lima", "mike"]
    assert_matches(first[:1], [lima])
    assert first[1].end == pytest.approx(mike.start + 0.08, abs=TOL)
    rec.accept(truth.samples[cut:])
    assert_matches(rec.finalize(), [papa])  # absolute times, no second "mike"


def test_finalize_before_a_tone_is_identifiable_leaves_it_for_later() -> None:
    truth = track([["golf"]])
    golf = truth.words[0]
    rec = ToneRecognizer()
    cut = round((golf.start + 0.03) * 16000)
    rec.accept(truth.samples[:cut])
    assert rec.finalize() == []
    rec.accept(truth.samples[cut:])
    got = rec.finalize()
    assert [w.text for w in got] == ["golf"]
    assert golf.start <= got[0].start <= golf.start + 0.04
    assert got[0].end == pytest.approx(golf.end, abs=TOL)


def test_engine_makes_independent_recognizers() -> None:
    engine = ToneEngine()
    assert engine.name == "tone" and engine.sample_rate == 16000
    assert engine.describe() == "the tone engine"  # the default: no model to name
    a, b = engine.new_recognizer(), engine.new_recognizer()
    a.accept(THREE.samples)
    b.accept(silence(1.0))
    assert b.finalize() == []
    assert_matches(a.finalize(), THREE)
    a.close()
    b.close()


def test_stereo_wav_helper_round_trips(tmp_path: Path) -> None:
    left, right = write_tone_wav(tmp_path / "s.wav", [[["alpha"], ["bravo"]], [["kilo", "lima"]]])
    data, rate, channels = read_wav(tmp_path / "s.wav")
    assert (rate, channels) == (16000, 2)
    frames = data.reshape(-1, 2)
    assert_matches(decode(frames[:, 0].copy(), 1600), left)
    assert_matches(decode(frames[:, 1].copy(), 1600), right)
    assert not frames[:1600].any()  # leading 0.1 s of silence


def assert_nothing_decoded(samples: Int16Array, step: int) -> None:
    """Feed in steps, asking for partials and finalizing now and then: never a word."""
    rec = ToneRecognizer()
    for i, pos in enumerate(range(0, len(samples), step)):
        rec.accept(samples[pos : pos + step])
        assert rec.partial() == []
        if i % 5 == 4:
            assert rec.finalize() == []
    assert rec.finalize() == []


@pytest.mark.parametrize("rms", [30.0, 300.0, 3000.0, 12000.0])
def test_noise_decodes_to_nothing(rms: float) -> None:
    rng = np.random.default_rng(int(rms))
    white = rng.standard_normal(3 * 16000) * rms
    assert_nothing_decoded(np.clip(white, -32768, 32767).astype(np.int16), 1600)
    # Low-passed noise has most of its energy where the fundamentals are.
    brown = np.cumsum(rng.standard_normal(3 * 16000))
    brown = (brown - np.convolve(brown, np.ones(400) / 400, mode="same")) * rms / 20
    assert_nothing_decoded(np.clip(brown, -32768, 32767).astype(np.int16), 1100)


def test_clicks_and_steady_sines_decode_to_nothing() -> None:
    clicks = silence(2.0)
    clicks[::4000] = 20000
    assert_nothing_decoded(clicks, 1600)
    t = np.arange(16000) / 16000
    pure = (10000 * np.sin(2 * np.pi * 150 * t)).astype(np.int16)  # right pitch, no harmonics
    assert_nothing_decoded(np.concatenate([silence(0.1), pure[:4800], silence(0.3)]), 800)


@pytest.mark.skipif(not SPEECH, reason="no recordings in tests/data")
@pytest.mark.parametrize("path", SPEECH, ids=lambda p: p.name)
@pytest.mark.parametrize("step", [800, 1600, 2700])
def test_real_speech_decodes_to_nothing(path: Path, step: int) -> None:
    data, rate, channels = read_wav(path)
    assert rate == 16000
    assert_nothing_decoded(data.reshape(-1, channels)[:, 0].copy(), step)
