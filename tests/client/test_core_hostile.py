"""Hostile servers against the client core (issue 14, client items), in memory: each case
fails on the rules the core replaced."""

from __future__ import annotations

import numpy as np
import pytest

from tests.client.test_core import flat, groups, speech
from tests.faultproxy import results
from tests.pair import Fault, Pair, options
from vad_dictate.client.actions import Connect, Finish, Transmit
from vad_dictate.client.assembler import Assembler
from vad_dictate.client.core import ClientCore
from vad_dictate.client.wire import MAX_IN_FLIGHT_S
from vad_dictate.deepgram import protocol as proto
from vad_dictate.deepgram import retry


def test_a_server_that_closes_at_once_on_reconnect_loses_nothing() -> None:
    expected = groups(4, 21)
    pair = Pair(faults=[Fault(2, "abort", after_finalize=True)], close_on_open={2: 1011, 3: 4000})
    assert pair.dictate(speech(expected), speed=0).exit_code == 0, pair.notices
    assert pair.words() == flat(expected)
    assert pair.connections == 4


@pytest.mark.parametrize("code", [1011, 4000])
def test_a_server_that_always_closes_at_once_is_given_up(code: int) -> None:
    pair = Pair(options(give_up_s=5.0), close_on_open={n: code for n in range(1, 1000)})
    finish = pair.dictate(speech(groups(2, 22)), speed=1.0)
    assert finish.exit_code == 5
    assert "reconnect_give_up_s" in str(finish.error)
    assert all(d > 0 for d in pair.delays[1:])  # a wait after every lost connection
    assert pair.connections <= 12  # backoff, not a spin


HUGE = [
    results(1e305, 1e308, [("huge", 1e308, 1e308)]),
    results(0.0, 1e308, [("wide", 1e305, 1e306)]),
    results(1e308, 1e308, [], is_final=False),
    results(0.0, 0.5, [("far", 0.1, 1e308)]),
]


def test_huge_finite_times_are_rejected_before_any_arithmetic() -> None:
    expected = groups(4, 23)
    pair = Pair(faults=[Fault(30, "inject", payload=list(HUGE))])
    assert pair.dictate(speech(expected), speed=0).exit_code == 0
    assert pair.words() == flat(expected)
    assert pair.connections == 1  # the reader never failed


@pytest.mark.parametrize("raw", HUGE)
def test_the_assembler_takes_huge_times_without_raising(raw: str) -> None:
    asm = Assembler()
    asm.horizon = 16000
    event = proto.parse_server_message(raw)
    assert isinstance(event, proto.FinalResult | proto.InterimResult)
    handle = asm.on_final if isinstance(event, proto.FinalResult) else asm.on_interim
    out = handle(event, 1.0)  # type: ignore[arg-type]
    assert all(not getattr(e, "text", "") for e in out)


def test_closed_on_every_finalize_backs_off_and_gives_up() -> None:
    pair = Pair(options(give_up_s=10.0), close_on_finalize=4000)
    finish = pair.dictate(speech(groups(3, 24)), speed=1.0)
    assert finish.exit_code == 5
    assert pair.connections <= 15
    waits = pair.delays[1:5]  # the first is the opening connect
    assert sorted(waits) == waits and waits[3] >= 0.5


def test_the_close_wait_is_bounded_by_total_time() -> None:
    """A server that keeps talking after CloseStream and never closes."""
    expected = groups(3, 25)
    pair = Pair(options(close_timeout=2.0), chatter_s=1.0)
    finish = pair.dictate(speech(expected), speed=0)
    assert finish.exit_code == 0
    assert pair.words() == flat(expected)
    assert pair.close_sent_at is not None
    assert pair.now - pair.close_sent_at <= 2.0 + 0.5  # close_timeout + nothing unanswered
    assert any("did not close the stream in time" in n for n in pair.notices)


def opened_core() -> tuple[ClientCore, float]:
    core = ClientCore(options(), 1, 16000)
    assert Connect(0.0) in core.start()  # connect at once
    core.connected(0.0)
    message = core.next_send(0.0)
    assert isinstance(message, Transmit) and message.kind == "silence"
    core.sent(message, 0.0)
    return core, 1.0


def test_a_stop_while_reconnecting_ends_at_once() -> None:
    core, now = opened_core()
    actions = core.lost(retry.classify_close(1011, "x"), now)
    assert any(isinstance(a, Connect) and a.delay > 0 for a in actions)
    actions = core.stop(now + 0.01)
    assert [a for a in actions if isinstance(a, Finish)] == [Finish(None)]
    assert core.done


def test_a_stop_while_connected_closes_the_stream() -> None:
    core, now = opened_core()
    assert not any(isinstance(a, Finish) for a in core.stop(now))
    core.input_ended(now)
    message = core.next_send(now)
    assert isinstance(message, Transmit) and message.kind == "close"


def test_a_lost_connection_after_a_stop_is_not_retried() -> None:
    core, now = opened_core()
    core.stop(now)
    actions = core.lost(retry.classify_close(1006), now)
    assert [a for a in actions if isinstance(a, Finish | Connect)] == [Finish(None)]


def test_a_closed_output_ends_the_session_at_once() -> None:
    core, now = opened_core()
    actions = core.output_closed(now)
    assert [a for a in actions if isinstance(a, Finish)] == [Finish(None)]
    assert core.next_send(now) is None


def test_a_slow_server_gets_at_most_the_bound_unread_and_keeps_its_connection() -> None:
    """A file sent to a server decoding at half real time: audio waits for its pongs."""
    expected = groups(8, 24)
    pair = Pair(server_speed=0.5)
    unread: list[int] = []
    pair.hook = lambda p, m: unread.append(p.core.wire.unread_frames)
    assert pair.dictate(speech(expected), speed=0).exit_code == 0, pair.notices
    assert pair.words() == flat(expected)
    assert pair.connections == 1, pair.notices
    bound = MAX_IN_FLIGHT_S * 16000
    assert bound <= max(unread) < bound + 1600  # the last message may cross it


def _pinged() -> ClientCore:
    """A core whose connection has been idle: KeepAlive and a ping left at 4 s."""
    core = ClientCore(options(), 1, 16000)
    core.start()
    core.connected(0.0)
    for now in (0.0, 4.0):
        core.tick(now)
        while isinstance(message := core.next_send(now), Transmit):
            core.sent(message, now)
    assert core.wire.ping_at == 4.0
    return core


# (times the server said something, times of a pong, first tick that finds it gone)
ALIVE = [
    ([], [], 24.0),  # silent and no pong: 20 s after the ping
    ([10.0, 30.0], [], 50.0),  # busy: talking, the pong late; gone 20 s after it fell silent
    ([20.0], [], 40.0),
    ([], [6.0], None),  # answered: a new ping goes with the next KeepAlive only
]


@pytest.mark.parametrize(("talks", "pongs", "gone_at"), ALIVE)
def test_gone_only_when_neither_the_pong_nor_anything_else_came(
    talks: list[float], pongs: list[float], gone_at: float | None
) -> None:
    core = _pinged()
    ping = Transmit(b"", "ping", 1, core.wire.sent_frames)
    events = sorted([(t, "talk") for t in talks] + [(t, "pong") for t in pongs])
    lost: float | None = None
    for step in range(40, 1201):
        now = step / 20
        while events and events[0][0] <= now:
            at, kind = events.pop(0)
            if kind == "talk":
                core.received(proto.parse_server_message('{"type":"SomethingNew"}'), at)
            else:
                core.pong(ping, at)
        if any(isinstance(a, Connect) for a in core.tick(now)):
            lost = now
            break
        if core.wire.ping_at is not None and core.wire.ping_at > 4.0:
            break  # a second ping: the first was answered
    assert lost == gone_at


def test_a_peer_that_answers_nothing_is_lost_after_the_pong_timeout() -> None:
    """Idle after the last utterance, a link that swallows pings and says nothing is gone
    (websockets' own ping used to find it; the core does now)."""
    expected = groups(2, 25)
    audio = np.concatenate([speech(expected), np.zeros(40 * 16000, np.int16)])
    pair = Pair(answer_pings=False)
    lost_at: list[float] = []
    pair.hook = lambda p, m: lost_at.append(p.now) if p.connections == 2 and not lost_at else None
    assert pair.dictate(audio, speed=1.0).exit_code == 0, pair.notices
    assert pair.words() == flat(expected)
    assert pair.connections >= 2
    assert any("stopped reading" in n for n in pair.notices), pair.notices
