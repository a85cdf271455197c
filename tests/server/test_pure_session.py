"""The server's pure parts without a socket: parse_params on the client's own query,
ServerSession and ChannelStream fed tone audio directly, and the two cores wired together
(tests/pair.py)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.pair import Pair
from tests.tones import track
from vad_dictate.deepgram.protocol import (
    ConnectOptions,
    SpeechStarted,
    UtteranceEnd,
    parse_server_message,
    query_params,
)
from vad_dictate.engines.tone import ToneEngine
from vad_dictate.server.channel import ChannelStream, Segment
from vad_dictate.server.session import Close, Note, ServerSession, parse_params

RATE = 16000


def query(opts: ConnectOptions) -> str:
    return "&".join(f"{k}={v}" for k, v in query_params(opts))


def test_the_clients_own_query_is_what_the_server_honours() -> None:
    params = parse_params(query(ConnectOptions(endpointing=300, channels=2)))
    assert (params.encoding, params.sample_rate, params.channels) == ("linear16", 16000, 2)
    assert params.multichannel and params.interim_results and params.punctuate
    assert params.endpointing_ms == 300 and params.utterance_end_ms is None


@pytest.mark.parametrize(
    ("extra", "endpointing"),
    [({}, 10), ({"endpointing": False}, None), ({"endpointing": 0}, 0)],
)
def test_endpointing_as_the_client_sends_it(extra: dict[str, Any], endpointing: int | None) -> None:
    opts = ConnectOptions(**extra) if extra else ConnectOptions()
    assert parse_params(query(opts)).endpointing_ms == endpointing


def session() -> ServerSession:
    params = parse_params(query(ConnectOptions(endpointing=300)))
    return ServerSession(params, ToneEngine(), "req-1", "2026-01-01T00:00:00.000Z")


def messages(outs: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(o) for o in outs if isinstance(o, str)]


def test_server_session_answers_a_finalize_with_the_words_and_their_times() -> None:
    tone = track([["alpha", "bravo"]], lead_s=0.5, tail_s=0.2)
    server = session()
    outs: list[Any] = []
    for pos in range(0, len(tone.samples), 800):  # 50 ms messages
        outs += server.receive_bytes(tone.samples[pos : pos + 800].tobytes())
    outs += server.receive_text('{"type":"Finalize"}')
    finals = [m for m in messages(outs) if m.get("is_final")]
    acks = [m for m in finals if m["from_finalize"]]
    assert len(acks) == 1
    words = [w for m in finals for w in m["channel"]["alternatives"][0]["words"]]
    assert [w["word"] for w in words] == ["alpha", "bravo"]
    for got, true in zip(words, tone.words, strict=True):
        assert got["start"] == pytest.approx(true.start, abs=0.06)
        assert got["end"] == pytest.approx(true.end, abs=0.06)
    assert acks[-1]["start"] + acks[-1]["duration"] == pytest.approx(tone.duration, abs=1e-3)


def test_server_session_closes_with_metadata_and_then_takes_nothing() -> None:
    server = session()
    server.receive_bytes(bytes(3200))
    assert server.receive_text('{"type":"KeepAlive"}') == []
    assert all(isinstance(o, Note) for o in server.receive_text("{not json"))
    outs = server.receive_text('{"type":"CloseStream"}')
    kinds = [m.get("type") for m in messages(outs)]
    assert kinds[-1] == "Metadata"
    assert messages(outs)[-1]["duration"] == pytest.approx(0.1)
    assert outs[-1] == Close(1000, "")
    assert server.receive_bytes(bytes(3200)) == []
    assert server.receive_text('{"type":"Finalize"}') == []


def test_channel_stream_keeps_the_stream_clock_in_client_samples() -> None:
    engine = ToneEngine()
    tone = track([["kilo", "lima"]], lead_s=0.3, tail_s=0.4)
    stream = ChannelStream(
        engine.new_recognizer(),
        RATE,
        engine.sample_rate,
        endpointing_ms=None,
        interim=False,
        utterance_end_ms=None,
    )
    for pos in range(0, len(tone.samples), 333):  # odd piece sizes change nothing
        stream.push(tone.samples[pos : pos + 333])
    assert stream.now == len(tone.samples) / RATE
    final = stream.finalize(from_finalize=True)
    assert isinstance(final, Segment) and final.from_finalize and final.is_final
    assert [w.text.lower().strip(".") for w in final.words] == ["kilo", "lima"]
    assert (final.start, final.end) == (0.0, stream.now)
    assert stream.finalize(from_finalize=True).words == []  # nothing new: an empty ack
    stream.close()


def test_a_whole_session_in_memory() -> None:
    """Client core and server session, no socket: every word once, exit 0, one connection."""
    expected = [["alpha", "bravo"], ["kilo"], ["delta", "echo", "golf"]]
    pair = Pair()
    finish = pair.dictate(track(expected, pause_s=1.0).samples, speed=0)
    assert finish.exit_code == 0
    assert pair.lines() == [" ".join(u) for u in expected]
    assert pair.connections == 1 and pair.notices == []


def test_vad_events_are_the_wire_events_of_their_channel() -> None:
    """SpeechStarted and UtteranceEnd leave the server as the client's parser reads them back,
    each with the channel it was heard on."""
    tone = track([["kilo", "lima"]], lead_s=0.5, tail_s=1.5)
    stereo = np.stack([np.zeros_like(tone.samples), tone.samples], axis=1)  # speech on 1 only
    opts = ConnectOptions(channels=2, endpointing=300, vad_events=True, utterance_end_ms=1000)
    server = ServerSession(parse_params(query(opts)), ToneEngine(), "req-2", "2026-01-01T00:00Z")
    outs: list[Any] = []
    for pos in range(0, len(stereo), 1600):  # 100 ms messages
        outs += server.receive_bytes(stereo[pos : pos + 1600].tobytes())
    events = [parse_server_message(o) for o in outs if isinstance(o, str)]
    vad = [e for e in events if isinstance(e, SpeechStarted | UtteranceEnd)]
    assert [(type(e), e.channel) for e in vad] == [(SpeechStarted, 1), (UtteranceEnd, 1)]
    start, end = vad[0], vad[1]
    assert isinstance(start, SpeechStarted) and isinstance(end, UtteranceEnd)
    assert start.timestamp == pytest.approx(tone.words[0].start, abs=0.06)
    assert end.last_word_end == pytest.approx(tone.words[-1].end, abs=0.06)
