"""Admission, backpressure and exposure of ``vad-dictate serve`` on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.server.gated import GatedEngine
from tests.server.served import KEY, serve_fails, serving
from tests.server.test_server import RAW, TWO, Exchange, chunks, exchange_async, text
from tests.tones import track
from vad_dictate.server.serve import BackgroundServer

# -- item 13: admission ------------------------------------------------------------------------


def test_streams_beyond_max_streams_get_429_until_one_closes() -> None:
    async def scenario(url: str) -> tuple[InvalidStatus, Exchange]:
        target = f"{url}?{RAW}"
        async with connect(target, proxy=None) as a, connect(target, proxy=None) as b:
            with pytest.raises(InvalidStatus) as info:
                async with connect(target, proxy=None):
                    pass
            await _close_stream(a)
            await _close_stream(b)
        return info.value, await exchange_async(url, RAW, chunks(TWO.samples))

    with serving("--max-streams", "2") as server:
        refused, later = asyncio.run(scenario(server.url))
    assert refused.response.status_code == 429
    assert "serves 2 streams with the tone engine" in refused.response.headers["dg-error"]
    assert [w["word"] for w in later.final_words()] == TWO.text


async def _close_stream(ws: ClientConnection) -> None:
    await ws.send(text("CloseStream"))
    async for _ in ws:
        pass


def test_refused_and_vanished_clients_give_their_slots_back() -> None:
    async def vanish(url: str) -> None:
        for _ in range(50):  # the slot comes back once the server sees the connection drop
            try:
                ws = await connect(f"{url}?{RAW}", proxy=None)
            except InvalidStatus:
                await asyncio.sleep(0.1)
                continue
            await ws.send(TWO.samples[:1600].tobytes())
            ws.transport.abort()  # no close frame, no CloseStream
            return
        raise AssertionError("the slot never came back")

    async def scenario(url: str) -> Exchange:
        for _ in range(5):
            with pytest.raises(InvalidStatus):
                async with connect(f"{url}?{RAW}&channels=x", proxy=None):
                    pass
        for _ in range(3):
            await vanish(url)
        for _ in range(50):
            with contextlib.suppress(InvalidStatus):
                return await exchange_async(url, RAW, chunks(TWO.samples))
            await asyncio.sleep(0.1)
        raise AssertionError("the slot never came back")

    with serving("--max-streams", "1") as server:
        ex = asyncio.run(scenario(server.url))
    assert [w["word"] for w in ex.final_words()] == TWO.text


def test_a_fast_sender_is_held_back_and_loses_nothing() -> None:
    """The server stops reading while the engine is behind; the stream outlives any ping."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    long = track([[w] for w in words * 4], pause_s=1.2)
    data = long.samples.astype("<i2").tobytes()
    frames = [data[i : i + 32000] for i in range(0, len(data), 32000)]  # one second each
    engine = GatedEngine("every", wait_s=60)

    async def scenario(url: str) -> tuple[int, Exchange]:
        accepted, raw = 0, []
        # A ping every second that must be answered within a second: a server that left
        # the client's frames unread while the engine is behind would time it out (1011).
        target = f"{url}?{RAW}&endpointing=false"
        async with connect(target, proxy=None, ping_interval=1, ping_timeout=1) as ws:
            sock = ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)  # measure the server's

            async def reader() -> None:
                with contextlib.suppress(ConnectionClosed):
                    async for message in ws:
                        raw.append(str(message))

            reading = asyncio.create_task(reader())
            started = asyncio.get_running_loop().time()
            pending = asyncio.ensure_future(ws.send(frames[0]))
            while accepted < len(frames) - 1:
                done, _ = await asyncio.wait({pending}, timeout=2)
                if not done:
                    break  # the server stopped reading
                accepted += 1
                pending = asyncio.ensure_future(ws.send(frames[accepted]))
            # Long enough for several pings and their timeouts to have run out.
            await asyncio.sleep(max(0.0, started + 5 - asyncio.get_running_loop().time()))
            engine.gate.set()
            await pending
            for frame in frames[accepted + 1 :]:
                await ws.send(frame)
            await ws.send(text("CloseStream"))
            await asyncio.wait_for(reading, 30)
        messages = [json.loads(m) for m in raw]
        assert ws.response is not None
        return accepted, Exchange(messages, raw, ws.close_code, "", ws.response.headers, None)

    with BackgroundServer(engine) as server:
        accepted, ex = asyncio.run(scenario(server.start()))
    assert accepted < len(frames) and accepted <= 20  # seconds of audio taken while stuck
    assert [w["word"] for w in ex.final_words()] == long.text
    assert ex.code == 1000 and ex.metadata["duration"] == pytest.approx(long.duration, abs=1e-6)


# -- item 14: exposure --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.invalid"])
def test_a_non_loopback_host_without_a_key_is_refused(host: str) -> None:
    res = serve_fails("--host", host)
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "without an API key" in lines[0] and "--allow-open" in lines[0]


def test_allow_open_passes_the_exposure_check() -> None:
    # 192.0.2.1 (TEST-NET-1) is not on this machine: binding fails after the check passed.
    res = serve_fails("--host", "192.0.2.1", "--allow-open")
    assert res.returncode == 2 and "Cannot listen on 192.0.2.1" in res.stderr
    assert "without an API key" not in res.stderr


def test_api_key_file_keeps_the_key_out_of_the_process_list(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    with serving("--api-key-file", str(key_file)) as server:
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
        with pytest.raises(InvalidStatus) as info:
            asyncio.run(exchange_async(server.url, RAW, []))
        ok = asyncio.run(
            exchange_async(server.url, RAW, [], headers={"Authorization": f"Token {KEY}"})
        )
    assert KEY.encode() not in cmdline
    assert info.value.response.status_code == 401 and ok.code == 1000


def test_api_key_on_the_command_line_still_works_with_a_warning() -> None:
    with serving("--api-key", KEY) as server:
        ok = asyncio.run(
            exchange_async(server.url, RAW, [], headers={"Authorization": f"Token {KEY}"})
        )
        log = server.log()
    assert ok.code == 1000
    warning = [line for line in log.splitlines() if "process list" in line]
    assert len(warning) == 1 and "--api-key-file" in warning[0] and KEY not in log


@pytest.mark.parametrize(("content", "needle"), [("", "is empty"), (None, "Cannot read")])
def test_a_bad_api_key_file_is_one_sentence(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)
    res = serve_fails("--api-key-file", str(key_file))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and needle in res.stderr


def test_help_says_where_the_key_should_come_from() -> None:
    res = serve_fails("--help")
    assert res.returncode == 0
    flat = " ".join(res.stdout.split())
    assert "DEEPGRAM_API_KEY" in flat and "--api-key-file" in flat and "process list" in flat
    assert "--allow-open" in flat and "--max-streams" in flat


def test_command_line_refuses_a_zero_stream_limit() -> None:
    res = serve_fails("--max-streams", "0")
    assert res.returncode == 2 and "--max-streams must be at least 1" in res.stderr
