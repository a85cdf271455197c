"""The WAV header that starts a stream sent without ``encoding`` (pure)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_WAV_HEADER = 1 << 16


class WavError(ValueError):
    """The stream does not start with a 16-bit PCM WAV header."""


@dataclass(frozen=True, slots=True)
class WavFormat:
    """What a WAV header says, and where its audio starts."""

    rate: int
    channels: int
    data_offset: int


def parse_wav_header(buf: bytes) -> WavFormat | None:
    """Return the format once the header is complete, None if more bytes are needed."""
    if not b"RIFF".startswith(buf[:4]) or (len(buf) >= 12 and buf[8:12] != b"WAVE"):
        raise WavError("not a RIFF/WAVE stream")
    pos, fmt = 12, None
    while len(buf) >= pos + 8:
        chunk_id, size = buf[pos : pos + 4], int.from_bytes(buf[pos + 4 : pos + 8], "little")
        if chunk_id == b"data":
            if fmt is None:
                raise WavError("data before fmt")
            return WavFormat(fmt[0], fmt[1], pos + 8)
        end = pos + 8 + size + (size & 1)
        if end > MAX_WAV_HEADER:
            raise WavError("header too long")
        if len(buf) < end:
            return None
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(buf[pos + 8 : pos + 8 + size])
        pos = end
    return None


def _parse_fmt(body: bytes) -> tuple[int, int]:
    if len(body) < 16:
        raise WavError("short fmt chunk")
    tag, channels, rate = (
        int.from_bytes(body[i : i + n], "little") for i, n in ((0, 2), (2, 2), (4, 4))
    )
    bits = int.from_bytes(body[14:16], "little")
    if tag == 0xFFFE and len(body) >= 26:
        tag = int.from_bytes(body[24:26], "little")  # WAVE_FORMAT_EXTENSIBLE sub-format
    if tag != 1 or bits != 16:
        raise WavError("only 16-bit PCM WAV is supported")
    return rate, channels
