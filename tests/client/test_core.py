"""The client core without a socket: every fault of the proxy suite (tests/client/test_faults.py),
replayed in memory against the real server session on a simulated clock (tests/pair.py).

Each case checks what the proxy suite checks: every word printed exactly once, in order,
the number of connections, and what the user was told.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from tests.faultproxy import results
from tests.pair import RATE, Fault, Pair, options
from tests.wavs import utterances
from vad_dictate.audio.block import AudioBlock, Int16Array
from vad_dictate.client.core import ClientCore
from vad_dictate.client.pipeline import PipelineSettings
from vad_dictate.engines.tone import WORDS


def groups(n: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(WORDS) for _ in range(rng.randint(2, 5))] for _ in range(n)]


def flat(expected: list[list[str]]) -> list[str]:
    return [w for g in expected for w in g]


@dataclass(frozen=True)
class Case:
    """One fault scenario: a proxy-suite test in memory."""

    name: str
    faults: Callable[[], list[Fault]]
    connections: int
    told: str = ""  # a line the user is shown
    n: int = 4
    seed: int = 7
    refused: int = 0
    opts: dict[str, object] = field(default_factory=dict)


CASES = [
    *[
        Case(f"{kind}@{at}", lambda k=kind, a=at: [Fault(a, k)], 2, "connection lost", 4, at)  # type: ignore[misc]
        for kind in ("close1011", "abort")
        for at in (15, 40, 75)
    ],
    Case("stall", lambda: [Fault(60, "stall")], 2, "stopped answering"),
    Case("refused", lambda: [Fault(50, "refuse", refuse=3)], 2, "HTTP 503", seed=8, refused=3),
    *[
        Case(
            f"{kind} between Finalize and ack",
            lambda k=kind: [Fault(2, k, after_finalize=True), Fault(4, k, after_finalize=True)],  # type: ignore[misc]
            3,
            seed=9,
        )
        for kind in ("abort", "close1011")
    ],
    Case("answers then stalls", lambda: [Fault(2, "stall", server_messages=True)], 2, n=4, seed=13),
    Case(
        "closes without Metadata",
        lambda: [
            Fault(3, "stall", after_finalize=True),
            Fault(0, "close1000", on_close_stream=True),
        ],
        2,
        "closed without confirming",
        n=4,
    ),
]


def speech(expected: list[list[str]]) -> Int16Array:
    """The utterances with pauses just long enough for the endpointer (silence_ms 700)."""
    return utterances(expected, pause=0.9, lead=0.3, tail=1.0)


RUNS = [(case, 0.0) for case in CASES] + [(CASES[i], 1.0) for i in (1, 6, 8, 11)]


@pytest.mark.parametrize(
    ("case", "speed"), RUNS, ids=[f"{'live' if v else 'file'}-{c.name}" for c, v in RUNS]
)
def test_every_word_exactly_once(case: Case, speed: float) -> None:
    """``speed`` 0: a file, sent as fast as the link takes it; 1: a microphone."""
    expected = groups(case.n, case.seed)
    pair = Pair(options(**case.opts), case.faults())
    finish = pair.dictate(speech(expected), speed=speed)
    assert finish.exit_code == 0, pair.notices
    assert pair.words() == flat(expected), (pair.lines(), pair.notices, pair.fired)
    assert pair.connections == case.connections, (pair.fired, pair.notices)
    assert pair.refused == case.refused
    assert not case.told or any(case.told in n for n in pair.notices), pair.notices


def test_refused_handshakes_are_each_reported() -> None:
    pair = Pair(faults=[Fault(50, "refuse", refuse=3)])
    pair.dictate(speech(groups(4, 8)), speed=0)
    assert sum("HTTP 503" in n for n in pair.notices) == 3


def test_a_flaky_link_twenty_drops_loses_and_repeats_nothing() -> None:
    """The acceptance case of the proxy suite, smaller: the lines equal a clean run's."""
    rng = random.Random(2026)
    expected = groups(12, 2026)
    faults = []
    for i in range(8):
        kind = rng.choice(["abort", "close1011"])
        at = 3 + i * 2 if i % 4 == 0 else rng.randint(20, 500)
        faults.append(Fault(at, kind, after_finalize=i % 4 == 0))  # type: ignore[arg-type]
    audio = speech(expected)
    flaky, clean = Pair(faults=faults, server_speed=50), Pair()
    assert flaky.dictate(audio, speed=0).exit_code == 0
    clean.dictate(audio, speed=0)
    assert len(flaky.fired) == 8, flaky.fired
    assert flaky.words() == flat(expected)
    assert flaky.lines() == clean.lines()


def test_outcome_3_a_server_that_never_acknowledges() -> None:
    """Nothing is invented, the user is told, and the wait is bounded (stall, one replay,
    timeouts, the close wait)."""
    pair = Pair(stall_all=True)
    finish = pair.dictate(utterances([["alpha", "bravo"], ["kilo"]]), speed=0)
    assert finish.exit_code == 0
    assert pair.printed == []
    assert any("never confirmed 2 utterance(s)" in n for n in pair.notices), pair.notices
    assert pair.connections == 3  # each utterance's stall was replayed once, not forever
    assert pair.now < 30


def test_gives_up_after_the_configured_time_and_keeps_what_was_said() -> None:
    expected = groups(4, 11)
    pair = Pair(
        options(give_up_s=2.0),
        [Fault(2, "refuse", refuse=10_000, after_finalize=True)],
    )
    finish = pair.dictate(speech(expected), speed=2.0)
    assert finish.exit_code == 5, pair.notices
    assert pair.refused >= 2
    assert pair.lines()[:1] == [" ".join(expected[0])]  # confirmed before the outage


def test_replay_after_reconnect_is_paced() -> None:
    expected = groups(6, 12)
    pair = Pair(options(replay_speed=2.0), [Fault(200, "abort")])
    pair.dictate(speech(expected), speed=0)
    assert pair.words() == flat(expected)
    log = [(t, frames) for conn, t, frames in pair.audio_log if conn == 2]
    t0, sent = log[0][0], 0.0
    for t, frames in log[1:]:  # the opening silence is not part of the replay
        sent += frames / 16000
        assert sent <= 2 * (t - t0) + 0.1, (sent, t - t0)
    assert sent > 3


HOSTILE: list[str | bytes] = [
    "{not json",
    '{"type":"Results","channel_index":[0,1],"start":"x","duration":1,"is_final":true}',
    '{"type":"Results","channel_index":[5,2],"start":0,"duration":1,"is_final":true}',
    '{"type":"Results","channel_index":[0,1],"start":0,"duration":-3,"is_final":true}',
    results(500.0, 2.0, [("ghost", 500.5, 501.0)]),
    results(0.0, 0.05, [("zulu", 0.01, 0.04)]),
    results(0.0, 0.05, [("yankee", 0.01, 0.04)]),
    b"\x00\x01 binary from the server",
    '{"type":"SomethingNew","x":1}',
    "[]",
]


def test_hostile_messages_never_print_garbage() -> None:
    expected = groups(4, 10)
    pair = Pair(faults=[Fault(30, "inject", payload=HOSTILE)])
    assert pair.dictate(speech(expected), speed=0).exit_code == 0
    assert pair.words() in (flat(expected), ["zulu", *flat(expected)])
    assert pair.connections == 1
    warnings = [n for n in pair.notices if "bad server message" in n]
    assert len(warnings) == 5  # of seven bad ones: the first five are reported


WAITS = [
    (False, 1.0, False, False),  # little unconfirmed: a file goes on
    (False, 3.0, False, True),  # over half of retain_s (4 s) unconfirmed: it waits
    (True, 3.0, False, False),  # a microphone never waits: what it does not take is lost
    (False, 3.0, True, False),  # a stop ends the wait
]


@pytest.mark.parametrize(("live", "seconds", "stop", "waits"), WAITS)
def test_a_file_waits_for_the_network_a_microphone_never(
    live: bool, seconds: float, stop: bool, waits: bool
) -> None:
    core = ClientCore(options(retain_s=4.0, pipeline=PipelineSettings(policy="always")), 1, RATE)
    core.start()
    audio = np.zeros((round(seconds * RATE), 1), np.int16)
    for start in range(0, len(audio), 320):
        core.audio(AudioBlock(audio[start : start + 320], start, 0.0))
    if stop:
        core.stop(0.0)
    assert core.input_waits(live) is waits
