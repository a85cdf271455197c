"""The hooks other features plug into: start paused, Configure on every connection, the
state stream, interim text."""

from __future__ import annotations

import json

from tests.pair import Pair, options
from tests.tones import track
from vad_dictate.client.actions import StateChanged, Transmit
from vad_dictate.client.core import ClientCore
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
