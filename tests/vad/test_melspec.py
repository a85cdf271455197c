"""Whisper log-mel features in numpy, checked against facts that do not depend on our code.

- The Slaney mel scale is linear below 1 kHz (15 mels there) and its filters, scaled to unit
  area, sum to 1 when integrated over frequency.
- A sinusoid of amplitude A exactly on FFT bin k, under a periodic Hann window of 400 points
  (sum 200), has power (A * 200 / 2)^2 in that bin and nothing two bins away.
- Digital silence is log10(1e-10) = -10 everywhere, which (x + 4) / 4 maps to -1.5.
- The model's features, which skip the FFT of frames that see only the padding, are the
  features of the whole padded, normalised window to the bit.
- The features the model's authors feed it: pipecat ships smart-turn with a numpy port of
  Hugging Face's WhisperFeatureExtractor; on real speech ours agree with it to 1e-4.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

import numpy as np
import pytest

from tests.clips import load
from vad_dictate.vad.melspec import (
    HOP,
    N_FFT,
    N_MELS,
    RATE,
    hz_to_mel,
    log_mel,
    mel_filters,
    mel_to_hz,
    padded_log_mel,
    padded_window,
    power_spectrogram,
    sparse_filters,
)
from vad_dictate.vad.smart_turn import NORMALISE_EPS, WINDOW_S, model_features


def test_slaney_mel_scale() -> None:
    assert hz_to_mel(np.array(1000.0)) == pytest.approx(15.0)
    assert hz_to_mel(np.array(200.0)) == pytest.approx(3.0)
    assert hz_to_mel(np.array(6400.0)) == pytest.approx(15.0 + 27.0)  # 27 mels per factor 6.4
    hz = np.array([0.0, 55.0, 999.0, 1000.0, 4321.0, 8000.0])
    assert mel_to_hz(hz_to_mel(hz)) == pytest.approx(hz)


def test_filters_are_unit_area_triangles() -> None:
    filters = mel_filters()
    assert filters.shape == (N_MELS, N_FFT // 2 + 1)
    assert (filters >= 0).all()
    bin_hz = RATE / N_FFT
    areas = filters.sum(axis=1) * bin_hz
    wide = mel_to_hz(np.linspace(0, hz_to_mel(np.array(RATE / 2)), N_MELS + 2))[:-2] > 1000
    # Sampled every 40 Hz, a triangle a few bins wide is off by up to 10%, but not on average.
    assert areas[wide] == pytest.approx(1.0, abs=0.1)
    assert areas[wide].mean() == pytest.approx(1.0, abs=0.01)
    peaks = filters.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all()  # centres rise with the index


def test_power_of_a_sinusoid_on_a_bin() -> None:
    k, amplitude = 25, 0.5  # 1 kHz
    t = np.arange(RATE) / RATE
    power = power_spectrogram(
        (amplitude * np.sin(2 * np.pi * k * RATE / N_FFT * t)).astype(np.float32)
    )
    assert power.shape == (N_FFT // 2 + 1, RATE // HOP)
    middle = power[:, 50]
    assert middle[k] == pytest.approx((amplitude * N_FFT / 4) ** 2, rel=1e-3)
    assert middle[k + 2] < 1e-6 * middle[k]


def test_the_filters_as_runs_of_bins_are_the_same_product() -> None:
    filters = mel_filters()
    bins, weights, starts = sparse_filters(filters)
    assert len(bins) == (filters > 0).sum() < filters.size // 20  # 1-14 bins of 201 each
    power = np.random.default_rng(5).random((N_FFT // 2 + 1, 30)).astype(np.float32)
    sparse = np.add.reduceat(power[bins] * weights, starts, axis=0)
    assert sparse == pytest.approx(filters.astype(np.float64) @ power, rel=1e-5)
    with pytest.raises(ValueError, match="at least one FFT bin"):
        sparse_filters(np.zeros((2, 5), dtype=np.float32))


def test_silence_and_shape() -> None:
    features = log_mel(np.zeros(WINDOW_S * RATE, dtype=np.float32))
    assert features.shape == (N_MELS, 800)
    assert (features == np.float32(-1.5)).all()


@pytest.mark.parametrize(
    "length",
    [0, 1, 199, 200, 201, 359, 360, 361, 400, 560, 16000, 127_480, 127_481, 127_640, 127_999],
)
def test_the_padding_is_not_transformed_frame_by_frame_yet_the_features_are_the_same(
    length: int,
) -> None:
    n = WINDOW_S * RATE
    tail = (np.random.default_rng(length).standard_normal(length) * 0.1).astype(np.float32)
    window = padded_window(tail, n, NORMALISE_EPS)
    assert np.ptp(window[: n - length]) == 0  # the padding: one constant
    assert np.array_equal(padded_log_mel(tail, n, NORMALISE_EPS), log_mel(window))


def test_a_tail_longer_than_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than the window"):
        padded_log_mel(np.zeros(801, dtype=np.float32), 800, NORMALISE_EPS)


def pipecat_reference() -> object:
    """pipecat's numpy port of WhisperFeatureExtractor, loaded by path (pipecat not imported)."""
    try:
        dist = importlib.metadata.distribution("pipecat-ai")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("pipecat-ai is not installed (.ci/setup installs it)")
    path = dist.locate_file("pipecat/audio/turn/smart_turn/_whisper_features.py")
    spec = importlib.util.spec_from_file_location("whisper_features_reference", str(path))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("stem", ["0870", "0880", "0930"])
def test_model_features_match_the_reference_extractor(stem: str) -> None:
    reference = pipecat_reference()
    audio = load(f"sense_and_sensibility_01_austen_64kb-{stem}")
    padded = np.zeros(WINDOW_S * RATE, dtype=np.float32)
    padded[-len(audio) :] = audio[-len(padded) :] / 32768.0
    expected = reference.compute_whisper_log_mel_features(padded, do_normalize=True)  # type: ignore[attr-defined]
    ours = model_features(audio)[0]
    assert ours.shape == expected.shape == (N_MELS, 800)
    assert np.abs(ours - expected).max() < 1e-4
