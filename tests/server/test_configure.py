"""Configure on the local server: keyterms replaced, the token limit refused, features
switched mid-stream; pure answers, and the official SDK's send_configure round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.server.test_sdk_conformance import base_url, listen, receive, send_audio
from vad_dictate.deepgram.protocol import MAX_KEYTERM_TOKENS, keyterm_tokens
from vad_dictate.engines.sphinx import SphinxEngine
from vad_dictate.engines.tone import ToneEngine, ToneRecognizer, silence, synth_utterance
from vad_dictate.server.configure import configure
from vad_dictate.server.session import Note, ServerSession, parse_params

pytest.importorskip("deepgram")
from deepgram.listen.v1.types import (
    ListenV1Configure,
    ListenV1ConfigureFailure,
    ListenV1ConfigureSuccess,
    ListenV1Results,
)

__all__ = ["base_url"]  # the SDK module's server fixture, shared
OVER = [f"term{i:04d}" for i in range(MAX_KEYTERM_TOKENS)]  # two tokens each


def test_answers() -> None:
    done = configure({"type": "Configure", "keyterms": ["Dashwood"]}, ("old",), "r1")
    assert done.answer == {"type": "ConfigureSuccess", "request_id": "r1", "keyterms": ["Dashwood"]}
    assert done.keyterms == ("Dashwood",) and done.features == {}
    kept = configure({"type": "Configure", "features": {"numerals": True}}, ("a",), "r2")
    assert kept.answer["keyterms"] == ["a"] and kept.features == {"numerals": True}
    cleared = configure({"type": "Configure", "keyterms": []}, ("a",), "r3")
    assert cleared.keyterms == () and cleared.answer["keyterms"] == []


@pytest.mark.parametrize(
    ("msg", "code"),
    [
        ({"keyterms": OVER}, "CONFIGURE_KEYTERM_LIMIT_EXCEEDED"),
        ({"keyterms": "Dashwood"}, "CONFIGURE_INTERNAL_ERROR"),
        ({"keyterms": [1]}, "CONFIGURE_INTERNAL_ERROR"),
        ({"features": 3}, "CONFIGURE_INTERNAL_ERROR"),
    ],
)
def test_refusals_keep_what_was_in_effect(msg: dict[str, object], code: str) -> None:
    done = configure({"type": "Configure", **msg}, ("kept",), "r")
    assert done.answer["type"] == "ConfigureFailure" and done.answer["code"] == code
    assert done.answer["description"] and done.keyterms == ("kept",)


def test_token_estimate_errs_high() -> None:
    assert keyterm_tokens([]) == 0
    assert keyterm_tokens(["a", "Dashwood", "Norland Park"]) == 1 + 2 + 2 + 1
    assert keyterm_tokens(OVER) == 2 * MAX_KEYTERM_TOKENS


def test_sdk_send_configure_round_trips(base_url: str) -> None:
    sent = bytearray()
    audio = np.concatenate([silence(0.2), synth_utterance(["twenty", "one"]), silence(0.3)])
    with listen(base_url, keyterm="Norland", endpointing="false", interim_results="false") as ws:
        ws.send_configure(ListenV1Configure(keyterms=OVER))
        refused = receive(ws)
        ws.send_configure(ListenV1Configure(keyterms=["Dashwood", "Norland Park"]))
        applied = receive(ws)
        ws.send_configure(ListenV1Configure(features={"numerals": True}))
        numerals = receive(ws)
        send_audio(ws, audio, sent)
        ws.send_finalize()
        result = receive(ws)
        ws.send_close_stream()
    assert isinstance(refused, ListenV1ConfigureFailure)
    assert refused.code == "CONFIGURE_KEYTERM_LIMIT_EXCEEDED"
    assert isinstance(applied, ListenV1ConfigureSuccess)
    assert applied.keyterms == ["Dashwood", "Norland Park"]
    assert isinstance(numerals, ListenV1ConfigureSuccess)
    assert numerals.keyterms == ["Dashwood", "Norland Park"]  # features leave keyterms alone
    assert isinstance(result, ListenV1Results)
    assert result.channel.alternatives[0].transcript == "21"


def test_an_engine_that_cannot_use_keyterms_says_none_are_in_effect() -> None:
    done = configure({"type": "Configure", "keyterms": ["Dashwood"]}, (), "r", usable=False)
    assert done.answer == {"type": "ConfigureSuccess", "request_id": "r", "keyterms": []}
    session = ServerSession(
        parse_params("encoding=linear16&sample_rate=16000&keyterm=Norland"),
        SphinxEngine(),
        "r2",
        "2026-12-02T00:00:00.000Z",
    )
    assert session.keyterms == ()
    out = session.receive_text(json.dumps({"type": "Configure", "keyterms": ["Dashwood"]}))
    assert out[0] == Note("keyterms not used: the pocketsphinx engine cannot use them")
    assert json.loads(str(out[1])) == {
        "type": "ConfigureSuccess",
        "request_id": "r2",
        "keyterms": [],
    }
    session.close()


def test_keyterms_configured_mid_stream_reach_every_channel_recognizer() -> None:
    session = ServerSession(
        parse_params("encoding=linear16&sample_rate=16000&channels=2&multichannel=true"),
        ToneEngine(),
        "r3",
        "2026-12-02T00:00:00.000Z",
    )
    session.receive_text(json.dumps({"type": "Configure", "keyterms": ["Dashwood"]}))
    recognizers = [channel._rec for channel in session._channels]
    assert [r.options.keyterms for r in recognizers if isinstance(r, ToneRecognizer)] == [
        ("Dashwood",),
        ("Dashwood",),
    ]
    session.close()
