"""The server's pure rules for hostile input: query limits, admission, header text, exposure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.tones import wav_bytes
from vad_dictate.engines.tone import ToneEngine
from vad_dictate.server.admission import (
    StreamSlots,
    Ticket,
    exposure_problem,
    header_text,
    is_loopback,
)
from vad_dictate.server.params import ParamError, StreamParams, parse_params
from vad_dictate.server.session import Close, Note, ServerSession

RAW = "encoding=linear16&sample_rate=16000"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (RAW, StreamParams("linear16", 16000)),
        ("encoding=linear16&sample_rate=8000", StreamParams("linear16", 8000)),
        ("encoding=linear16&sample_rate=384000", StreamParams("linear16", 384000)),
        (RAW + "&channels=32", StreamParams("linear16", 16000, channels=32)),
        (
            RAW + "&channels=8&multichannel=true",
            StreamParams("linear16", 16000, channels=8, multichannel=True),
        ),
        ("channels=32", StreamParams(channels=32)),  # WAV streams: the header says the rate
    ],
)
def test_parse_params_accepts_what_is_within_the_limits(query: str, expected: StreamParams) -> None:
    assert parse_params(query) == expected


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (
            "encoding=linear16&sample_rate=7999",
            "sample_rate must be between 8000 and 384000 Hz, not 7999.",
        ),
        (
            "encoding=linear16&sample_rate=384001",
            "sample_rate must be between 8000 and 384000 Hz, not 384001.",
        ),
        (
            "encoding=linear16&sample_rate=0",
            "sample_rate must be between 8000 and 384000 Hz, not 0.",
        ),
        (
            "encoding=linear16&sample_rate=1234567890",
            "Invalid 'sample_rate' value of '1234567890'.",
        ),
        (RAW + "&channels=33", "channels must be between 1 and 32, not 33."),
        (RAW + "&channels=0", "channels must be between 1 and 32, not 0."),
        (RAW + "&channels=-1", "Invalid 'channels' value of '-1'."),
        (
            RAW + "&channels=9&multichannel=true",
            "multichannel=true allows at most 8 channels, not 9; send fewer channels or leave "
            "multichannel off to mix them.",
        ),
        ("sample_rate=5", "sample_rate must be between 8000 and 384000 Hz, not 5."),
    ],
)
def test_parse_params_names_the_limit(query: str, error: str) -> None:
    with pytest.raises(ParamError) as info:
        parse_params(query)
    assert str(info.value) == error


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text", "plain text"),
        ("a\nb\r\nc", r"a\nb\r\nc"),
        ("\x00\x1b[2J\x7f", r"\x00\x1b[2J\x7f"),
        ("caf\u00e9 \u202e \U0001f600", r"caf\xe9 \u202e \U0001f600"),
        ("\udcff", r"\udcff"),  # an undecodable byte, as surrogateescape leaves it
        ("x" * 400, "x" * 297 + "..."),
    ],
)
def test_header_text_is_printable_ascii_and_bounded(text: str, shown: str) -> None:
    assert header_text(text) == shown


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.5", False),
        ("myhost.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "has_key", "allow_open", "refused"),
    [
        ("127.0.0.1", False, False, False),
        ("0.0.0.0", True, False, False),
        ("0.0.0.0", False, True, False),
        ("0.0.0.0", False, False, True),
        ("", False, False, True),
    ],
)
def test_exposure_problem(host: str, has_key: bool, allow_open: bool, refused: bool) -> None:
    problem = exposure_problem(host, has_key, allow_open)
    assert (problem is not None) is refused
    if problem is not None:
        assert "--allow-open" in problem and "DEEPGRAM_API_KEY" in problem
        assert (host or "all interfaces") in problem and "\n" not in problem


def test_stream_slots_and_tickets() -> None:
    slots = StreamSlots(2)
    a, b = Ticket(slots) if slots.take() else None, Ticket(slots) if slots.take() else None
    assert a is not None and b is not None
    assert slots.take() is False and slots.in_use == 2
    a.release()
    a.release()  # once only
    assert slots.in_use == 1 and not a.held and b.held
    assert slots.take() is True and slots.in_use == 2
    with pytest.raises(ValueError):
        StreamSlots(0)
    empty = StreamSlots(1)
    with pytest.raises(ValueError):
        empty.give_back()


def _session(query: str) -> ServerSession:
    return ServerSession(parse_params(query), ToneEngine(), "req", "2026-01-01T00:00:00.000Z")


@pytest.mark.parametrize("junk", ["[" * 100_000, '{"a":' * 100_000, "\u00e9\u0000", "{"])
def test_unparseable_text_is_one_note_and_the_session_goes_on(junk: str) -> None:
    session = _session(RAW)
    out = session.receive_text(junk)
    assert len(out) == 1 and isinstance(out[0], Note)
    assert "\n" not in out[0].text and len(out[0].text) < 300
    assert not session.closed
    assert session.receive_text(json.dumps({"type": "KeepAlive"})) == []


def test_a_wav_header_beyond_the_limits_closes_the_session_1008() -> None:
    session = _session("multichannel=true")
    out = session.receive_bytes(wav_bytes([np.zeros(160, dtype=np.int16)] * 9, 16000))
    assert isinstance(out[0], Note) and "at most 8 channels, not 9" in out[0].text
    assert json.loads(str(out[1]))["type"] == "Metadata"
    assert out[2] == Close(1008, "DATA-0000") and session.closed


def test_a_wav_header_within_the_limits_starts_the_stream() -> None:
    session = _session("")
    assert session.receive_bytes(wav_bytes([np.zeros(1600, dtype=np.int16)] * 32, 8000)) == []
    assert not session.closed
