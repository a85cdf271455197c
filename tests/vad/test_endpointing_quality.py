"""Endpointing quality on real speech in noise (issue 6), with the benchmark's own corpus.

Corpus (``tests.clips.corpus``, shared with the endpointing benchmark): the five LibriVox
clips of tests/data/librivox in two shuffled rounds (10 sentences, about 60 s), each followed
by 0.7-1.5 s of digital silence (seeded), then mixed with white, pink or brown Gaussian noise
(power ~ 1/f**0, 1/f, 1/f**2; fixed seeds) at 20 and 10 dB SNR, SNR being speech RMS over
the .lab spans / noise RMS.

Definitions:
- A detected utterance (SpeechEnd) *matches* a true sentence when its span [onset,
  last_speech] overlaps the sentence's .lab span and its end (where Finalize is sent) lies
  within 300 ms of the sentence's .lab end + silence_ms; each
  sentence matches at most one utterance. Precision = matches / utterances, recall =
  matches / sentences, F1 = 2PR / (P + R). Merges, splits, misses and false utterances all
  lower it. (300 ms, not 100: at 10 dB SNR the faint tails of some final words, e.g. clip
  0920's "was", lie within snr_db of the noise floor and count as silence, so the end comes
  up to 290 ms early; no word is lost, as audio streams on for silence_ms. Issue 2's 100 ms
  bound is asserted on clean speech.)
- A word is *cut* when its aligned span (.json) is not wholly inside one utterance's streamed
  span [start, end]: cut mid-word, or lost.
- False utterances per minute: utterances found in 60 s of each noise alone, at the level
  used for 10 dB SNR.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.clips import (
    NOISES,
    RATE,
    Corpus,
    colored_noise,
    corpus,
    false_per_minute,
    mix,
    run,
    score,
    speech_rms,
    to_int16,
)
from tests.tones import Track, track
from vad_dictate.engines.tone import WORDS
from vad_dictate.vad.events import EndpointerSettings

DEFAULT = EndpointerSettings()
CLEAN = corpus(rounds=2)
NOISE_10DB = speech_rms(CLEAN) / 10 ** (10 / 20)


def test_corpus_truth() -> None:
    assert len(CLEAN.sentences) == 10
    assert len(CLEAN.words) == 2 * 71  # five clips of 22, 8, 14, 19 and 8 aligned words
    gaps = [b[0] - a[1] for a, b in zip(CLEAN.sentences, CLEAN.sentences[1:], strict=False)]
    assert min(gaps) > 16000  # .lab tail + 0.7 s + next .lab head: more than silence_ms


def test_clean_speech_every_boundary_within_100_ms() -> None:
    s = score(run(CLEAN.audio, DEFAULT), CLEAN, DEFAULT, tolerance_ms=100)
    assert (s.matched, s.detected, s.cut_words) == (10, 10, 0)
    assert all(abs(e) <= 100 for e in s.onset_errors_ms)
    assert all(abs(e) <= 100 for e in s.end_errors_ms)


@pytest.mark.parametrize("snr", [20, 10])
@pytest.mark.parametrize("kind", NOISES)
def test_noisy_speech_f1_and_no_cut_words(kind: str, snr: int) -> None:
    c = mix(CLEAN, kind, snr)
    s = score(run(c.audio, DEFAULT), c, DEFAULT)
    assert s.f1 >= 0.9, (s.matched, s.detected)
    assert s.cut_words == 0
    # Onsets are never late by more than 100 ms, ends never late by more than 100 ms.
    assert max(s.onset_errors_ms) <= 100
    assert max(s.end_errors_ms) <= 100


@pytest.mark.parametrize("kind", NOISES)
def test_noise_alone_gives_at_most_one_utterance_a_minute(kind: str) -> None:
    assert false_per_minute(kind, NOISE_10DB, DEFAULT) <= 1


@pytest.mark.parametrize("frame_ms", [20, 30])
def test_plain_webrtcvad_is_what_fails(frame_ms: int) -> None:
    # The same run with the loudness rules off: webrtcvad's hangover and breath tails make
    # clean ends late, and pink noise at 10 dB merges or stretches sentences. At 30 ms frames
    # it also hears utterances in pink noise alone; at 20 ms (the default) it does not.
    rules = replace(DEFAULT, frame_ms=frame_ms)
    plain = replace(rules, snr_db=0, drop_db=0)
    clean = score(run(CLEAN.audio, plain), CLEAN, plain, tolerance_ms=100)
    assert clean.f1 <= 0.5  # half the ends or more are over 100 ms late
    pink: Corpus = mix(CLEAN, "pink", 10)
    assert (
        score(run(pink.audio, plain), pink, plain).f1
        < score(run(pink.audio, rules), pink, rules).f1
    )
    assert (false_per_minute("pink", NOISE_10DB, plain) > 1) == (frame_ms == 30)


# -- the optional Silero engine (runs only where onnxruntime and silero-vad are installed) ---


def test_silero_rejects_rates_it_has_no_model_for() -> None:
    from vad_dictate.errors import ConfigError
    from vad_dictate.vad.silero import SileroVad

    with pytest.raises(ConfigError, match="needs 8000 or 16000 Hz audio, got 48000 Hz"):
        SileroVad(48000)


@pytest.mark.parametrize("kind", NOISES)
def test_silero_engine_in_noise(kind: str) -> None:
    pytest.importorskip("onnxruntime")
    silero = replace(DEFAULT, engine="silero")
    c = mix(CLEAN, kind, 10)
    s = score(run(c.audio, silero), c, silero)
    assert s.f1 >= 0.9, (s.matched, s.detected)
    assert s.cut_words == 0
    assert max(s.onset_errors_ms) <= 150  # Silero needs two or three 32 ms windows to rise
    assert false_per_minute(kind, NOISE_10DB, silero) <= 1


# -- low voices in rumble: tone speech (fundamentals 100-250 Hz) in brown noise ---------------

LOW, HIGH = WORDS[:6], WORDS[10:]  # fundamentals 100-150 Hz and 200-250 Hz


def tone_dictation(voice: tuple[str, ...], seed: int) -> tuple[Track, list[tuple[int, int]]]:
    """Six utterances of four tone words, 1.2 s apart, and their (first, last) sample."""
    rng = np.random.default_rng(seed)
    t = track([[voice[int(i)] for i in rng.integers(0, len(voice), 4)] for _ in range(6)], 1.2)
    spans = [
        (round(t.words[4 * u].start * t.rate), round(t.words[4 * u + 3].end * t.rate))
        for u in range(6)
    ]
    return t, spans


def tone_in_noise(kind: str, voice: tuple[str, ...], seed: int, snr: int) -> int:
    """How many utterances the endpointer finds; asserts each lies on its true utterance."""
    t, spans = tone_dictation(voice, seed)
    audio = t.samples.astype(np.float64)
    rms = np.sqrt(np.mean(np.concatenate([audio[a:b] for a, b in spans]) ** 2))
    noisy = to_int16(audio + colored_noise(kind, len(audio), seed + 10) * rms / 10 ** (snr / 20))
    ends = run(noisy, DEFAULT)
    # Onsets within 100 ms of a true one; no utterance made of noise alone. Speech may end
    # 5 ms before a word's last sample: the end of its fade lies under the level rules.
    for ev in ends:
        assert any(
            abs(ev.onset - a) <= RATE // 10 and ev.last_speech > b - RATE // 100 for a, b in spans
        )
    return len(ends)


VOICES = {"100-150Hz": LOW, "200-250Hz": HIGH, "100-250Hz": WORDS}


@pytest.mark.parametrize(
    ("kind", "snr"), [("white", 20), ("white", 10), ("pink", 20), ("pink", 10), ("brown", 20)]
)
def test_tone_speech_in_noise_six_utterances_stay_six(kind: str, snr: int) -> None:
    for voice in VOICES.values():
        for seed in (1, 2):
            assert tone_in_noise(kind, voice, seed, snr) == 6, (kind, snr, voice[0], seed)


def test_low_voices_in_brown_noise_at_10_db() -> None:
    # Rumble swings most in the low bands, where these voices carry their energy too: against
    # the bare minimum of the noise floor (no bias correction) only 3 of these 18 tracks came
    # out as six utterances, 66 utterances of 108 in all. With it 9 tracks and 96 of 108: the
    # rest still merge where the noise swells for half a second (README, endpointing).
    found = [
        tone_in_noise("brown", voice, seed, 10) for voice in VOICES.values() for seed in range(1, 7)
    ]
    assert sum(found) >= 96
    assert found.count(6) >= 9
