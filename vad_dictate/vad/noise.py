"""Frame loudness against an adaptive noise floor: the endpointer's guard against steady noise.

Pure: no I/O, threads or clock reads. Each frame's power spectrum is summed into a few speech
bands; every band keeps its own noise floor, the minimum of its (lightly smoothed) power over
the last ``window`` frames ("minimum statistics"). The floor follows falling noise at once and
rising noise within one window, yet never climbs during speech, because speech always has
dips (gaps between words, unvoiced sounds) within a couple of seconds.

A frame's ``snr_db`` compares the power of all bands with that of their floors, each band
counted at no less than its floor. Steady noise of any colour scores 0-4 dB, speech 5-40 dB:
webrtcvad alone calls steady noise above about -30 dBFS speech, so the endpointer requires both.

The minimum of a fluctuating power lies below its mean, the more so the fewer FFT bins a band
holds: low bands (150-300 Hz: five bins) swing most. Brown noise (rumble: car, fan, train) puts
nearly all its power there, so against the bare minimum it scored up to 9 dB and kept the
endpointer in speech through pauses. Each band's floor is therefore raised by part
(BIAS_SHARE, in dB) of the mean-to-minimum ratio that steady noise shows in that band,
measured once per frame layout on seeded white noise (:func:`floor_bias`).

Where inside a frame speech ends (:func:`sub_block_levels`): a frame's level covers ANALYSIS_MS,
too coarse for the end of speech, so the last speech frame is split into SUB_BLOCK_MS sub-blocks.
Their power is read from the signal minus its HIGH_PASS_MS moving average, a high-pass (-24 dB
at 100 Hz, -6 dB near 300 Hz) with a 2 ms response, so that rumble, which the speech bands
leave out, does not fill the quiet after speech; and scaled so that their mean is the frame's
level: the sub-blocks share out the frame's level by where in the frame its energy lies, and
are held to the same thresholds as whole frames.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Band edges in Hz: the speech range, split roughly evenly on a perceptual scale. Bands
# above half the sample rate are left out (8 kHz audio uses the ones below 4 kHz).
BAND_EDGES_HZ = (150, 300, 500, 800, 1200, 1800, 2600, 3800)
# The floor never drops below this band power (dB re 1 LSB^2, about -75 dBFS per band), so
# digital silence does not make the faintest hiss look like speech.
MIN_FLOOR_DB = 15.0
# Smoothing of band power between frames (weight of the previous frame): steadies the floor
# and the decision in noise whose bands have few FFT bins (brown noise, low bands).
SMOOTHING = 0.5
ANALYSIS_MS = 30  # spectral window, whatever the frame size
BLOCK = 10  # frames per block of the running minimum
BIAS_SHARE = 0.4  # the share (in dB) of each band's mean-to-minimum ratio added to its floor
CALIBRATION_S = 6  # seeded white noise for floor_bias: one window to settle, then measured
SUB_BLOCK_MS = 5  # resolution of the end of speech inside a frame
HIGH_PASS_MS = 2  # moving average taken off before sub-block power (a high-pass)


@dataclass(frozen=True, slots=True)
class Loudness:
    """How loud one frame is: in absolute terms and against the noise floor."""

    level_db: float  # power in the speech bands, dB re 1 LSB^2 (90.3 dB = full-scale square)
    snr_db: float  # excess of the bands over their noise floors, dB (>= 0)
    raw_snr_db: float  # the same against the bare minimum (no bias correction), dB


class NoiseFloor:
    """Per-band minimum-statistics noise floor; :meth:`measure` one frame at a time."""

    def __init__(
        self, sample_rate: int, frame_len: int, window_ms: int = 3000, calibrated: bool = True
    ) -> None:
        # Every frame is judged on the last ANALYSIS_MS of audio, so that 10, 20 and 30 ms
        # frames see the same spectral detail and the same noise statistics.
        span = sample_rate * ANALYSIS_MS // 1000
        self._span = span
        self._history = np.zeros(span, dtype=np.float64)
        self._nfft = 1 << max(0, span - 1).bit_length()
        freqs = np.fft.rfftfreq(self._nfft, 1.0 / sample_rate)
        edges = [e for e in BAND_EDGES_HZ if e < sample_rate / 2]
        self._cuts = np.searchsorted(freqs, edges)
        # Parseval scaling: band powers sum to the mean square of the frame in those bands.
        self._scale = 2.0 / (self._nfft * span)
        frame_ms = 1000 * frame_len / sample_rate
        self._blocks = max(1, round(window_ms / frame_ms) // BLOCK)
        self._keep = SMOOTHING ** (frame_ms / ANALYSIS_MS)  # the same time constant per frame
        self._mins: list[npt.NDArray[np.float64]] = []  # finished block minima, oldest first
        self._past: npt.NDArray[np.float64] | None = None  # the minimum of them
        self._current: npt.NDArray[np.float64] | None = None  # running min of this block
        self._in_block = 0
        self._smooth: npt.NDArray[np.float64] | None = None
        self._min_floor = 10 ** (MIN_FLOOR_DB / 10)
        bands = len(self._cuts) - 1
        bias = floor_bias(sample_rate, frame_len, window_ms) if calibrated else (1.0,) * bands
        self._bias = np.array(bias) ** BIAS_SHARE
        self.raw_floor: npt.NDArray[np.float64] = np.zeros(bands)  # the minimum, uncorrected

    @property
    def span(self) -> int:
        """Samples each frame's loudness is measured on (the last ANALYSIS_MS)."""
        return self._span

    @property
    def floor_db(self) -> float:
        """The noise floor of all bands together (bias included), dB like ``level_db``."""
        return 10 * math.log10(float((self.raw_floor * self._bias).sum()) + 1e-3)

    def measure(self, frame: npt.NDArray[np.int16]) -> Loudness:
        """Update the floor with ``frame`` and return its loudness."""
        n = len(frame)
        if n >= self._span:
            self._history = frame[-self._span :].astype(np.float64)
        else:
            self._history = np.concatenate([self._history[n:], frame])
        spectrum = np.fft.rfft(self._history, self._nfft)
        power = spectrum.real**2 + spectrum.imag**2
        bands = np.add.reduceat(power, self._cuts)[:-1] * self._scale
        smooth = self._smooth
        smooth = bands if smooth is None else self._keep * smooth + (1 - self._keep) * bands
        self._smooth = smooth
        raw = self.raw_floor = self._track(smooth)
        floor = raw * self._bias
        # Each band is measured against its own floor, so coloured noise (strong low
        # bands) does not mask speech in the quieter bands; the floors are then summed.
        return Loudness(
            10 * math.log10(float(bands.sum()) + 1e-3), _excess(smooth, floor), _excess(smooth, raw)
        )

    def _track(self, smooth: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        current = smooth if self._current is None else np.minimum(self._current, smooth)
        self._in_block += 1
        if self._in_block == BLOCK:
            self._mins.append(current)
            if len(self._mins) > self._blocks:
                del self._mins[0]
            self._past = np.min(self._mins, axis=0)  # once a block, not every frame
            self._current, self._in_block = None, 0
        else:
            self._current = current
        floor = current if self._past is None else np.minimum(current, self._past)
        return np.maximum(floor, self._min_floor)


def _excess(power: npt.NDArray[np.float64], floor: npt.NDArray[np.float64]) -> float:
    return 10 * math.log10(float(np.maximum(power, floor).sum()) / float(floor.sum()))


def high_pass_margin(sample_rate: int) -> int:
    """Samples :func:`sub_block_levels` needs on either side of the part it measures."""
    return sample_rate * HIGH_PASS_MS // 1000 // 2


def sub_block_levels(
    audio: npt.NDArray[np.int16], sample_rate: int, level_db: float
) -> npt.NDArray[np.float64]:
    """dB of each SUB_BLOCK_MS sub-block of ``audio`` without its margins, mean = ``level_db``.

    ``audio`` holds :func:`high_pass_margin` samples on either side of the measured part,
    whose length is a whole number of sub-blocks.
    """
    m = high_pass_margin(sample_rate)
    x = audio.astype(np.float64)
    n = len(x) - 2 * m
    smooth = np.convolve(x, np.full(2 * m, 1 / (2 * m)), "valid")[:n]
    y = x[m : m + n] - smooth
    sub = sample_rate * SUB_BLOCK_MS // 1000
    power = np.mean((y * y).reshape(-1, sub), axis=1) + 1e-9
    share = power / power.mean()
    return np.asarray(level_db + 10 * np.log10(share), dtype=np.float64)


@functools.cache
def floor_bias(sample_rate: int, frame_len: int, window_ms: int) -> tuple[float, ...]:
    """Per band, the mean ratio of smoothed steady-noise power to its running minimum."""
    probe = NoiseFloor(sample_rate, frame_len, window_ms, calibrated=False)
    noise = np.random.default_rng(0).standard_normal(sample_rate * CALIBRATION_S) * 1000
    samples = noise.astype(np.int16)
    settle = sample_rate * window_ms // 1000
    ratios = []
    for pos in range(0, len(samples) - frame_len + 1, frame_len):
        probe.measure(samples[pos : pos + frame_len])
        if pos >= settle and probe._smooth is not None:
            ratios.append(probe._smooth / probe.raw_floor)
    return tuple(float(r) for r in np.mean(ratios, axis=0))
