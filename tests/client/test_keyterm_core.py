"""Keyterms changed mid-session through the client core, wired in memory to the server:
a Configure round trip without reconnecting, the limit refused before sending, and a
regional endpoint reconnecting at a pause with nothing lost or repeated."""

from __future__ import annotations

from tests.pair import RATE, Pair, options
from tests.wavs import utterances
from vad_dictate.client.actions import Transmit
from vad_dictate.client.keyterms import KeytermCore

SAID = [["alpha", "bravo"], ["charlie"], ["delta", "echo"], ["foxtrot"]]
OVER = [f"term{i:04d}" for i in range(251)]  # 502 tokens


def run(url: str, terms: list[str]) -> tuple[Pair, list[str], list[tuple[str, ...]], list[str]]:
    pair = Pair(options(url=url))
    pair.core = KeytermCore(pair.options, 1, RATE)
    core = pair.core
    configures: list[str] = []
    in_effect: list[tuple[str, ...]] = []
    said: list[str] = []

    def hook(p: Pair, message: Transmit) -> None:
        if message.kind == "configure":
            configures.append(str(message.payload))
        if message.kind == "finalize" and not said:
            actions, line = core.update_keyterms(terms)
            said.append(line)
            p.do(actions)
        if p.server is not None:
            in_effect.append(p.server.keyterms)

    pair.hook = hook
    pair.dictate(utterances(SAID, pause=1.0, lead=0.3, tail=1.0), speed=1.0)
    return pair, configures, in_effect, said


def test_configure_round_trip_without_reconnecting() -> None:
    pair, configures, in_effect, said = run("ws://127.0.0.1:1/v1/listen", ["Dashwood"])
    assert said == ["sent 1 keyterms to the server"]
    assert configures == ['{"type":"Configure","keyterms":["Dashwood"]}']
    assert "vocabulary: 1 keyterms in effect" in pair.notices
    assert in_effect[-1] == ("Dashwood",) and pair.connections == 1
    assert pair.lines() == ["alpha bravo", "charlie", "delta echo", "foxtrot"]


def test_over_the_limit_is_never_sent() -> None:
    pair, configures, in_effect, said = run("ws://127.0.0.1:1/v1/listen", OVER)
    assert configures == [] and set(in_effect) == {()}
    assert said[0].startswith("not sent: 251 terms come to about 502 tokens")
    assert pair.connections == 1 and len(pair.lines()) == 4


def test_a_regional_endpoint_reconnects_at_a_pause() -> None:
    pair, configures, in_effect, said = run("wss://api.eu.deepgram.com/v1/listen", ["Norland"])
    assert said == [
        "this endpoint cannot change keyterms mid-stream; the session reconnects with them at "
        "the next pause."
    ]
    assert configures == [] and pair.connections == 2
    assert in_effect[0] == () and in_effect[-1] == ("Norland",)  # the new URL carries them
    assert "vocabulary: reconnecting with 1 keyterms" in pair.notices
    assert pair.lines() == ["alpha bravo", "charlie", "delta echo", "foxtrot"]
