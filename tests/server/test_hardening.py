"""Hostile clients against ``vad-dictate serve``: unparseable text, unprintable requests, limits."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.exceptions import InvalidStatus

from tests.server.gated import GatedEngine
from tests.server.served import KEY, PRINTABLE, raw_request, serving
from tests.server.test_server import RAW, TWO, Exchange, chunks, exchange_async
from tests.tones import interleave, track, wav_bytes
from vad_dictate.server.serve import BackgroundServer

# -- item 10: text that cannot be parsed --------------------------------------------------------


def test_deeply_nested_json_is_one_log_line_and_the_stream_goes_on() -> None:
    with serving() as server:
        steps = ["[" * 100_000, *chunks(TWO.samples), '{"a":' * 50_000]
        ex = asyncio.run(exchange_async(server.url, RAW, steps))
        log = server.log()
    assert [w["word"] for w in ex.final_words()] == TWO.text
    assert ex.code == 1000 and ex.messages[-1]["type"] == "Metadata"
    assert "Traceback" not in log and "RecursionError" not in log
    ignored = [line for line in log.splitlines() if "not JSON" in line]
    assert len(ignored) == 2 and all(len(line) < 400 for line in ignored)


# -- item 11: client text echoed into headers ---------------------------------------------------


@pytest.mark.parametrize(
    ("target", "status", "shown"),
    [
        (b"/v1/\x01listen", 404, r"/v1/\x01listen"),
        (b"/v1/listen\x7f", 404, r"/v1/listen\x7f"),
        (b"/v1/listen?encoding=linear16&sample_rate=1%0a6000", 400, r"'1\n6000'"),
        (b"/v1/listen?encoding=linear16&sample_rate=1%0d%0aX-Evil:%201", 400, r"'1\r\nX-Evil: 1'"),
        (b"/v1/listen?encoding=linear16&sample_rate=%C3%A9", 400, r"'\xe9'"),
        (b"/v1/listen?encoding=linear16&sample_rate=%E2%80%AE1", 400, r"'\u202e1'"),
        (b"/v1/listen?encoding=%00linear16&sample_rate=16000", 400, r"'\x00linear16'"),
    ],
)
def test_unprintable_text_in_path_or_query_is_refused_with_a_sanitised_dg_error(
    target: bytes, status: int, shown: str
) -> None:
    with serving(env={"DEEPGRAM_API_KEY": KEY}) as server:
        auth = f"Authorization: Token {KEY}\r\n".encode()
        got, headers = raw_request(server.port, target, auth)
        if status == 404:  # the path is checked before the credentials
            assert raw_request(server.port, target)[0] == 404
        log = server.log()
    assert got == status
    assert PRINTABLE.match(headers["dg-error"]) and shown in headers["dg-error"]
    assert "X-Evil" not in headers and "dg-request-id" in headers
    assert "Traceback" not in log


def test_the_log_escapes_the_request_target() -> None:
    with serving() as server:
        target = b"/v1/listen?encoding=linear16&sample_rate=16000&tag=x\rFAKE\x1b[2J"
        assert raw_request(server.port, target)[0] == 101
        for _ in range(100):  # the handler logs the stream's opening once it starts
            if ": open " in (log := server.log()):
                break
            time.sleep(0.1)
    assert "tag=x\\rFAKE\\x1b[2J" in log
    assert "\r" not in log and "\x1b" not in log


# -- item 12: what one request may ask for ------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (
            "encoding=linear16&sample_rate=383999&channels=32&multichannel=true",
            "multichannel=true allows at most 8 channels, not 32;",
        ),
        ("encoding=linear16&sample_rate=7999", "between 8000 and 384000 Hz, not 7999."),
        ("encoding=linear16&sample_rate=384001", "between 8000 and 384000 Hz, not 384001."),
        ("encoding=linear16&sample_rate=9" + "9" * 5000, "Invalid 'sample_rate' value of"),
        (RAW + "&channels=33", "channels must be between 1 and 32, not 33."),
    ],
)
def test_requests_beyond_the_limits_get_400_naming_the_limit(query: str, error: str) -> None:
    with serving() as server:
        with pytest.raises(InvalidStatus) as info:
            asyncio.run(exchange_async(server.url, query, []))
        log = server.log()
    response = info.value.response
    assert response.status_code == 400 and error in response.headers["dg-error"]
    assert "Traceback" not in log


def test_eight_channels_at_an_odd_rate_are_served_word_for_word() -> None:
    rate = 383999
    tracks = [
        track([[word]], lead_s=0.1 + 0.05 * i, rate=rate)
        for i, word in enumerate(
            ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
        )
    ]
    frames = interleave([t.samples for t in tracks])
    query = f"encoding=linear16&sample_rate={rate}&channels=8&multichannel=true"
    with serving() as server:
        ex = asyncio.run(exchange_async(server.url, query, chunks(frames, 8, rate, 250)))
    for i, t in enumerate(tracks):
        assert [w["word"] for w in ex.final_words(i)] == t.text
    assert ex.metadata["channels"] == 8


def test_a_wav_header_beyond_the_limits_closes_1008() -> None:
    data = wav_bytes([TWO.samples[:1600]] * 9, 16000)
    with serving() as server:
        ex = asyncio.run(exchange_async(server.url, "multichannel=true", [data], close=False))
        log = server.log()
    assert ex.code == 1008 and [m["type"] for m in ex.messages] == ["Metadata"]
    assert "at most 8 channels, not 9" in log


def test_a_stream_whose_recognizers_load_slowly_does_not_stall_the_others() -> None:
    engine = GatedEngine("load")

    async def scenario(url: str) -> tuple[Exchange, Exchange]:
        slow = asyncio.create_task(exchange_async(url, RAW, chunks(TWO.samples)))
        await asyncio.sleep(0.3)  # the first stream is now building its recognizer
        free = await exchange_async(url, RAW, chunks(TWO.samples))
        engine.gate.set()  # only reachable if the event loop kept serving
        return free, await slow

    with BackgroundServer(engine) as server:
        free, slow = asyncio.run(scenario(server.start()))
    assert engine.opened_in_time
    assert [w["word"] for w in free.final_words()] == TWO.text
    assert [w["word"] for w in slow.final_words()] == TWO.text
