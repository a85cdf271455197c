"""The wire's send order and in-flight bound (pure, exact): audio waits once
``max_in_flight_s`` of it is unread by the server, pings go out at half the bound and with
every KeepAlive, and only this connection's pongs count."""

from __future__ import annotations

from itertools import groupby

import pytest

from vad_dictate.client.actions import Transmit
from vad_dictate.client.outbox import Outbox
from vad_dictate.client.pipeline import SendAudio
from vad_dictate.client.wire import Wire

RATE = 16000
CHUNK = 800  # 50 ms
SILENCE = SendAudio(bytes(3200), 1600)


def queued(seconds: float) -> Outbox:
    outbox = Outbox(RATE * 600)
    chunks = round(seconds * RATE / CHUNK)
    outbox.extend([SendAudio(bytes(2 * CHUNK), CHUNK, CHUNK * (i + 1)) for i in range(chunks)])
    return outbox


def send_all(wire: Wire, outbox: Outbox, now: float = 0.0) -> tuple[str, list[Transmit]]:
    """Send whatever the wire hands out until it says wait; the kinds, run-length coded."""
    sent: list[Transmit] = []
    while isinstance(message := wire.next(outbox, False, now), Transmit):
        assert wire.sent(message, now)
        if message.item is not None:
            outbox.mark_sent()
        sent.append(message)
    runs = [(k, len(list(g))) for k, g in groupby(m.kind for m in sent)]
    return " ".join(k if n == 1 else f"{k}*{n}" for k, n in runs), sent


def opened(max_in_flight_s: float = 1.0) -> Wire:
    wire = Wire(RATE, replay_speed=0.0, keepalive_s=4.0, max_in_flight_s=max_in_flight_s)
    wire.open(1, SILENCE, replaying=False, now=0.0)
    return wire


# (seconds queued, bound s) -> what goes before the wire waits, frames unread then
CASES = [
    (0.3, 1.0, "silence audio*6", 6400),  # under half the bound: no ping needed
    (2.0, 1.0, "silence audio*8 ping audio*10", 16000),  # a ping at half, audio to the bound
    (2.0, 2.0, "silence audio*18 ping audio*20", 32000),
    (0.0, 1.0, "silence", 1600),
]


@pytest.mark.parametrize(("seconds", "bound", "kinds", "unread"), CASES)
def test_audio_waits_at_the_bound(seconds: float, bound: float, kinds: str, unread: int) -> None:
    wire, outbox = opened(bound), queued(seconds)
    assert send_all(wire, outbox)[0] == kinds
    assert wire.unread_frames == unread


def test_a_pong_lets_the_audio_read_since_go_on() -> None:
    wire, outbox = opened(), queued(3.0)
    _, sent = send_all(wire, outbox, 0.0)
    ping = next(m for m in sent if m.kind == "ping")
    assert (ping.frames, wire.ping_at) == (8000, 0.0)
    assert wire.pong(ping)
    assert (wire.read_frames, wire.ping_at) == (8000, None)
    # Still half the bound unread: the next ping goes first, then 0.5 s more audio.
    kinds, sent = send_all(wire, outbox, 1.0)
    assert kinds == "ping audio*10"
    assert (sent[0].frames, wire.unread_frames) == (16000, 16000)


def test_a_pong_of_an_older_connection_counts_for_nothing() -> None:
    wire, outbox = opened(), queued(3.0)
    _, sent = send_all(wire, outbox)
    ping = next(m for m in sent if m.kind == "ping")
    wire.close()
    wire.open(2, SILENCE, replaying=True, now=5.0)
    assert not wire.pong(ping)
    assert (wire.read_frames, wire.unread_frames, wire.ping_at) == (0, 0, None)


def test_keepalive_brings_a_ping_one_at_a_time() -> None:
    wire, outbox = opened(), queued(0.0)
    send_all(wire, outbox)
    wire.tick(3.9)
    assert send_all(wire, outbox, 3.9)[0] == ""
    wire.tick(4.0)
    assert send_all(wire, outbox, 4.0)[0] == "keepalive ping"
    assert wire.ping_at == 4.0
    wire.tick(8.0)  # the ping still waits for its pong: no second one
    assert send_all(wire, outbox, 8.0)[0] == "keepalive"
