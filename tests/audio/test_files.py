"""WAV reading, resampling and the paced file source, on generated fixtures and a real recording."""

from __future__ import annotations

import contextlib
import os
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from vad_dictate.audio.files import read_wav
from vad_dictate.errors import InputFileError

DATA = Path(__file__).resolve().parents[1] / "data"
CLIP = DATA / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.wav"
GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE


# -- fixture writers --------------------------------------------------------------------------


def chunk(cid: bytes, body: bytes, size: int | None = None) -> bytes:
    """A RIFF chunk with its pad byte; ``size`` overrides the written size field."""
    pad = b"\x00" if len(body) % 2 else b""
    return cid + struct.pack("<I", len(body) if size is None else size) + body + pad


def fmt_body(
    tag: int, channels: int, rate: int, bits: int, *, sub: int | None = None, valid: int = 0
) -> bytes:
    """A fmt chunk body; ``sub`` makes it WAVE_FORMAT_EXTENSIBLE with that sub-format."""
    width = (bits + 7) // 8
    align = width * channels
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if sub is None:
        return body
    guid = struct.pack("<H", sub) + GUID_TAIL
    return body + struct.pack("<HHI", 22, valid or bits, 0) + guid


def wav_file(
    path: Path, fmt: bytes, data: bytes, *, extra: bytes = b"", size: int | None = None
) -> Path:
    """Write RIFF/WAVE with ``extra`` chunks between fmt and data."""
    body = b"WAVE" + chunk(b"fmt ", fmt) + extra + chunk(b"data", data, size)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def ramp(n: int, channels: int) -> npt.NDArray[np.int16]:
    """Distinct values on every channel, covering the int16 range."""
    x = np.linspace(-32768, 32767, n * channels).round().astype(np.int16)
    return x.reshape(n, channels)


def tone(freq: float, rate: int, seconds: float, amp: float = 0.5) -> npt.NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


# -- read_wav: formats ------------------------------------------------------------------------


def test_pcm16_stereo_44100(tmp_path: Path) -> None:
    x = ramp(1000, 2)
    w = read_wav(wav_file(tmp_path / "a.wav", fmt_body(PCM, 2, 44100, 16), x.tobytes()))
    assert (w.sample_rate, w.channels, w.samples.dtype) == (44100, 2, np.dtype(np.int16))
    assert np.array_equal(w.samples, x)


def test_pcm8_unsigned_8000(tmp_path: Path) -> None:
    raw = np.array([0, 1, 127, 128, 129, 255], dtype=np.uint8)
    w = read_wav(wav_file(tmp_path / "a.wav", fmt_body(PCM, 1, 8000, 8), raw.tobytes()))
    assert w.sample_rate == 8000
    assert w.samples[:, 0].tolist() == [-32768, -32512, -256, 0, 256, 32512]


def pack24(values: list[int]) -> bytes:
    return b"".join(struct.pack("<i", v)[:3] for v in values)


def rounded(values: list[int], shift: int) -> list[int]:
    """The nearest int16 to each value scaled down by 2**shift (ties to even), clipped."""
    return [int(np.clip(np.rint(v / 2**shift), -32768, 32767)) for v in values]


def test_pcm24_mono_48000_rounds_to_16_bits(tmp_path: Path) -> None:
    values = [0, 0x7FFFFF, -0x800000, 0x123456, -0x123456, 255, -1, 0x80, 0x7F]
    w = read_wav(wav_file(tmp_path / "a.wav", fmt_body(PCM, 1, 48000, 24), pack24(values)))
    assert w.sample_rate == 48000
    assert w.samples[:, 0].tolist() == rounded(values, 8)


def test_pcm32(tmp_path: Path) -> None:
    values = np.array([0, 2**31 - 1, -(2**31), 0x12345678, -0x12345678], dtype="<i4")
    w = read_wav(wav_file(tmp_path / "a.wav", fmt_body(PCM, 1, 16000, 32), values.tobytes()))
    assert w.samples[:, 0].tolist() == rounded([int(v) for v in values], 16)


@pytest.mark.parametrize(("bits", "dtype"), [(32, "<f4"), (64, "<f8")])
def test_float_is_scaled_rounded_and_clipped(tmp_path: Path, bits: int, dtype: str) -> None:
    values = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -3.0, 1e-6], dtype=dtype)
    w = read_wav(wav_file(tmp_path / "a.wav", fmt_body(FLOAT, 1, 22050, bits), values.tobytes()))
    assert w.samples[:, 0].tolist() == [0, 16384, -16384, 32767, -32768, 32767, -32768, 0]


def test_extensible_pcm16_stereo(tmp_path: Path) -> None:
    x = ramp(300, 2)
    fmt = fmt_body(EXTENSIBLE, 2, 48000, 16, sub=PCM)
    w = read_wav(wav_file(tmp_path / "a.wav", fmt, x.tobytes()))
    assert (w.sample_rate, w.channels) == (48000, 2)
    assert np.array_equal(w.samples, x)


def test_extensible_24_valid_bits_in_32_bit_container(tmp_path: Path) -> None:
    values = np.array([0x7FFFFF00, -0x80000000, 0x12345600], dtype="<i4")
    fmt = fmt_body(EXTENSIBLE, 1, 96000, 32, sub=PCM, valid=24)
    w = read_wav(wav_file(tmp_path / "a.wav", fmt, values.tobytes()))
    assert w.samples[:, 0].tolist() == [0x7FFF, -0x8000, 0x1234]


def test_extensible_float32_six_channels(tmp_path: Path) -> None:
    x = np.tile(np.array([0.25, -0.25, 0.0, 1.0, -1.0, 0.5], dtype="<f4"), (10, 1))
    fmt = fmt_body(EXTENSIBLE, 6, 44100, 32, sub=FLOAT)
    w = read_wav(wav_file(tmp_path / "a.wav", fmt, x.tobytes()))
    assert w.channels == 6 and w.samples.shape == (10, 6)
    assert w.samples[3].tolist() == [8192, -8192, 0, 32767, -32768, 16384]


def test_odd_chunks_list_fact_and_padding(tmp_path: Path) -> None:
    x = ramp(101, 1)
    extra = chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00Lavf\x00") + chunk(
        b"fact", b"\x65\x00\x00\x00"
    )
    extra += chunk(b"odd ", b"abc")  # odd size: followed by a pad byte
    w = read_wav(
        wav_file(tmp_path / "a.wav", fmt_body(PCM, 1, 16000, 16), x.tobytes(), extra=extra)
    )
    assert np.array_equal(w.samples, x)


def test_chunk_after_odd_sized_data_is_ignored(tmp_path: Path) -> None:
    data = ramp(5, 1).tobytes() + b"\x7f"  # a stray byte: half a frame, dropped
    fmt = fmt_body(PCM, 1, 16000, 16)
    body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"data", data) + chunk(b"LIST", b"INFO")
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert np.array_equal(read_wav(path).samples, ramp(5, 1))


@pytest.mark.parametrize("size", [0xFFFFFFFF, 10**6])
def test_streaming_or_cut_data_sizes_read_to_end_of_file(tmp_path: Path, size: int) -> None:
    x = ramp(77, 2)
    fmt = fmt_body(PCM, 2, 16000, 16)
    w = read_wav(wav_file(tmp_path / "a.wav", fmt, x.tobytes(), size=size))
    assert np.array_equal(w.samples, x)


def test_rf64_and_w64(tmp_path: Path) -> None:
    x = ramp(50, 2)
    for fmt in ("RF64", "W64"):
        path = tmp_path / f"a.{fmt.lower()}"
        soundfile.write(path, x, 16000, format=fmt, subtype="PCM_16")
        assert path.read_bytes()[:4] in (b"RF64", b"riff")
        assert np.array_equal(read_wav(path).samples, x)


def test_empty_audio_is_allowed(tmp_path: Path) -> None:
    w = read_wav(wav_file(tmp_path / "a.wav", fmt_body(PCM, 2, 16000, 16), b""))
    assert w.samples.shape == (0, 2) and w.samples.dtype == np.int16


def test_real_recording_matches_stdlib_wave() -> None:
    with wave.open(str(CLIP)) as f:
        expected = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
        rate = f.getframerate()
    w = read_wav(CLIP)
    assert (w.sample_rate, w.channels) == (rate, 1) == (16000, 1)
    assert np.array_equal(w.samples[:, 0], expected)


# -- read_wav: errors -------------------------------------------------------------------------


def message(path: Path) -> str:
    with pytest.raises(InputFileError) as info:
        read_wav(path)
    text = str(info.value)
    assert text.startswith(f"Cannot read '{path}': ")
    assert text.count("; ") == 1 and "\n" not in text  # one sentence: problem; fix
    assert info.value.exit_code == 2
    return text


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.wav"
    assert message(p) == f"Cannot read '{p}': the file does not exist; check the path and spelling"


def test_directory(tmp_path: Path) -> None:
    assert "it is a directory; give the path of an audio file inside it" in message(tmp_path)


@contextlib.contextmanager
def unreadable(path: Path) -> Iterator[None]:
    """Make ``path`` unreadable for this process; root ignores modes, so drop to nobody."""
    path.chmod(0)
    as_root = os.geteuid() == 0
    if as_root:
        os.seteuid(65534)
    try:
        yield
    finally:
        if as_root:
            os.seteuid(0)
        path.chmod(0o644)


def test_permission_denied(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    p = wav_file(tmp_path / "locked.wav", fmt_body(PCM, 1, 16000, 16), b"\x00\x00")
    with unreadable(p):
        text = message(p)
    assert f"permission denied; make it readable (chmod a+r {p})" in text


def test_not_riff(tmp_path: Path) -> None:
    p = tmp_path / "x.mp3"
    p.write_bytes(b"ID3\x04\x00" + bytes(100))
    assert message(p) == (
        f"Cannot read '{p}': it is not audio in a format we read (WAV, FLAC, OGG Vorbis/Opus or "
        f"MP3); convert it with: ffmpeg -i {p} -ar 16000 -ac 1 {tmp_path / 'x.wav'}"
    )


def test_text_is_not_audio(tmp_path: Path) -> None:
    p = tmp_path / "notes.wav"
    p.write_text("these are not audio samples\n")
    assert "it is not audio in a format we read (WAV, FLAC" in message(p)


def test_riff_but_not_wave(tmp_path: Path) -> None:
    p = tmp_path / "movie.avi"
    p.write_bytes(b"RIFF" + struct.pack("<I", 100) + b"AVI " + bytes(100))
    assert "it is a RIFF file of type 'AVI ', not WAVE audio; convert it with: ffmpeg" in message(p)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "e.wav"
    p.write_bytes(b"")
    assert "the file is empty;" in message(p)


@pytest.mark.parametrize("keep", [6, 20, 30])
def test_truncated_header(tmp_path: Path, keep: int) -> None:
    full = wav_file(tmp_path / "full.wav", fmt_body(PCM, 1, 16000, 16), bytes(100)).read_bytes()
    p = tmp_path / "cut.wav"
    p.write_bytes(full[:keep])
    text = message(p)
    assert "truncated" in text and f"re-export it: ffmpeg -i {p} -ar 16000 -ac 1 " in text


def test_no_data_chunk(tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    body = b"WAVE" + chunk(b"fmt ", fmt_body(PCM, 1, 16000, 16)) + chunk(b"LIST", b"INFO")
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert "its WAV header is damaged or truncated (no 'data' chunk marker)" in message(p)


@pytest.mark.parametrize(
    ("tag", "name"),
    [
        (0x0055, "MP3"),
        (0x0161, "Windows Media Audio"),
        (0x1234, "an encoding we cannot decode"),
    ],
)
def test_undecodable_encodings_name_the_tag(tmp_path: Path, tag: int, name: str) -> None:
    p = wav_file(tmp_path / "a.wav", fmt_body(tag, 1, 8000, 8), bytes(10))
    assert message(p) == (
        f"Cannot read '{p}': its audio is {name} (WAVE format tag 0x{tag:04X}); "
        f"convert it to PCM with: ffmpeg -i {p} -ar 16000 -ac 1 {tmp_path / 'a.16k.wav'}"
    )


@pytest.mark.parametrize(
    ("subtype", "tolerance"),
    [("ALAW", 1100), ("ULAW", 1100), ("IMA_ADPCM", 2500), ("GSM610", 9000)],
)
def test_compressed_wav_encodings_decode(tmp_path: Path, subtype: str, tolerance: int) -> None:
    """A-law, µ-law, IMA ADPCM and GSM 6.10 WAVs (refused before libsndfile) now play."""
    x = tone(440, 8000, 0.5, amp=0.3)
    p = tmp_path / "a.wav"
    soundfile.write(p, x, 8000, subtype=subtype)
    w = read_wav(p)
    assert w.sample_rate == 8000 and abs(len(w.samples) - len(x)) < 512
    n = min(len(x), len(w.samples)) - 200
    assert np.abs(w.samples[200:n, 0].astype(int) - x[200:n]).max() < tolerance


def test_extensible_unknown_guid(tmp_path: Path) -> None:
    fmt = fmt_body(EXTENSIBLE, 1, 8000, 16, sub=PCM)[:-14] + bytes(14)
    p = wav_file(tmp_path / "a.wav", fmt, bytes(10))
    assert "its WAV header is damaged or truncated (" in message(p)


@pytest.mark.parametrize(
    ("channels", "rate", "what"), [(0, 16000, "0 channels"), (1, 0, "a sample rate of 0")]
)
def test_zero_channels_or_rate(tmp_path: Path, channels: int, rate: int, what: str) -> None:
    fmt = struct.pack("<HHIIHH", PCM, channels, rate, 0, 2, 16)
    p = wav_file(tmp_path / "a.wav", fmt, bytes(10))
    assert f"its header says {what};" in message(p)


def test_unsupported_sample_width(tmp_path: Path) -> None:
    p = wav_file(tmp_path / "a.wav", fmt_body(PCM, 1, 16000, 40), bytes(10))
    assert "its WAV header is damaged or truncated (" in message(p)
