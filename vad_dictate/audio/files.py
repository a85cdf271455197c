"""Audio input that needs no sound card: WAV reading and a paced file source.

``read_wav`` parses RIFF itself because the standard ``wave`` module rejects
WAVE_FORMAT_EXTENSIBLE and IEEE float files, which many recorders write.
"""

from __future__ import annotations

import asyncio
import shlex
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from math import ceil
from pathlib import Path

import numpy as np

from vad_dictate.audio.block import AudioBlock, Int16Array
from vad_dictate.audio.resample import check_rate, resample
from vad_dictate.errors import InputFileError

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


# -- paced file source ------------------------------------------------------------------------


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
        self.sample_rate = check_rate("rate", rate)
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
