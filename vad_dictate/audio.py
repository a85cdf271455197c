"""Audio input that needs no sound card: WAV reading, resampling and a paced file source.

``read_wav`` parses RIFF itself because the standard ``wave`` module rejects
WAVE_FORMAT_EXTENSIBLE and IEEE float files, which many recorders write.

Resampling is a windowed-sinc (Kaiser) polyphase FIR with integer taps: every
output sample is an exact integer dot product, so ``StreamResampler`` gives the
same bits as ``resample`` whatever the chunking. Output length convention: ``n``
input frames become ``floor(n * dst / src + 1/2)`` output frames (rounded half
up); output frame ``j`` is the signal at input time ``j * src / dst``, with
silence assumed before the first and after the last input frame.
"""

from __future__ import annotations

import asyncio
import shlex
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from math import ceil, gcd
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vad_dictate.errors import InputFileError

Int16Array = npt.NDArray[np.int16]

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_STREAMING_SIZES = (0, 0xFFFFFFFF)  # data sizes written by writers that could not seek back
_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "µ-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0040: "G.721 ADPCM",
    0x0050: "MPEG",
    0x0055: "MP3",
    0x0161: "Windows Media Audio",
    0x2000: "AC-3",
    0xF1AC: "FLAC",
}


# -- WAV reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WavAudio:
    """Decoded WAV contents: int16 frames of shape (n, channels)."""

    samples: Int16Array
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class _Format:
    tag: int  # _PCM or _FLOAT after unwrapping WAVE_FORMAT_EXTENSIBLE
    channels: int
    rate: int
    width: int  # bytes per sample in the container


def _convert_hint(path: str) -> str:
    src = Path(path)
    dst = src.with_suffix(".wav") if src.suffix.lower() != ".wav" else src.with_suffix(".16k.wav")
    return f"ffmpeg -i {shlex.quote(path)} -ar 16000 -ac 1 {shlex.quote(str(dst))}"


def _fail(path: str, problem: str, fix: str) -> InputFileError:
    return InputFileError(f"Cannot read '{path}': {problem}; {fix}")


def _read_bytes(path: str) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError as exc:
        raise _fail(path, "the file does not exist", "check the path and spelling") from exc
    except IsADirectoryError as exc:
        raise _fail(path, "it is a directory", "give the path of a WAV file inside it") from exc
    except PermissionError as exc:
        fix = f"make it readable (chmod a+r {shlex.quote(path)}) or run as its owner"
        raise _fail(path, "permission denied", fix) from exc
    except OSError as exc:
        raise _fail(path, f"the system refused ({exc.strerror})", "check the file") from exc


def _iter_chunks(path: str, raw: bytes) -> tuple[bytes | None, tuple[int, int] | None]:
    """Return the fmt chunk body and the (offset, size) of the data chunk."""
    fmt: bytes | None = None
    data: tuple[int, int] | None = None
    pos = 12
    while pos + 8 <= len(raw) and (fmt is None or data is None):
        cid, size = raw[pos : pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = pos + 8
        if cid == b"data":
            if size in _STREAMING_SIZES or body + size > len(raw):
                size = len(raw) - body  # unfinished or cut-off recording: read what is there
            data = (body, size)
        elif cid == b"fmt ":
            if body + size > len(raw):
                raise _fail(
                    path, "the WAV header is truncated", f"re-export it: {_convert_hint(path)}"
                )
            fmt = raw[body : body + size]
        pos = body + size + (size & 1)  # chunks are padded to an even size
    return fmt, data


def _parse_format(path: str, body: bytes) -> _Format:
    if len(body) < 16:
        raise _fail(path, "its fmt chunk is truncated", f"re-export it: {_convert_hint(path)}")
    tag, channels, rate, _, align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 40 or body[26:40] != _GUID_TAIL:
            problem = "its WAVE_FORMAT_EXTENSIBLE header has an unknown sub-format"
            raise _fail(path, problem, f"convert it with: {_convert_hint(path)}")
        tag = struct.unpack_from("<H", body, 24)[0]
    if tag not in (_PCM, _FLOAT):
        name = _FORMAT_NAMES.get(tag, "an unsupported encoding")
        problem = f"its audio is {name} (WAVE format tag 0x{tag:04X}), which is not supported"
        raise _fail(path, problem, f"convert it to PCM with: {_convert_hint(path)}")
    if channels == 0 or rate == 0:
        what = "0 channels" if channels == 0 else "a sample rate of 0"
        raise _fail(path, f"its header says {what}", f"re-export it: {_convert_hint(path)}")
    width = align // channels if align and align % channels == 0 else ceil(bits / 8)
    if (tag == _PCM and width not in (1, 2, 3, 4)) or (tag == _FLOAT and width not in (4, 8)):
        kind = "integer" if tag == _PCM else "float"
        problem = f"its samples are {bits}-bit {kind} in {width}-byte slots, which is not supported"
        raise _fail(path, problem, f"convert it with: {_convert_hint(path)}")
    return _Format(tag, channels, rate, width)


def _decode(payload: bytes, fmt: _Format) -> Int16Array:
    """Turn little-endian sample bytes into int16 (higher depths keep their top 16 bits)."""
    n = len(payload) // (fmt.width * fmt.channels) * fmt.channels
    buf = payload[: n * fmt.width]
    if fmt.tag == _FLOAT:
        x = np.frombuffer(buf, dtype="<f4" if fmt.width == 4 else "<f8").astype(np.float64)
        out = np.clip(np.rint(np.nan_to_num(x) * 32768.0), -32768, 32767).astype(np.int16)
    elif fmt.width == 1:
        out = ((np.frombuffer(buf, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    elif fmt.width == 2:
        out = np.frombuffer(buf, dtype="<i2").astype(np.int16)
    elif fmt.width == 3:
        b = np.frombuffer(buf, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        out = ((b[:, 1] | (b[:, 2] << 8)) << 16 >> 16).astype(np.int16)  # top two bytes, signed
    else:
        out = (np.frombuffer(buf, dtype="<i4") >> 16).astype(np.int16)
    return out.reshape(-1, fmt.channels)


def read_wav(path: str | Path) -> WavAudio:
    """Read a PCM (8/16/24/32-bit) or float (32/64-bit) WAV file as int16 frames."""
    name = str(path)
    raw = _read_bytes(name)
    if not raw:
        raise _fail(name, "the file is empty", "record or export the audio again")
    if raw[:4] not in (b"RIFF", b"RF64"):
        problem = "it is not a WAV file (no RIFF header)"
        raise _fail(name, problem, f"convert it with: {_convert_hint(name)}")
    if len(raw) < 12:
        raise _fail(name, "the WAV header is truncated", f"re-export it: {_convert_hint(name)}")
    if raw[8:12] != b"WAVE":
        form = raw[8:12].decode("latin-1")
        problem = f"it is a RIFF file of type '{form}', not WAVE audio"
        raise _fail(name, problem, f"convert it with: {_convert_hint(name)}")
    fmt_body, data = _iter_chunks(name, raw)
    if fmt_body is None:
        problem = "the WAV header is truncated or has no fmt chunk"
        raise _fail(name, problem, f"re-export it: {_convert_hint(name)}")
    fmt = _parse_format(name, fmt_body)
    if data is None:
        problem = "it has no data chunk (the header is truncated)"
        raise _fail(name, problem, f"re-export it: {_convert_hint(name)}")
    samples = _decode(raw[data[0] : data[0] + data[1]], fmt)
    return WavAudio(samples, fmt.rate, fmt.channels)


# -- resampling -------------------------------------------------------------------------------

_ZERO_CROSSINGS = 24  # filter half-width, in samples of the lower of the two rates
_CUTOFF = 0.88  # passband edge as a fraction of the lower Nyquist frequency
_KAISER_BETA = 9.0  # about 90 dB stopband attenuation
_TAP_BITS = 24  # taps are integers scaled by 2**24
_SLICE = 8192  # outputs computed per vectorised step (bounds temporary memory)


def _check_rate(name: str, rate: int) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer number of Hz, not {rate!r}")
    return int(rate)


def output_length(n: int, src_rate: int, dst_rate: int) -> int:
    """Frames that ``n`` input frames become: n * dst / src rounded half up."""
    return (2 * n * dst_rate + src_rate) // (2 * src_rate)


class _Filter:
    """The polyphase tap table for one (src, dst) pair; phase p is the fraction p / up."""

    def __init__(self, src: int, dst: int) -> None:
        g = gcd(src, dst)
        self.up, self.down = dst // g, src // g
        self.half = ceil(_ZERO_CROSSINGS * max(1.0, src / dst))  # half-width in input samples
        self.taps = 2 * self.half
        fc = _CUTOFF * min(src, dst) / (2 * src)  # cutoff, cycles per input sample
        width = _ZERO_CROSSINGS * max(1.0, src / dst)
        phase = np.arange(self.up, dtype=np.float64)[:, None] / self.up
        tau = phase + (self.half - 1) - np.arange(self.taps, dtype=np.float64)[None, :]
        ratio = np.clip(tau / width, -1.0, 1.0)
        window = np.i0(_KAISER_BETA * np.sqrt(1.0 - ratio * ratio)) / np.i0(_KAISER_BETA)
        h = 2 * fc * np.sinc(2 * fc * tau) * np.where(np.abs(tau) < width, window, 0.0)
        h /= h.sum(axis=1, keepdims=True)  # unity DC gain on every phase: no ripple at DC
        self.table = np.rint(h * (1 << _TAP_BITS)).astype(np.int32)

    def apply(
        self, buf: npt.NDArray[np.int16], first: int, js: npt.NDArray[np.int64]
    ) -> Int16Array:
        """Outputs ``js`` from ``buf`` (frames, channels) whose row 0 is input frame ``first``."""
        out = np.empty((len(js), buf.shape[1]), dtype=np.int16)
        offsets = np.arange(self.taps, dtype=np.int64)[None, :]
        for s in range(0, len(js), _SLICE):
            j = js[s : s + _SLICE]
            start = (j * self.down) // self.up - (self.half - 1) - first
            windows = buf[start[:, None] + offsets].astype(np.int64)  # (n, taps, channels)
            taps = self.table[(j * self.down) % self.up].astype(np.int64)  # (n, taps)
            acc = np.einsum("nt,ntc->nc", taps, windows)
            rounded = (acc + (1 << (_TAP_BITS - 1))) >> _TAP_BITS
            out[s : s + _SLICE] = np.clip(rounded, -32768, 32767)
        return out


class StreamResampler:
    """Resample chunk by chunk; concatenated output equals ``resample`` of the whole signal."""

    def __init__(self, src_rate: int, dst_rate: int, channels: int = 1) -> None:
        self.src_rate = _check_rate("src_rate", src_rate)
        self.dst_rate = _check_rate("dst_rate", dst_rate)
        if channels < 1:
            raise ValueError(f"channels must be at least 1, not {channels}")
        self.channels = channels
        self._flat = channels == 1  # flush() answers in the shape process() was last given
        self._filter = None if src_rate == dst_rate else _Filter(self.src_rate, self.dst_rate)
        pre = 0 if self._filter is None else self._filter.half - 1
        self._buf = np.zeros((pre, channels), dtype=np.int16)  # silence before the signal
        self._first = -pre  # input frame index of self._buf[0]
        self._received = 0
        self._emitted = 0

    def _as_frames(self, chunk: npt.NDArray[np.int16]) -> Int16Array:
        if chunk.dtype != np.int16:
            raise TypeError(f"samples must be int16, not {chunk.dtype}")
        self._flat = chunk.ndim == 1
        frames = chunk.reshape(-1, 1) if chunk.ndim == 1 else chunk
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s), got shape {chunk.shape}")
        return frames

    def _shape(self, frames: Int16Array) -> Int16Array:
        return frames.reshape(-1) if self._flat and self.channels == 1 else frames

    def _emit(self, end: int) -> Int16Array:
        """Compute outputs up to (excluding) ``end`` and drop input no longer needed."""
        f = self._filter
        assert f is not None
        js = np.arange(self._emitted, max(end, self._emitted), dtype=np.int64)
        out = f.apply(self._buf, self._first, js)
        self._emitted += len(js)
        keep_from = (self._emitted * f.down) // f.up - (f.half - 1)
        drop = max(0, keep_from - self._first)
        self._buf, self._first = self._buf[drop:], self._first + drop
        return out

    def process(self, chunk: npt.NDArray[np.int16]) -> Int16Array:
        """Take the next input frames; return every output frame they complete."""
        frames = self._as_frames(chunk)
        self._received += len(frames)
        if self._filter is None:
            self._emitted += len(frames)
            return self._shape(frames.copy())
        self._buf = np.concatenate([self._buf, frames])
        f = self._filter
        # Output j needs inputs up to floor(j*down/up) + half, all of which must have arrived.
        ready = self._received - f.half
        end = (ready * f.up + f.down - 1) // f.down if ready > 0 else 0
        return self._shape(self._emit(end))

    def flush(self) -> Int16Array:
        """End of input: return the remaining output frames (silence assumed after the end)."""
        total = output_length(self._received, self.src_rate, self.dst_rate)
        if self._filter is None:
            return self._shape(np.zeros((0, self.channels), dtype=np.int16))
        pad = np.zeros((self._filter.taps + self._filter.half, self.channels), dtype=np.int16)
        self._buf = np.concatenate([self._buf, pad])
        return self._shape(self._emit(total))


def resample(x: npt.NDArray[np.int16], src_rate: int, dst_rate: int) -> Int16Array:
    """Resample 1-D or (n, channels) int16 audio; exact copy when the rates are equal."""
    channels = 1 if x.ndim == 1 else x.shape[1]
    r = StreamResampler(src_rate, dst_rate, channels)
    head = r.process(x)
    return np.concatenate([head, r.flush()])


# -- paced file source ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """Frames at the pipeline rate; ``start`` counts frames since the session began."""

    samples: Int16Array  # shape (n, channels)
    start: int
    captured_at: float  # time.monotonic() when the last frame was captured or released


class FileSource:
    """A WAV file played into the pipeline at ``speed`` x real time (0 = as fast as possible)."""

    live = False  # a file can wait for the network; a microphone cannot

    def __init__(
        self, path: str | Path, *, speed: float = 1.0, rate: int = 16000, block_ms: int = 20
    ) -> None:
        if not speed >= 0:
            raise ValueError(f"speed must be 0 (no pacing) or more, not {speed}")
        if block_ms <= 0:
            raise ValueError(f"block_ms must be positive, not {block_ms}")
        wav = read_wav(path)
        self.path = str(path)
        self.speed = float(speed)
        self.sample_rate = _check_rate("rate", rate)
        self.channels = wav.channels
        self.block_frames = max(1, self.sample_rate * block_ms // 1000)
        self._samples = resample(wav.samples, wav.sample_rate, self.sample_rate)
        self.duration_s = len(self._samples) / self.sample_rate

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        """Yield blocks, each released when its last frame is due: t0 + end / rate / speed."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        total = len(self._samples)
        for start in range(0, total, self.block_frames):
            end = min(total, start + self.block_frames)
            if self.speed > 0:
                due = t0 + end / self.sample_rate / self.speed
                await asyncio.sleep(max(0.0, due - loop.time()))
            else:
                await asyncio.sleep(0)  # let other tasks run between blocks
            yield AudioBlock(self._samples[start:end].copy(), start, time.monotonic())
