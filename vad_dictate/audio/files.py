"""Audio input that needs no sound card: reading audio files and a paced file source.

libsndfile (through soundfile) decodes WAV of every kind (PCM 8-32 bit, float,
WAVE_FORMAT_EXTENSIBLE, A-law, µ-law, ADPCM), FLAC, OGG Vorbis/Opus and MP3. Files are
read and resampled in bounded pieces, so an endless pipe costs no more memory than a
short recording. A header we cannot trust (a sample rate outside 8-384 kHz, more than
32 channels) is refused before anything is allocated for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shlex
import stat
import struct
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from vad_dictate.audio.block import AudioBlock, Int16Array
from vad_dictate.audio.resample import (
    Float32Array,
    StreamResampler,
    check_rate,
    output_length,
    to_int16,
)
from vad_dictate.errors import InputFileError

MIN_RATE, MAX_RATE = 8000, 384000
MAX_CHANNELS = 32
READ_S = 0.25  # decoded per read: bounds memory whatever the file claims
HOLD_MAX_S = 5.0  # a paced batch never gathers more, whatever ``hold`` says: bounds memory
_SNIFF_BYTES = 4096  # how much of a rejected file is looked at to name its problem
_FORMATS = "WAV, FLAC, OGG Vorbis/Opus or MP3"
# WAVE format tags libsndfile decodes, and names for some it does not.
_DECODED_TAGS = frozenset({0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0xFFFE})
_TAG_NAMES = {
    0x0040: "G.721 ADPCM",
    0x0050: "MPEG",
    0x0055: "MP3",
    0x0161: "Windows Media Audio",
    0x2000: "AC-3",
    0xF1AC: "FLAC",
}


@dataclass(frozen=True, slots=True)
class WavAudio:
    """A whole decoded file: int16 frames of shape (n, channels) at the file's own rate."""

    samples: Int16Array
    sample_rate: int
    channels: int


def _convert_hint(path: str) -> str:
    src = Path(path)
    dst = src.with_suffix(".wav") if src.suffix.lower() != ".wav" else src.with_suffix(".16k.wav")
    return f"ffmpeg -i {shlex.quote(path)} -ar 16000 -ac 1 {shlex.quote(str(dst))}"


def _fail(path: str, problem: str, fix: str) -> InputFileError:
    return InputFileError(f"Cannot read '{path}': {problem}; {fix}")


def _check_access(path: str) -> None:
    """Name the usual reasons a path cannot be read, before libsndfile sees it."""
    try:
        info = os.stat(path)
        if stat.S_ISFIFO(info.st_mode):
            # Opening a pipe to probe it would let its writer in and then hang up on it (EPIPE).
            if not os.access(path, os.R_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        else:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except FileNotFoundError as exc:
        raise _fail(path, "the file does not exist", "check the path and spelling") from exc
    except PermissionError as exc:
        fix = f"make it readable (chmod a+r {shlex.quote(path)}) or run as its owner"
        raise _fail(path, "permission denied", fix) from exc
    except OSError as exc:
        raise _fail(path, f"the system refused ({exc.strerror})", "check the file") from exc
    if stat.S_ISDIR(info.st_mode):
        raise _fail(path, "it is a directory", "give the path of an audio file inside it")
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        raise _fail(path, "the file is empty", "record or export the audio again")


def _check_shape(path: str, rate: int, channels: int) -> None:
    """Refuse headers whose rate or channel count no recording has."""
    what = ""
    if channels <= 0:
        what = "0 channels"
    elif rate <= 0:
        what = "a sample rate of 0"
    elif not MIN_RATE <= rate <= MAX_RATE:
        what = f"a sample rate of {rate} Hz, outside the {MIN_RATE}-{MAX_RATE} Hz we accept"
    elif channels > MAX_CHANNELS:
        what = f"{channels} channels, more than the {MAX_CHANNELS} we accept"
    if what:
        raise _fail(path, f"its header says {what}", f"re-export it: {_convert_hint(path)}")


def _wav_fmt(head: bytes) -> tuple[int, int, int] | None:
    """(format tag, rate, channels) from the fmt chunk in the first bytes of a RIFF file."""
    pos = 12
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if cid == b"fmt " and pos + 16 <= len(head):
            tag, channels, rate = struct.unpack_from("<HHI", head, pos + 8)
            return tag, rate, channels
        pos += 8 + size + (size & 1)
    return None


def _explain(path: str, exc: soundfile.LibsndfileError) -> InputFileError:
    """Turn libsndfile's refusal into one sentence naming the problem and the fix."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    detail = exc.error_string.rstrip(".").split(". ")[-1].lower()
    if head[:4] in (b"RIFF", b"RF64") and (len(head) < 12 or head[8:12] == b"WAVE"):
        fmt = _wav_fmt(head)
        if fmt is not None:
            tag, rate, channels = fmt
            _check_shape(path, rate, channels)
            if tag not in _DECODED_TAGS:
                name = _TAG_NAMES.get(tag, "an encoding we cannot decode")
                problem = f"its audio is {name} (WAVE format tag 0x{tag:04X})"
                return _fail(path, problem, f"convert it to PCM with: {_convert_hint(path)}")
        problem = f"its WAV header is damaged or truncated ({detail})"
        return _fail(path, problem, f"re-export it: {_convert_hint(path)}")
    if head[:4] == b"RIFF" and len(head) >= 12:
        form = head[8:12].decode("latin-1")
        problem = f"it is a RIFF file of type '{form}', not WAVE audio"
        return _fail(path, problem, f"convert it with: {_convert_hint(path)}")
    problem = f"it is not audio in a format we read ({_FORMATS})"
    return _fail(path, problem, f"convert it with: {_convert_hint(path)}")


@contextlib.contextmanager
def _decoder_chatter_hidden() -> Iterator[None]:
    """Silence fd 2 while libsndfile probes a file: libmpg123 prints its resync notes there
    for anything that looks like MP3, which would bury our one-sentence error."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def open_audio(path: str | Path) -> soundfile.SoundFile:
    """Open an audio file for reading, or raise InputFileError with one sentence."""
    name = str(path)
    _check_access(name)
    try:
        with _decoder_chatter_hidden():
            f = soundfile.SoundFile(name)
    except soundfile.LibsndfileError as exc:
        raise _explain(name, exc) from exc
    try:
        _check_shape(name, f.samplerate, f.channels)
    except InputFileError:
        f.close()
        raise
    return f


def _read(f: soundfile.SoundFile, name: str, frames: int) -> Float32Array:
    """Up to ``frames`` frames as float32 at full scale; a mid-file decode error is one sentence."""
    try:
        data: Float32Array = f.read(frames, dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as exc:
        problem = f"the audio is damaged ({exc.error_string.rstrip('.').lower()})"
        raise _fail(name, problem, f"re-export it: {_convert_hint(name)}") from exc
    return data


def read_wav(path: str | Path) -> WavAudio:
    """Read a whole audio file (any format ``open_audio`` takes) as int16 frames."""
    name = str(path)
    with open_audio(name) as f:
        step = max(1, round(f.samplerate * READ_S))
        parts = []
        while len(piece := _read(f, name, step)):
            parts.append(to_int16(piece))
        samples = np.concatenate(parts) if parts else np.zeros((0, f.channels), np.int16)
        return WavAudio(samples, f.samplerate, f.channels)


# -- paced file source ------------------------------------------------------------------------


class _Cutter:
    """A file decoded a piece at a time (in a worker thread) and cut into blocks of
    ``block_frames`` at ``rate`` (the last may be shorter): ``ready`` holds the blocks
    decoded and not yet taken, as (samples, start), in order."""

    def __init__(self, f: soundfile.SoundFile, path: str, rate: int, block_frames: int) -> None:
        self._file, self._path, self._block = f, path, block_frames
        self._resampler = StreamResampler(f.samplerate, rate, f.channels)
        self._step = max(1, round(f.samplerate * READ_S))
        self._pending = np.zeros((0, f.channels), np.int16)  # decoded, less than a block
        self._start = 0  # frame index of the next block cut
        self._done = False
        self.ready: deque[tuple[Int16Array, int]] = deque()
        self._ready_frames = 0

    async def fill(self, frames: int) -> bool:
        """Decode until ``ready`` holds ``frames`` frames or the file ends; False once empty."""
        while not self._done and self._ready_frames < frames:
            piece = await asyncio.to_thread(_read, self._file, self._path, self._step)
            self._done = len(piece) == 0
            out = self._resampler.flush() if self._done else self._resampler.process(piece)
            pending = np.concatenate([self._pending, out.reshape(-1, self._pending.shape[1])])
            cut = len(pending) if self._done else len(pending) - len(pending) % self._block
            for pos in range(0, cut, self._block):
                samples = pending[pos : pos + self._block].copy()
                self.ready.append((samples, self._start))
                self._start += len(samples)
                self._ready_frames += len(samples)
            self._pending = pending[cut:]
        return bool(self.ready)

    def end(self, i: int) -> int:
        """The frame index just after ready block ``i``."""
        samples, start = self.ready[i]
        return start + len(samples)

    def reaching(self, frames: int) -> int:
        """The first ready block with which the ready blocks hold ``frames`` (else the last)."""
        first = self.ready[0][1]
        for i in range(len(self.ready)):
            if self.end(i) - first >= frames:
                return i
        return len(self.ready) - 1

    def take(self) -> tuple[Int16Array, int]:
        samples, start = self.ready.popleft()
        self._ready_frames -= len(samples)
        return samples, start


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class FileSource:
    """An audio file played into the pipeline at ``speed`` x real time (0 = as fast as possible).

    The file is opened (and its header checked) here and decoded piece by piece as the
    blocks are taken; blocks are ``block_ms`` long at ``rate`` except the last.
    """

    live = False  # a file can wait for the network; a microphone cannot
    overflows_portaudio = 0  # a file never overflows
    overflows_queue = 0

    def __init__(
        self, path: str | Path, *, speed: float = 1.0, rate: int = 16000, block_ms: int = 20
    ) -> None:
        if not speed >= 0:
            raise ValueError(f"speed must be 0 (no pacing) or more, not {speed}")
        if block_ms <= 0:
            raise ValueError(f"block_ms must be positive, not {block_ms}")
        self.path = str(path)
        self.speed = float(speed)
        self.sample_rate = check_rate("rate", rate)
        self.block_frames = max(1, self.sample_rate * block_ms // 1000)
        self.hold = 0  # frames a paced batch gathers (see AudioSource); at most HOLD_MAX_S
        self._release_asked = False  # release() was called since a batch last went out
        self._waiter: asyncio.Future[None] | None = None  # what a waiting batch awaits
        self._file = open_audio(self.path)
        self.channels = self._file.channels
        self.file_rate = self._file.samplerate
        # Pipes do not know their length; libsndfile then reports a huge frame count.
        known = self._file.seekable()
        n = output_length(self._file.frames, self.file_rate, self.sample_rate)
        self.duration_s: float | None = n / self.sample_rate if known else None

    def close(self) -> None:
        self._file.close()

    def reset(self) -> None:
        """Nothing to do: a file does not fail like a device that can be reopened."""

    def release(self) -> None:
        """Send every block that is due now, waking a batch that waits (event loop thread)."""
        self._release_asked = True
        if self._waiter is not None:
            _settle(self._waiter)

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        """Yield the blocks in order. Unpaced: one per turn of the event loop. Paced: a block
        is due when its last frame would have been spoken, t0 + end / rate / speed, and that
        is its ``captured_at``; blocks go out in batches of at least ``hold`` frames (read
        anew for each batch), each batch when its last block is due, together with every
        decoded block already due; ``release()`` sends what is due at once."""
        cut = _Cutter(self._file, self.path, self.sample_rate, self.block_frames)
        self._release_asked = False
        try:
            if self.speed == 0:
                while await cut.fill(1):
                    samples, start = cut.take()
                    await asyncio.sleep(0)  # let other tasks run between blocks
                    yield AudioBlock(samples, start, time.monotonic())
                return
            t0 = time.monotonic()

            def due(end: int) -> float:
                return t0 + end / self.sample_rate / self.speed

            most = round(HOLD_MAX_S * self.sample_rate)
            while await cut.fill(hold := max(1, min(self.hold, most))):
                now = await self._until(due(cut.end(cut.reaching(hold))))
                while cut.ready and due(cut.end(0)) <= now:
                    samples, start = cut.take()
                    yield AudioBlock(samples, start, due(start + len(samples)))
        finally:
            self._file.close()

    async def _until(self, deadline: float) -> float:
        """Wait until ``deadline`` (monotonic) or ``release()``; the time blocks are due by."""
        delay = deadline - time.monotonic()
        if not self._release_asked and delay > 0:
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(delay, _settle, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        if self._release_asked:
            self._release_asked = False
            return time.monotonic()
        return max(deadline, time.monotonic())
