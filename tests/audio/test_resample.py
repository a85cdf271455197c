"""Resampling through soxr: frequency and level kept, no aliasing, lengths as documented,
and the same output whatever the chunking."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_dictate.audio.resample import StreamResampler, output_length, resample


def ramp(n: int, channels: int) -> npt.NDArray[np.int16]:
    """Distinct values on every channel, covering the int16 range."""
    x = np.linspace(-32768, 32767, n * channels).round().astype(np.int16)
    return x.reshape(n, channels)


def tone(freq: float, rate: int, seconds: float, amp: float = 0.5) -> npt.NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def spectrum(
    y: npt.NDArray[np.int16], rate: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    seg = y[1000:-1000].astype(np.float64)  # skip the filter's edges
    mag = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    return np.fft.rfftfreq(len(seg), 1 / rate).astype(np.float64), mag.astype(np.float64)


def rms_db(y: npt.NDArray[np.int16]) -> float:
    seg = y[1000:-1000].astype(np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(seg**2)) / 32767))


def test_1khz_sine_44100_to_16000_keeps_frequency_and_level() -> None:
    x = tone(1000, 44100, 1.0)
    y = resample(x, 44100, 16000)
    freqs, mag = spectrum(y, 16000)
    assert abs(freqs[np.argmax(mag)] - 1000) <= 2
    assert abs(rms_db(y) - rms_db(x)) < 1.0


def test_10khz_tone_48000_to_16000_does_not_alias() -> None:
    x = tone(10000, 48000, 1.0, amp=0.9)
    y = resample(x, 48000, 16000)
    alias_db = 10 * np.log10(
        (np.mean(y.astype(np.float64) ** 2) + 1e-12) / np.mean(x.astype(np.float64) ** 2)
    )
    assert alias_db < -40


def test_upsampling_8000_to_16000_keeps_a_tone() -> None:
    x = tone(440, 8000, 0.5)
    y = resample(x, 8000, 16000)
    freqs, mag = spectrum(y, 16000)
    assert abs(freqs[np.argmax(mag)] - 440) <= 2
    assert abs(rms_db(y) - rms_db(x)) < 1.0


def test_equal_rates_pass_through_exactly() -> None:
    x = ramp(1234, 2)
    y = resample(x, 16000, 16000)
    assert np.array_equal(y, x) and y is not x


@pytest.mark.parametrize(
    ("n", "src", "dst", "expected"),
    [
        (0, 44100, 16000, 0),
        (1, 48000, 16000, 0),
        (2, 48000, 16000, 1),
        (3, 8000, 16000, 6),
        (44100, 44100, 16000, 16000),
        (441, 44100, 16000, 160),
        (100, 22050, 16000, 73),
    ],
)
def test_output_length_rounds_half_up(n: int, src: int, dst: int, expected: int) -> None:
    assert output_length(n, src, dst) == expected
    assert len(resample(np.zeros(n, dtype=np.int16), src, dst)) == expected


def test_dc_level_is_kept() -> None:
    y = resample(np.full(4410, 1000, dtype=np.int16), 44100, 16000)
    assert set(y[100:-100].tolist()) == {1000}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="src_rate must be a positive integer"):
        resample(np.zeros(4, dtype=np.int16), 0, 16000)
    with pytest.raises(TypeError, match="samples must be int16 or float32, not float64"):
        wrong: Any = np.zeros(4, dtype=np.float64)  # a caller outside the type checker
        StreamResampler(8000, 16000).process(wrong)
    with pytest.raises(ValueError, match="expected 2 channel"):
        StreamResampler(8000, 16000, channels=2).process(np.zeros((4, 3), dtype=np.int16))


def stream(
    x: npt.NDArray[np.int16] | npt.NDArray[np.float32], src: int, dst: int, sizes: list[int]
) -> npt.NDArray[np.int16]:
    r = StreamResampler(src, dst, 1 if x.ndim == 1 else x.shape[1])
    out, pos, k = [], 0, 0
    while pos < len(x):
        size = sizes[k % len(sizes)]
        out.append(r.process(x[pos : pos + size]))
        pos, k = pos + size, k + 1
    out.append(r.flush())
    return np.concatenate(out)


RATE_PAIRS = [
    (44100, 16000),
    (48000, 16000),
    (8000, 16000),
    (11025, 16000),
    (16000, 16000),
    (96000, 16000),
    (16000, 22050),
]


# Chunking tolerance: at most 1 LSB, and the same length. soxr promises precision (HQ:
# 20 bits), not bit-identical output across chunkings; on its float path the samples come
# out the same whatever the chunking (measured: no difference at all), but one float32
# ulp either side of a rounding boundary would move the final int16 by 1, which is still
# far below the 16-bit noise floor. More than 1 LSB would mean chunking changed the signal.
TOLERANCE_LSB = 1


def close(a: npt.NDArray[np.int16], b: npt.NDArray[np.int16]) -> bool:
    if a.shape != b.shape:
        return False
    return a.size == 0 or int(np.abs(a.astype(np.int32) - b).max()) <= TOLERANCE_LSB


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
@pytest.mark.parametrize("size", [1, 37, 160, 4410])
def test_chunking_does_not_change_the_output(src: int, dst: int, size: int) -> None:
    x = np.random.default_rng(size).integers(-32768, 32768, size=(9001, 2), dtype=np.int16)
    assert close(stream(x, src, dst, [size]), resample(x, src, dst))
    assert close(stream(x[:, 0], src, dst, [size]), resample(x[:, 0], src, dst))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 3000),
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=6),
    pair=st.sampled_from([*RATE_PAIRS, (7, 3), (3, 7), (383999, 16000)]),
)
def test_chunking_does_not_change_the_output_for_any_chunking(
    n: int, sizes: list[int], pair: tuple[int, int]
) -> None:
    x = np.random.default_rng(n).integers(-32768, 32768, size=n, dtype=np.int16)
    whole = resample(x, *pair)
    assert len(whole) == output_length(n, *pair)
    assert close(stream(x, *pair, sizes), whole)


def test_float_input_is_full_scale() -> None:
    x = tone(1000, 48000, 0.2)
    as_float = (x / 32768).astype(np.float32)
    assert close(resample(x, 48000, 16000), stream(as_float, 48000, 16000, [480]))
    same_rate = StreamResampler(16000, 16000).process(np.array([0.5, -1.0, 2.0], np.float32))
    assert same_rate.tolist() == [16384, -32768, 32767]


def test_flush_without_input_keeps_the_shape() -> None:
    assert StreamResampler(48000, 16000).flush().shape == (0,)
    assert StreamResampler(48000, 16000, channels=2).flush().shape == (0, 2)
