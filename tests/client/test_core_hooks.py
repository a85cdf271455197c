"""The hooks other features plug into: start paused, Configure on every connection, the
state stream, interim text."""

from __future__ import annotations

import json

import pytest

from tests.pair import Pair, options
from tests.tones import track
from vad_dictate.client.actions import StateChanged, Transmit
from vad_dictate.client.core import ClientCore
from vad_dictate.client.keyterms import KeytermCore
from vad_dictate.deepgram import protocol as proto
from vad_dictate.deepgram import retry


def sent_kinds(core: ClientCore, now: float) -> list[Transmit]:
    out = []
    while isinstance(message := core.next_send(now), Transmit):
        core.sent(message, now)
        out.append(message)
    return out


def test_configure_goes_after_the_silence_now_and_on_every_new_connection() -> None:
    core = ClientCore(options(), 1, 16000)
    core.start()
    core.connected(0.0)
    core.configure({"keyterms": ["vad"]})
    first = sent_kinds(core, 0.0)
    assert [m.kind for m in first] == ["silence", "configure"]
    assert json.loads(str(first[1].payload)) == {"type": "Configure", "keyterms": ["vad"]}
    core.lost(retry.classify_close(1011, "x"), 1.0)
    core.connected(2.0)
    assert [m.kind for m in sent_kinds(core, 2.0)] == ["silence", "configure"]


def test_a_session_started_paused_sends_no_speech() -> None:
    pair = Pair()
    pair.core = ClientCore(options(), 1, 16000, paused=True)
    pair.dictate(track([["alpha", "bravo"]]).samples, speed=0)
    assert pair.printed == [] and pair.finalizes == 0


def test_state_changes_are_reported_once_each() -> None:
    core = ClientCore(options(), 1, 16000)
    states = [a.state for a in core.start() if isinstance(a, StateChanged)]
    states += [a.state for a in core.connected(0.0) if isinstance(a, StateChanged)]
    states += [a.state for a in core.pause(True, 0.1) if isinstance(a, StateChanged)]
    states += [a.state for a in core.tick(0.2) if isinstance(a, StateChanged)]
    assert states == ["connecting", "listening", "paused"]


def test_interim_text_reaches_the_shell() -> None:
    pair = Pair(options(connect=options().connect))
    pair.dictate(track([["alpha", "bravo", "charlie", "delta"]]).samples, speed=1.0)
    assert any("alpha" in text.lower() for text in pair.interims)


ConfigureStep = tuple[str, object]  # ("keyterms", [...]) through vocab, ("fields", {...})

RESENT_AFTER_RECONNECT: list[tuple[list[ConfigureStep], dict[str, object]]] = [
    (
        [("keyterms", ["Dashwood"]), ("fields", {"features": {"numerals": True}})],
        {"keyterms": ["Dashwood"], "features": {"numerals": True}},
    ),
    (
        [("fields", {"features": {"numerals": True}}), ("keyterms", ["Norland"])],
        {"features": {"numerals": True}, "keyterms": ["Norland"]},
    ),
    (
        [
            ("fields", {"features": {"numerals": True}}),
            ("fields", {"features": {"punctuate": False}}),
            ("keyterms", ["a"]),
            ("keyterms", []),
        ],
        {"features": {"numerals": True, "punctuate": False}, "keyterms": []},
    ),
    (
        [("keyterms", ["a"]), ("fields", {"keyterms": ["b"]})],
        {"keyterms": ["b"]},
    ),
]


@pytest.mark.parametrize(("steps", "resent"), RESENT_AFTER_RECONNECT)
def test_a_new_connection_gets_every_configure_field_set_so_far(
    steps: list[ConfigureStep], resent: dict[str, object]
) -> None:
    core = KeytermCore(options(url="ws://127.0.0.1:1/v1/listen"), 1, 16000)
    core.start()
    core.connected(0.0)
    sent_kinds(core, 0.0)
    now_sent = []
    for kind, value in steps:
        if kind == "keyterms":
            assert isinstance(value, list)
            core.update_keyterms(value)
            core.received(proto.ConfigureResult(True, "", "", tuple(value)), 0.1)  # answered
        else:
            assert isinstance(value, dict)
            core.configure(value)
        now_sent += [json.loads(str(m.payload)) for m in sent_kinds(core, 0.1)]
    # Each Configure on the open connection carried just its own change.
    assert [{k: v for k, v in m.items() if k != "type"} for m in now_sent] == [
        {"keyterms": v} if k == "keyterms" else v for k, v in steps
    ]
    core.lost(retry.classify_close(1011, "x"), 1.0)
    core.connected(2.0)
    again = sent_kinds(core, 2.0)
    assert [m.kind for m in again] == ["silence", "configure"]
    assert json.loads(str(again[1].payload)) == {"type": "Configure", **resent}
