"""Protocol codec: every verbatim Deepgram fixture, client messages, hostile input."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_dictate.deepgram import protocol as proto
from vad_dictate.deepgram import retry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deepgram"


def load(name: str) -> str:
    return (FIXTURES / name).read_text()


# Every server message fixture with the event it must parse to (exact values where it matters).
SERVER_FIXTURES = sorted(
    p.name
    for p in FIXTURES.glob("*.json")
    if p.name.startswith(("results-", "metadata-", "utterance-end-", "speech-started-"))
)


def test_every_server_fixture_is_covered() -> None:
    assert len(SERVER_FIXTURES) == 28
    for name in SERVER_FIXTURES:
        if name == "results-from-finalize-docs-fragment.json":
            continue  # a bare fragment printed in the docs, not a message; tested below
        event = proto.parse_server_message(load(name))
        assert not isinstance(event, proto.ProtocolViolation), (name, event)


def test_final_speech_final_paris() -> None:
    ev = proto.parse_server_message(load("results-final-speechfinal-loreline-paris.json"))
    assert isinstance(ev, proto.FinalResult)
    assert (ev.channel, ev.channels, ev.start, ev.duration) == (0, 1, 0.0, 2.3)
    assert ev.transcript == "Paris at a moment's notice."
    assert ev.speech_final is True and ev.from_finalize is False
    assert [w.word for w in ev.words] == ["paris", "at", "a", "moment's", "notice"]
    assert ev.words[-1].text == "notice."
    assert ev.words[1].start == pytest.approx(0.39999998)


def test_from_finalize_dying() -> None:
    ev = proto.parse_server_message(load("results-from-finalize-loreline-dying.json"))
    assert isinstance(ev, proto.FinalResult)
    assert ev.from_finalize is True and ev.speech_final is True
    assert ev.transcript == "Dying, come at once, s"
    assert ev.start == 57.52 and ev.duration == pytest.approx(2.459999)


def test_final_not_speech_final() -> None:
    ev = proto.parse_server_message(load("results-final-not-speechfinal-loreline-name.json"))
    assert isinstance(ev, proto.FinalResult)
    assert ev.speech_final is False and ev.from_finalize is False


@pytest.mark.parametrize(
    "name",
    ["results-interim-empty-js-sdk-issue-241.json", "results-interim-empty-wire-capture.json"],
)
def test_interim_empty(name: str) -> None:
    ev = proto.parse_server_message(load(name))
    assert ev == proto.InterimResult(0, 1, 0.0, ev.duration, "", ())  # type: ignore[union-attr]


def test_interim_without_from_finalize_or_type() -> None:
    ev = proto.parse_server_message(load("results-interim-docs-another-big-2.json"))
    assert isinstance(ev, proto.InterimResult)
    assert ev.transcript == "another big problem" and len(ev.words) == 3
    assert ev.words[0].punctuated_word is None and ev.words[0].text == "another"


def test_interim_paris_and_dying() -> None:
    ev = proto.parse_server_message(load("results-interim-loreline-paris.json"))
    assert isinstance(ev, proto.InterimResult) and ev.transcript == "Paris at a moment"
    ev = proto.parse_server_message(load("results-interim-words-wire-capture.json"))
    assert isinstance(ev, proto.InterimResult) and ev.start == 12.08


def test_final_empty_transcript() -> None:
    ev = proto.parse_server_message(load("results-final-empty-pysdk-test-base.json"))
    assert isinstance(ev, proto.FinalResult) and ev.transcript == "" and ev.words == ()


def test_reserialised_final_key_order_does_not_matter() -> None:
    ev = proto.parse_server_message(load("results-final-pysdk-test-nova3-testing123.json"))
    assert isinstance(ev, proto.FinalResult)
    assert ev.transcript == "Testing. 123. Testing. 123."
    assert [w.text for w in ev.words] == ["Testing.", "123.", "Testing.", "123."]
    assert (ev.start, ev.duration, ev.speech_final) == (0.74, 3.08, True)


def test_from_finalize_docs_fragment_is_tolerated() -> None:
    ev = proto.parse_server_message(load("results-from-finalize-docs-fragment.json"))
    assert isinstance(ev, proto.ProtocolViolation)
    assert "no 'type'" in ev.reason


@pytest.mark.parametrize(
    ("name", "request_id", "duration", "channels"),
    [
        ("metadata-closestream-confirmation-docs.json", "8c8ebea9", 0.0, 0),
        ("metadata-nova3-after-timeout-readme.json", "46c3cc07", 4.0799375, 1),
        ("metadata-python-sdk-issue-492.json", "d8dabda8", 309.14395, 1),
        ("metadata-raw-zero-duration-dotnet-sdk-issue-342.json", "deda472a", 0.0, 0),
        ("metadata-wire-capture-full.json", "01a03ac3", 44.259937, 1),
        ("metadata-wire-capture-minimal-noaudio.json", "01a03ac2", 0.0, 1),
        ("metadata-zero-duration-js-sdk-issue-336.json", "f71f632f", 0.0, 0),
    ],
)
def test_metadata(name: str, request_id: str, duration: float, channels: int) -> None:
    ev = proto.parse_server_message(load(name))
    assert isinstance(ev, proto.Metadata)
    assert ev.request_id.startswith(request_id)
    assert ev.duration == pytest.approx(duration) and ev.channels == channels


def test_utterance_end_and_speech_started() -> None:
    assert proto.parse_server_message(
        load("utterance-end-docs-utterance-end-page.json")
    ) == proto.UtteranceEnd(0, 2.395)
    assert proto.parse_server_message(
        load("utterance-end-docs-end-of-speech-2ch.json")
    ) == proto.UtteranceEnd(0, 3.1)
    assert proto.parse_server_message(
        load("utterance-end-loreline-late.json")
    ) == proto.UtteranceEnd(0, 8.8)
    assert proto.parse_server_message(load("speech-started-docs.json")) == proto.SpeechStarted(
        0, 9.54
    )
    assert proto.parse_server_message(
        load("speech-started-livekit-issue-931.json")
    ) == proto.SpeechStarted(0, 91.2)
    assert proto.parse_server_message(
        load("speech-started-js-sdk-issue-241.json")
    ) == proto.SpeechStarted(0, 1.73)


def test_newer_message_types_and_unknown() -> None:
    err = '{"type":"Error","variant":"SchemaError","description":"bad","message":"{x"}'
    assert proto.parse_server_message(err) == proto.ServerError("SchemaError", "bad")
    ok = '{"type":"ConfigureSuccess","request_id":"r","keyterms":["a"]}'
    assert proto.parse_server_message(ok) == proto.ConfigureResult(True, "", "", ("a",))
    fail = '{"type":"ConfigureFailure","code":"CONFIGURE_ALREADY_PENDING","description":"d"}'
    assert proto.parse_server_message(fail) == proto.ConfigureResult(
        False, "CONFIGURE_ALREADY_PENDING", "d"
    )
    assert proto.parse_server_message('{"type":"Brand New","x":1}') == proto.UnknownMessage(
        "Brand New"
    )


def test_unknown_fields_are_ignored() -> None:
    msg = json.loads(load("results-final-speechfinal-loreline-paris.json"))
    msg["surprise"] = {"nested": [1, 2]}
    msg["channel"]["alternatives"][0]["languages"] = ["en"]
    ev = proto.parse_server_message(json.dumps(msg))
    assert isinstance(ev, proto.FinalResult) and ev.transcript == "Paris at a moment's notice."


def test_null_flags_and_strings_read_as_their_defaults() -> None:
    msg = json.loads(load("results-final-speechfinal-loreline-paris.json"))
    msg.update(speech_final=None, from_finalize=None)
    ev = proto.parse_server_message(json.dumps(msg))
    assert isinstance(ev, proto.FinalResult)
    assert (ev.speech_final, ev.from_finalize) == (False, False)
    err = proto.parse_server_message('{"type":"Error","variant":null,"description":"bad"}')
    assert err == proto.ServerError("", "bad")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m.__setitem__("start", "x"), "'start' is not a number"),
        (lambda m: m.__setitem__("duration", -1.0), "negative"),
        (lambda m: m.__setitem__("channel_index", [3, 2]), "out of range"),
        (lambda m: m.__setitem__("channel_index", "0,1"), "pair of integers"),
        (lambda m: m.__setitem__("is_final", "yes"), "'is_final' is not a boolean"),
        (lambda m: m.__setitem__("channel", []), "'channel' is not an object"),
        (lambda m: m["channel"]["alternatives"][0].__setitem__("words", [{"word": "a"}]), "start"),
        (lambda m: m["channel"]["alternatives"][0].__setitem__("transcript", 5), "transcript"),
    ],
)
def test_malformed_results_become_violations(mutate: object, reason: str) -> None:
    msg = json.loads(load("results-final-speechfinal-loreline-paris.json"))
    mutate(msg)  # type: ignore[operator]
    ev = proto.parse_server_message(json.dumps(msg))
    assert isinstance(ev, proto.ProtocolViolation)
    assert reason in ev.reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\x01binary", "binary"),
        ("{not json", "not JSON"),
        ("[1, 2, 3]", "not an object"),
        ('"just a string"', "not an object"),
        ("[" * 100000, "not JSON"),
        ('{"type": 5}', "no 'type'"),
    ],
)
def test_garbage_becomes_violation(raw: str | bytes, reason: str) -> None:
    ev = proto.parse_server_message(raw)
    assert isinstance(ev, proto.ProtocolViolation) and reason in ev.reason


def test_huge_message_excerpt_is_bounded() -> None:
    ev = proto.parse_server_message("x" * 10_000_000)
    assert isinstance(ev, proto.ProtocolViolation) and len(ev.excerpt) < 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_fuzz_arbitrary_json_never_raises(value: object) -> None:
    proto.parse_server_message(json.dumps(value))


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {"type": st.just("Results")},
        optional={
            "channel_index": json_values,
            "start": json_values,
            "duration": json_values,
            "is_final": json_values,
            "speech_final": json_values,
            "from_finalize": json_values,
            "channel": st.fixed_dictionaries(
                {
                    "alternatives": st.lists(
                        st.dictionaries(
                            st.sampled_from(["transcript", "words", "confidence"]), json_values
                        ),
                        max_size=2,
                    )
                }
            ),
        },
    )
)
def test_fuzz_results_shaped_never_raises(value: dict[str, object]) -> None:
    proto.parse_server_message(json.dumps(value))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_fuzz_bytes_and_text_never_raise(raw: bytes | str) -> None:
    proto.parse_server_message(raw)


# -- client side ---------------------------------------------------------------------------------


def test_client_messages_match_docs() -> None:
    assert json.loads(proto.keepalive_message()) == json.loads(load("client-keepalive-docs.json"))
    assert json.loads(proto.finalize_message()) == json.loads(load("client-finalize-docs.json"))
    assert json.loads(proto.finalize_message(0)) == json.loads(
        load("client-finalize-channel0-docs.json")
    )
    assert json.loads(proto.close_stream_message()) == json.loads(
        load("client-closestream-docs.json")
    )
    assert proto.finalize_message(3) == '{"type":"Finalize","channel":3}'


def test_url_and_auth() -> None:
    opts = proto.ConnectOptions(
        sample_rate=16000,
        channels=2,
        model="nova-3",
        language="en",
        smart_format=True,
        endpointing=False,
        utterance_end_ms=1000,
        keyterms=("Dashwood", "Norland"),
    )
    url = proto.build_url("wss://api.deepgram.com/v1/listen", opts)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "api.deepgram.com", "/v1/listen")
    assert parse_qsl(parts.query) == [
        ("encoding", "linear16"),
        ("sample_rate", "16000"),
        ("channels", "2"),
        ("multichannel", "true"),
        ("model", "nova-3"),
        ("language", "en"),
        ("interim_results", "true"),
        ("punctuate", "true"),
        ("smart_format", "true"),
        ("endpointing", "false"),
        ("utterance_end_ms", "1000"),
        ("keyterm", "Dashwood"),
        ("keyterm", "Norland"),
    ]
    assert proto.auth_headers("sekrit") == [("Authorization", "Token sekrit")]
    assert proto.auth_headers(None) == []
    single = proto.build_url("ws://127.0.0.1:9/v1/listen", proto.ConnectOptions(endpointing=300))
    assert "multichannel" not in single and "endpointing=300" in single


def test_classify_handshake_and_close() -> None:
    assert retry.classify_handshake(401).kind == "auth"
    assert retry.classify_handshake(403).kind == "auth"
    assert retry.classify_handshake(400, "Invalid 'utterance_end_ms' value of '999'.").kind == (
        "rejected"
    )
    assert "utterance_end_ms" in retry.classify_handshake(400, "Invalid 'utterance_end_ms'").message
    for status in (408, 429, 500, 502, 503):
        assert retry.classify_handshake(status).retryable
    assert retry.classify_handshake(402).kind == "rejected"
    net1 = json.loads(load("close-1011-net0001-observed.json"))
    assert retry.classify_close(net1["code"], net1["reason"]).retryable
    net0 = json.loads(load("close-1011-net0000-observed.json"))
    assert retry.classify_close(net0["code"], net0["reason"]).retryable
    assert retry.classify_close(1008, "DATA-0000").kind == "rejected"
    assert retry.classify_close(1000).kind == "normal"
    assert retry.classify_close(None).retryable
