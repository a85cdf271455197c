"""`vad-dictate --input` end to end with files that are not 16 kHz WAV: the words of FLAC,
OGG Vorbis/Opus and MP3 files at 44.1 and 48 kHz come out; files that claim absurd rates
or channel counts, and /dev/zero, end in one sentence and exit 2 within bounded memory."""

from __future__ import annotations

import json
import resource
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.apprun import ROOT, clean_env, run_cli
from tests.wavs import utterances
from vad_dictate.audio.resample import resample

GROUPS = [["alpha", "bravo"], ["charlie", "delta", "echo"]]
MEMORY_LIMIT = 2 * 2**30  # address space for the app: far more than it needs, far less than a leak


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_app(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**clean_env(), "XDG_CONFIG_HOME": str(tmp), "PYTHONPATH": str(ROOT)}
    return run_cli(args, env, timeout=90, preexec_fn=limit_memory)


@pytest.mark.parametrize(
    ("fmt", "subtype", "ext", "rate"),
    [
        ("FLAC", "PCM_16", "flac", 44100),
        ("OGG", "VORBIS", "ogg", 48000),
        ("OGG", "OPUS", "opus", 48000),
        ("MP3", "MPEG_LAYER_III", "mp3", 44100),
    ],
)
def test_words_come_out_of_every_format(
    server_url: str, tmp_path: Path, fmt: str, subtype: str, ext: str, rate: int
) -> None:
    audio = resample(utterances(GROUPS, pause=1.2), 16000, rate)
    path = tmp_path / f"speech.{ext}"
    # Best quality: the tone engine tells words apart by pitch, which a low bitrate smears.
    soundfile.write(path, audio, rate, format=fmt, subtype=subtype, compression_level=0.0)
    res = run_app(
        "--input", str(path), "--url", server_url, "--output", "jsonl", "--speed", "0", tmp=tmp_path
    )
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [x["text"].rstrip(".").lower() for x in lines] == [" ".join(g) for g in GROUPS]


def one_sentence(res: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert res.stdout == "" and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def header(channels: int, rate: int) -> bytes:
    align = (2 * channels) & 0xFFFF
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * align) & 0xFFFFFFFF, align, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    return b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + body + b"data" + struct.pack("<I", 0xFFFFFFFF)


@pytest.mark.parametrize(
    ("channels", "rate", "said"),
    [
        (1, 1, "its header says a sample rate of 1 Hz, outside the 8000-384000 Hz we accept"),
        (1, 4294967295, "its header says a sample rate of 4294967295 Hz, outside the 8000-"),
        (65535, 16000, "its header says 65535 channels, more than the 32 we accept"),
    ],
)
def test_absurd_headers_end_in_one_sentence(
    server_url: str, tmp_path: Path, channels: int, rate: int, said: str
) -> None:
    path = tmp_path / "crafted.wav"
    path.write_bytes(header(channels, rate) + np.zeros(1 << 20, np.uint8).tobytes())
    res = run_app("--input", str(path), "--url", server_url, tmp=tmp_path)
    one_sentence(res, f"Cannot read '{path}': {said}", "re-export it: ffmpeg")


def test_dev_zero_ends_in_one_sentence(server_url: str, tmp_path: Path) -> None:
    res = run_app("--input", "/dev/zero", "--url", server_url, "--speed", "0", tmp=tmp_path)
    one_sentence(res, "Cannot read '/dev/zero': it is not audio in a format we read", "ffmpeg")


def test_junk_that_looks_like_mp3_is_one_line(server_url: str, tmp_path: Path) -> None:
    """libmpg123 prints resync notes on stderr while it probes; they must not get through."""
    path = tmp_path / "junk.mp3"
    path.write_bytes(b"ID3\x04\x00" + bytes(100) + np.random.default_rng(0).bytes(5000))
    res = run_app("--input", str(path), "--url", server_url, tmp=tmp_path)
    one_sentence(res, f"Cannot read '{path}': it is not audio in a format we read")
