"""Whisper's 80-bin log-mel spectrogram, in numpy: the input of the smart-turn model.

Pure: no I/O. The recipe is Whisper's (and the WhisperFeatureExtractor's that smart-turn was
trained with): 16 kHz audio, a 400-point periodic Hann window every 160 samples (25 ms / 10 ms)
on reflect-padded ("centred") frames, the power spectrum, a Slaney-style mel filterbank
(linear below 1 kHz, logarithmic above, each triangle scaled to unit area in Hz), the log10
clamped at 1e-10, then limited to 8 decades below the loudest bin and mapped by (x + 4) / 4.
The last STFT frame is dropped, so N samples give N // 160 frames.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
DYNAMIC_RANGE = 8.0  # decades of power kept below the loudest bin
FloatArray = npt.NDArray[np.float32]

# Slaney's mel scale: 3 mels per 200 Hz up to 1 kHz, then 27 mels per factor 6.4.
_LINEAR_HZ_PER_MEL = 200.0 / 3
_BREAK_HZ = 1000.0
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney mel value of each frequency."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _LINEAR_HZ_PER_MEL
    log = _BREAK_HZ / _LINEAR_HZ_PER_MEL + np.log(np.maximum(hz, 1e-9) / _BREAK_HZ) / _LOG_STEP
    out: npt.NDArray[np.float64] = np.where(hz < _BREAK_HZ, linear, log)
    return out


def mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    brk = _BREAK_HZ / _LINEAR_HZ_PER_MEL
    out: npt.NDArray[np.float64] = np.where(
        mel < brk, mel * _LINEAR_HZ_PER_MEL, _BREAK_HZ * np.exp(_LOG_STEP * (mel - brk))
    )
    return out


def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = RATE) -> FloatArray:
    """(n_mels, n_fft // 2 + 1) triangular filters, each of unit area over frequency in Hz."""
    bins = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(np.array(rate / 2)), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lo) / (mid - lo)
    falling = (hi - bins[None, :]) / (hi - mid)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= 2.0 / (hi - lo)  # a triangle of height h and base b has area h * b / 2
    return weights.astype(np.float32)


def sparse_filters(
    filters: FloatArray,
) -> tuple[npt.NDArray[np.intp], FloatArray, npt.NDArray[np.intp]]:
    """(bins, weights, starts): each filter's run of non-zero bins, laid end to end."""
    nonzero = filters > 0
    counts = nonzero.sum(axis=1)
    if counts.min() < 1:
        raise ValueError("every mel filter needs at least one FFT bin")
    rows, bins = np.nonzero(nonzero)  # row-major: runs in filter order, bins rising
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    return bins.astype(np.intp), filters[rows, bins][:, None], starts


_FILTERS = mel_filters()
# The filterbank as runs of bins: a triangle covers 1-14 of the 201 bins, so summing the runs
# does 1/40 of the dense product's work, with no BLAS call (whose idle threads spin on the
# other core for milliseconds after each product, which counted as much as the model).
_BINS, _WEIGHTS, _STARTS = sparse_filters(_FILTERS)
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def power_spectrogram(audio: FloatArray) -> FloatArray:
    """(n_fft // 2 + 1, len // HOP) power spectra of Hann-windowed, centred 25 ms frames."""
    padded = np.pad(audio.astype(np.float32), N_FFT // 2, mode="reflect")
    return _power(_frames(padded)[:-1])  # Whisper drops the last frame


def _frames(padded: FloatArray) -> FloatArray:
    """(count, n_fft) frames every HOP samples of already padded audio."""
    count = 1 + (len(padded) - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    out: FloatArray = padded[index]
    return out


def _power(frames: FloatArray) -> FloatArray:
    """(n_fft // 2 + 1, count) power spectra of Hann-windowed frames."""
    spectrum = np.fft.rfft(frames * _WINDOW, axis=1)
    power: FloatArray = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power.T


def log_mel(audio: FloatArray) -> FloatArray:
    """(80, len // 160) Whisper log-mel features of 16 kHz float audio in [-1, 1]."""
    return _to_log_mel(power_spectrogram(audio))


def padded_window(tail: FloatArray, length: int, eps: float) -> FloatArray:
    """The ``length``-sample window that is zeros and then ``tail``, normalised over the whole
    window (zeros included) to zero mean and unit variance (``eps`` added to the variance)."""
    if len(tail) > length:
        raise ValueError(f"the tail ({len(tail)} samples) is longer than the window ({length})")
    window = np.zeros(length, dtype=np.float32)
    window[length - len(tail) :] = tail
    out: FloatArray = (window - window.mean()) / np.sqrt(window.var() + eps)
    return out


def padded_log_mel(tail: FloatArray, length: int, eps: float) -> FloatArray:
    """(80, length // 160) features of :func:`padded_window`: its ``log_mel``, to the bit.

    Normalised, the zeros are one constant, so every frame that lies wholly in them has the
    same spectrum: it goes through the FFT once, and only the frames that reach ``tail`` do too.
    """
    half = N_FFT // 2
    window = padded_window(tail, length, eps)
    first = (length - len(tail) - half) // HOP  # the frames before this one see only zeros
    if first < 2:  # a frame this early reaches the reflected start: every frame is needed
        return log_mel(window)
    body = np.pad(window[first * HOP - half :], (0, half), mode="reflect")
    frames = np.vstack([window[:N_FFT], _frames(body)[:-1]])  # the zeros' frame, then the rest
    features = _to_log_mel(_power(frames))
    return np.concatenate([np.repeat(features[:, :1], first, axis=1), features[:, 1:]], axis=1)


def _to_log_mel(power: FloatArray) -> FloatArray:
    mel = np.add.reduceat(power[_BINS] * _WEIGHTS, _STARTS, axis=0)
    logs = np.log10(np.maximum(mel, 1e-10))
    logs = np.maximum(logs, logs.max() - DYNAMIC_RANGE)
    out: FloatArray = ((logs + 4.0) / 4.0).astype(np.float32)
    return out
