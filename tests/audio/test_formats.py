"""Audio files beyond 16-bit WAV: FLAC, OGG Vorbis/Opus and MP3 made from a real recording,
headers whose rate or channel count no recording has, and an endless stream read in
bounded memory."""

from __future__ import annotations

import asyncio
import os
import struct
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from vad_dictate.audio.files import (
    MAX_CHANNELS,
    MAX_RATE,
    MIN_RATE,
    FileSource,
    _check_access,
    read_wav,
)
from vad_dictate.errors import InputFileError

DATA = Path(__file__).resolve().parents[1] / "data"
CLIP = DATA / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.wav"
LOSSY = [("OGG", "VORBIS", "ogg"), ("OGG", "OPUS", "opus"), ("MP3", "MPEG_LAYER_III", "mp3")]


def clip() -> npt.NDArray[np.int16]:
    return read_wav(CLIP).samples


def snr_db(ref: npt.NDArray[np.int16], got: npt.NDArray[np.int16]) -> float:
    r, g = ref.astype(np.float64), got.astype(np.float64)
    return float(10 * np.log10(np.sum(r**2) / np.sum((g - r) ** 2)))


def test_flac_is_read_exactly(tmp_path: Path) -> None:
    x = clip()
    p = tmp_path / "c.flac"
    soundfile.write(p, x, 16000, format="FLAC")
    w = read_wav(p)
    assert (w.sample_rate, w.channels) == (16000, 1)
    assert np.array_equal(w.samples, x)


@pytest.mark.parametrize(("fmt", "subtype", "ext"), LOSSY)
def test_lossy_formats_keep_the_recording(tmp_path: Path, fmt: str, subtype: str, ext: str) -> None:
    """Same length, no shift, and the speech well above the codec's error (measured 12-22 dB
    at libsndfile's default settings for a 16 kHz LibriVox clip)."""
    x = clip()
    p = tmp_path / f"c.{ext}"
    soundfile.write(p, x, 16000, format=fmt, subtype=subtype)
    w = read_wav(p)
    assert (w.sample_rate, w.channels, w.samples.shape) == (16000, 1, x.shape)
    assert snr_db(x[4000:-4000], w.samples[4000:-4000]) > 8


def header(channels: int, rate: int, bits: int = 16) -> bytes:
    """A PCM WAV header whose data size says 'until the end' (as streaming writers do)."""
    align = channels * bits // 8
    rate_bytes = (rate * align) & 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate_bytes, align & 0xFFFF, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    return b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + body + b"data" + struct.pack("<I", 0xFFFFFFFF)


@pytest.mark.parametrize(
    ("channels", "rate", "said"),
    [
        (1, 1, f"a sample rate of 1 Hz, outside the {MIN_RATE}-{MAX_RATE} Hz we accept"),
        (1, 7999, "a sample rate of 7999 Hz, outside"),
        (1, 384001, "a sample rate of 384001 Hz, outside"),
        (1, 4294967295, "a sample rate of 4294967295 Hz, outside"),
        (33, 16000, f"33 channels, more than the {MAX_CHANNELS} we accept"),
        (65535, 16000, "65535 channels, more than the 32 we accept"),
    ],
)
def test_absurd_headers_are_refused(tmp_path: Path, channels: int, rate: int, said: str) -> None:
    p = tmp_path / "a.wav"
    p.write_bytes(header(channels, rate) + bytes(64 * channels))
    with pytest.raises(InputFileError) as info:
        read_wav(p)
    text = str(info.value)
    assert text.startswith(f"Cannot read '{p}': its header says {said}")
    assert text.count("; ") == 1 and "re-export it: ffmpeg" in text
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("channels", "rate"), [(1, MIN_RATE), (1, MAX_RATE), (MAX_CHANNELS, 16000)]
)
def test_the_limits_themselves_are_accepted(tmp_path: Path, channels: int, rate: int) -> None:
    x = np.arange(10 * channels, dtype=np.int16).reshape(10, channels)
    p = tmp_path / "a.wav"
    soundfile.write(p, x, rate, subtype="PCM_16")
    w = read_wav(p)
    assert (w.sample_rate, w.channels) == (rate, channels) and np.array_equal(w.samples, x)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_checking_a_pipe_does_not_let_its_writer_in(tmp_path: Path) -> None:
    """Probing a FIFO by opening it would wake a writer waiting in open() and then hang up
    on it: the writer's first write fails with EPIPE and libsndfile then waits for ever."""
    fifo = tmp_path / "stream.wav"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:
        with open(fifo, "wb"):
            opened.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    wchan = Path(f"/proc/self/task/{thread.native_id}/wchan")
    for _ in range(500):
        if wchan.exists() and wchan.read_text() == "wait_for_partner":
            break
        threading.Event().wait(0.01)
    assert wchan.read_text() == "wait_for_partner", "the writer never blocked in open()"
    _check_access(str(fifo))
    woken = opened.wait(0.5)
    os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # let the writer go either way
    thread.join(timeout=10)
    assert not woken, "the check opened the pipe and let the writer in"


def test_endless_stream_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """200 MB of 48 kHz stereo through a pipe (about 18 minutes of audio): the source
    resamples it piece by piece while the process grows by far less than the stream."""
    fifo = tmp_path / "stream.wav"
    os.mkfifo(fifo)
    piece = np.random.default_rng(0).integers(-3000, 3000, (48000, 2), dtype=np.int16).tobytes()
    seconds = 200 * 2**20 // len(piece)

    def writer() -> None:
        with open(fifo, "wb") as f:
            f.write(header(2, 48000))
            for _ in range(seconds):
                f.write(piece)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    src = FileSource(fifo, speed=0)
    assert src.duration_s is None and (src.channels, src.file_rate) == (2, 48000)
    peak, frames = 0.0, 0

    async def run() -> None:
        nonlocal peak, frames
        start = rss_mb()
        async for block in src.blocks():
            frames += len(block.samples)
            if block.start % 160000 == 0:
                peak = max(peak, rss_mb() - start)

    asyncio.run(run())
    thread.join(timeout=10)
    assert frames == seconds * 16000
    assert peak < 60, f"grew by {peak:.0f} MB while reading {seconds * len(piece) >> 20} MB"
