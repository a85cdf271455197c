"""The local Deepgram-compatible server, over real websockets on 127.0.0.1 (tone engine)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.server.gated import GatedEngine
from tests.serverproc import ROOT, running_server
from tests.tones import Track, interleave, track, wav_bytes
from vad_dictate.audio.block import Int16Array
from vad_dictate.audio.resample import resample
from vad_dictate.engines.tone import ToneEngine, ToneRecognizer
from vad_dictate.errors import ConfigError
from vad_dictate.server.serve import BackgroundServer, load_engine
from vad_dictate.server.session import NET0001

KEY = "test-key-5b1e0c"
RAW = "encoding=linear16&sample_rate=16000"
RESULTS_KEYS = [
    "type",
    "channel_index",
    "duration",
    "start",
    "is_final",
    "speech_final",
    "channel",
    "metadata",
    "from_finalize",
]
METADATA_KEYS = ["type", "transaction_key", "request_id", "sha256", "created", "duration"]
METADATA_KEYS += ["channels"]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TOL = 0.02

TWO = track([["alpha", "bravo"], ["charlie", "delta", "echo"]], pause_s=1.5, tail_s=1.2)


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with BackgroundServer(ToneEngine()) as server:
        yield server.start()


@pytest.fixture(scope="module")
def keyed_url() -> Iterator[str]:
    with BackgroundServer(ToneEngine(), api_key=KEY) as server:
        yield server.start()


@pytest.fixture(scope="module")
def quick_url() -> Iterator[str]:
    with BackgroundServer(ToneEngine(), idle_timeout=1.0) as server:
        yield server.start()


@dataclass
class Exchange:
    """Everything the server said on one connection."""

    messages: list[dict[str, Any]]
    raw: list[str]
    code: int | None
    reason: str
    headers: Headers
    subprotocol: str | None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def finals(self, channel: int = 0) -> list[dict[str, Any]]:
        return [m for m in self.of("Results") if m["is_final"] and m["channel_index"][0] == channel]

    def final_words(self, channel: int = 0) -> list[dict[str, Any]]:
        return [w for m in self.finals(channel) for w in alt(m)["words"]]

    @property
    def metadata(self) -> dict[str, Any]:
        assert self.messages[-1]["type"] == "Metadata"
        return self.messages[-1]


def alt(result: dict[str, Any]) -> dict[str, Any]:
    alternative: dict[str, Any] = result["channel"]["alternatives"][0]
    return alternative


Step = bytes | str | float  # binary frame, text frame, or a pause (seconds)


async def exchange_async(
    base: str,
    query: str = RAW,
    steps: Sequence[Step] = (),
    *,
    headers: dict[str, str] | None = None,
    subprotocols: list[str] | None = None,
    close: bool = True,
) -> Exchange:
    """Connect, play the steps (then CloseStream), read until the server closes."""
    target = f"{base}?{query}" if query else base
    async with connect(
        target,
        proxy=None,
        additional_headers=headers,
        subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
    ) as ws:
        raw: list[str] = []

        async def reader() -> None:
            with contextlib.suppress(ConnectionClosed):  # codes other than 1000 raise
                async for message in ws:
                    assert isinstance(message, str)
                    raw.append(message)

        task = asyncio.create_task(reader())
        for step in steps:
            if isinstance(step, float):
                await asyncio.sleep(step)
            else:
                await ws.send(step)
        if close:
            await ws.send(json.dumps({"type": "CloseStream"}))
        await asyncio.wait_for(task, 15)
        assert ws.response is not None
        return Exchange(
            [json.loads(m) for m in raw],
            raw,
            ws.close_code,
            ws.close_reason or "",
            ws.response.headers,
            ws.subprotocol,
        )


def exchange(base: str, query: str = RAW, steps: Sequence[Step] = (), **kw: Any) -> Exchange:
    return asyncio.run(exchange_async(base, query, steps, **kw))


def chunks(samples: Int16Array, channels: int = 1, rate: int = 16000, ms: int = 100) -> list[Step]:
    """Interleaved int16 samples as binary frames of ``ms`` milliseconds."""
    data = samples.astype("<i2").tobytes()
    size = rate * ms // 1000 * 2 * channels
    return [data[i : i + size] for i in range(0, len(data), size)]


def rejection(base: str, query: str = RAW, **kw: Any) -> tuple[int, Headers, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as info:
        exchange(base, query, **kw)
    response = info.value.response
    return response.status_code, response.headers, json.loads(response.body or b"{}")


def assert_words(got: list[dict[str, Any]], truth: Track, tol: float = TOL) -> None:
    assert [w["word"] for w in got] == truth.text
    for g, t in zip(got, truth.words, strict=True):
        assert g["start"] == pytest.approx(t.start, abs=tol)
        assert g["end"] == pytest.approx(t.end, abs=tol)


def assert_contiguous(finals: list[dict[str, Any]], total: float) -> None:
    """Finals tile the stream clock from 0 to ``total`` without gaps or overlaps."""
    assert finals[0]["start"] == 0.0
    for a, b in itertools.pairwise(finals):
        assert a["start"] + a["duration"] == pytest.approx(b["start"], abs=1e-5)
    last = finals[-1]
    assert last["start"] + last["duration"] == pytest.approx(total, abs=1e-5)


def text(steps: str) -> str:
    return json.dumps({"type": steps})


# -- handshake ---------------------------------------------------------------------------------


def test_request_id_on_101_and_in_every_message(url: str) -> None:
    ex = exchange(url, RAW, chunks(TWO.samples))
    request_id = ex.headers["dg-request-id"]
    assert str(uuid.UUID(request_id)) == request_id
    assert ex.of("Results") and ex.code == 1000
    assert all(m["metadata"]["request_id"] == request_id for m in ex.of("Results"))
    assert ex.metadata["request_id"] == request_id
    other = exchange(url, RAW, [])
    assert other.headers["dg-request-id"] != request_id


@pytest.mark.parametrize(
    ("how", "kw"),
    [
        ("token", {"headers": {"Authorization": f"Token {KEY}"}}),
        ("bearer", {"headers": {"Authorization": f"Bearer {KEY}"}}),
        ("subprotocol", {"subprotocols": ["token", KEY]}),
    ],
)
def test_a_keyed_server_accepts_each_way_of_authenticating(
    keyed_url: str, how: str, kw: dict[str, Any]
) -> None:
    ex = exchange(keyed_url, RAW, chunks(TWO.samples), **kw)
    assert ex.code == 1000
    assert [w["word"] for w in ex.final_words()] == TWO.text
    assert ex.subprotocol == ("token" if how == "subprotocol" else None)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"headers": {"Authorization": "Token wrong"}},
        {"headers": {"Authorization": KEY}},
        {"subprotocols": ["token", "wrong"]},
        {"subprotocols": [KEY]},
    ],
)
def test_bad_or_missing_credentials_get_401(keyed_url: str, kw: dict[str, Any]) -> None:
    status, headers, body = rejection(keyed_url, **kw)
    assert status == 401
    assert list(body) == ["err_code", "err_msg", "request_id"]
    assert body["err_code"] == "INVALID_AUTH" and body["err_msg"] == "Invalid credentials."
    assert body["request_id"] == headers["dg-request-id"]
    assert headers["dg-error"] == "Invalid credentials."
    assert headers["Content-Type"] == "application/json"


def test_an_open_server_ignores_credentials(url: str) -> None:
    ex = exchange(url, RAW, [], subprotocols=["token", "anything"])
    assert ex.code == 1000 and ex.subprotocol == "token"
    assert exchange(url, RAW, [], headers={"Authorization": "Token x"}).code == 1000


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("interim_results=true&utterance_end_ms=999", "Invalid 'utterance_end_ms' value of '999'."),
        ("utterance_end_ms=1000", "utterance_end_ms requires interim_results=true."),
        ("encoding=linear16&sample_rate=16k", "Invalid 'sample_rate' value of '16k'."),
        ("encoding=linear16&sample_rate=16000.5", "Invalid 'sample_rate' value of '16000.5'."),
        ("encoding=wav9&sample_rate=16000", "Invalid 'encoding' value of 'wav9'."),
        ("encoding=linear16", "sample_rate is required when encoding is 'linear16'."),
        (RAW + "&channels=0", "channels must be between 1 and 32, not 0."),
        (RAW + "&interim_results=yes", "Invalid 'interim_results' value of 'yes'."),
        (RAW + "&endpointing=-5", "Invalid 'endpointing' value of '-5'."),
    ],
)
def test_invalid_parameters_get_400(url: str, query: str, error: str) -> None:
    status, headers, body = rejection(url, query)
    assert status == 400
    assert headers["dg-error"] == error
    assert body["err_msg"] == error and body["request_id"] == headers["dg-request-id"]


@pytest.mark.parametrize("encoding", ["mulaw", "opus", "flac"])
def test_known_encodings_we_cannot_decode_get_a_clear_400(url: str, encoding: str) -> None:
    status, headers, _ = rejection(url, f"encoding={encoding}&sample_rate=8000")
    assert status == 400
    assert f"'{encoding}' is not supported" in headers["dg-error"]


def test_wrong_path_is_404_with_a_request_id(url: str) -> None:
    status, headers, body = rejection(url.replace("/v1/listen", "/v1/speak"))
    assert status == 404 and "dg-request-id" in headers
    assert body["request_id"] == headers["dg-request-id"]


def test_unknown_parameters_are_accepted(url: str) -> None:
    query = RAW + "&model=nova-3&language=en&keyterm=a&keyterm=b&tag=x&numerals=true"
    assert exchange(url, query, chunks(TWO.samples)).code == 1000


# -- results -----------------------------------------------------------------------------------


def test_results_shape_and_default_endpointing(url: str) -> None:
    ex = exchange(url, RAW, chunks(TWO.samples))
    for m in ex.of("Results"):
        assert list(m) == RESULTS_KEYS
        assert m["channel_index"] == [0, 1] and m["is_final"] and m["from_finalize"] is False
        assert list(m["channel"]) == ["alternatives"] and len(m["channel"]["alternatives"]) == 1
        assert list(alt(m)) == ["transcript", "confidence", "words"]
        assert list(m["metadata"]) == ["request_id", "model_info", "model_uuid"]
        assert list(m["metadata"]["model_info"]) == ["name", "version", "arch"]
        assert alt(m)["transcript"] == " ".join(w["word"] for w in alt(m)["words"])
        for w in alt(m)["words"]:
            assert list(w) == ["word", "start", "end", "confidence"]
    assert ex.raw[0].startswith('{"type":"Results","channel_index":[0,1],')
    assert_words(ex.final_words(), TWO)
    # 10 ms endpointing (after webrtcvad's own hangover): the 1.5 s pause ends a segment.
    groups = [{w["word"] for w in alt(m)["words"]} for m in ex.finals() if m["speech_final"]]
    assert len(groups) >= 2
    assert all(g <= {"alpha", "bravo"} or g <= {"charlie", "delta", "echo"} for g in groups)
    assert_contiguous(ex.finals(), TWO.duration)
    uuids = {m["metadata"]["model_uuid"] for m in ex.of("Results")}
    assert uuids == set(ex.metadata["models"])


def test_endpointing_ms_closes_each_utterance_with_speech_final(url: str) -> None:
    ex = exchange(url, RAW + "&endpointing=300", chunks(TWO.samples))
    finals = [m for m in ex.finals() if alt(m)["words"]]
    assert [alt(m)["transcript"] for m in finals] == ["alpha bravo", "charlie delta echo"]
    assert all(m["speech_final"] for m in finals)
    for m, last in zip(finals, [TWO.words[1], TWO.words[4]], strict=True):
        end = m["start"] + m["duration"]
        assert last.end + 0.3 <= end + 0.01 and end <= last.end + 0.5
    assert_contiguous(ex.finals(), TWO.duration)


def test_endpointing_false_waits_for_finalize(url: str) -> None:
    steps = [*chunks(TWO.samples), text("Finalize")]
    ex = exchange(url, RAW + "&endpointing=false", steps)
    finals = ex.finals()
    assert finals[0]["from_finalize"] is True and finals[0]["speech_final"] is False
    assert_words(alt(finals[0])["words"], TWO)
    assert finals[0]["duration"] == pytest.approx(TWO.duration, abs=1e-5)
    assert len(finals) == 1  # CloseStream found nothing left to send


def test_interim_results_restate_the_segment_about_every_second(url: str) -> None:
    long = track([["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]])
    ex = exchange(url, RAW + "&endpointing=false&interim_results=true", chunks(long.samples))
    interims = [m for m in ex.of("Results") if not m["is_final"]]
    assert [m["duration"] for m in interims] == [1.0, 2.0, 3.0]
    for m in interims:
        assert m["start"] == 0.0 and m["speech_final"] is False and m["from_finalize"] is False
        words = [w["word"] for w in alt(m)["words"]]
        assert words == long.text[: len(words)] and words
    assert len(alt(interims[0])["words"]) < len(alt(interims[-1])["words"])
    assert ex.of("Results")[-1]["is_final"]
    assert_words(ex.final_words(), long)


def test_utterance_end_once_per_gap(url: str) -> None:
    t = track([["alpha", "bravo"], ["charlie"], ["delta"]], pause_s=[0.5, 1.5], tail_s=1.5)
    query = RAW + "&endpointing=false&interim_results=true&utterance_end_ms=1000"
    ex = exchange(url, query, chunks(t.samples))
    ends = ex.of("UtteranceEnd")
    assert [list(m) for m in ends] == [["type", "channel", "last_word_end"]] * 2
    assert [m["channel"] for m in ends] == [[0, 1], [0, 1]]
    assert [m["last_word_end"] for m in ends] == pytest.approx(
        [t.words[2].end, t.words[3].end], abs=TOL
    )


def test_speech_started_only_with_vad_events(url: str) -> None:
    ex = exchange(url, RAW + "&endpointing=300&vad_events=true", chunks(TWO.samples))
    started = ex.of("SpeechStarted")
    assert [list(m) for m in started] == [["type", "channel", "timestamp"]] * 2
    assert [m["timestamp"] for m in started] == pytest.approx(
        [TWO.words[0].start, TWO.words[2].start], abs=0.03
    )
    # Each comes before the words it announces.
    first_final = ex.messages.index(ex.finals()[0])
    assert ex.messages.index(started[0]) < first_final
    assert not exchange(url, RAW + "&endpointing=300", chunks(TWO.samples)).of("SpeechStarted")


@pytest.mark.parametrize("flag", ["punctuate", "smart_format"])
def test_punctuation(url: str, flag: str) -> None:
    query = RAW + f"&endpointing=300&interim_results=true&{flag}=true"
    ex = exchange(url, query, chunks(TWO.samples))
    finals = [m for m in ex.finals() if alt(m)["words"]]
    assert [alt(m)["transcript"] for m in finals] == ["Alpha bravo.", "Charlie delta echo."]
    assert [w["punctuated_word"] for w in alt(finals[1])["words"]] == [
        "Charlie",
        "delta",
        "echo.",
    ]
    interims = [m for m in ex.of("Results") if not m["is_final"]]
    assert interims and all(not alt(m)["transcript"].endswith(".") for m in interims)
    assert all(alt(m)["transcript"][0].isupper() for m in interims)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_other_sample_rates_are_resampled(url: str, rate: int) -> None:
    t = track([["golf", "hotel"], ["papa"]], pause_s=0.8, rate=rate)
    ex = exchange(url, f"encoding=linear16&sample_rate={rate}", chunks(t.samples, rate=rate))
    assert_words(ex.final_words(), t)
    assert ex.metadata["duration"] == pytest.approx(len(t.samples) / rate, abs=1e-6)
    assert_contiguous(ex.finals(), len(t.samples) / rate)


def test_multichannel_results_per_channel(url: str) -> None:
    left = track([["alpha", "bravo"], ["charlie"]], pause_s=0.6)
    right = track([["kilo"], ["lima", "mike"]], pause_s=0.9, lead_s=0.4)
    stereo = interleave([left.samples, right.samples])
    query = RAW + "&channels=2&multichannel=true&endpointing=false"
    ex = exchange(url, query, [*chunks(stereo, 2), text("Finalize")])
    assert {tuple(m["channel_index"]) for m in ex.of("Results")} == {(0, 2), (1, 2)}
    assert_words(ex.final_words(0), left)
    assert_words(ex.final_words(1), right)
    assert ex.metadata["channels"] == 2
    assert ex.metadata["duration"] == pytest.approx(max(left.duration, right.duration), abs=1e-6)


def test_without_multichannel_the_channels_are_mixed(url: str) -> None:
    left = track([["alpha"]])
    right = track([["oscar"]], lead_s=0.8)
    stereo = interleave([left.samples, right.samples])
    ex = exchange(url, RAW + "&channels=2", chunks(stereo, 2))
    assert {tuple(m["channel_index"]) for m in ex.of("Results")} == {(0, 1)}
    assert [w["word"] for w in ex.final_words()] == ["alpha", "oscar"]
    assert ex.metadata["channels"] == 2


def test_finalize_one_channel(url: str) -> None:
    left, right = track([["delta"]]), track([["echo"]])
    stereo = interleave([left.samples, right.samples])
    query = RAW + "&channels=2&multichannel=true&endpointing=false"
    steps = [*chunks(stereo, 2), json.dumps({"type": "Finalize", "channel": 1})]
    ex = exchange(url, query, [*steps, text("Finalize")])
    from_finalize = [m for m in ex.of("Results") if m["from_finalize"]]
    assert [m["channel_index"] for m in from_finalize] == [[1, 2], [0, 2], [1, 2]]
    assert [alt(m)["transcript"] for m in from_finalize] == ["echo", "delta", ""]
    assert from_finalize[2]["duration"] == 0.0


def test_finalize_with_nothing_pending_gives_an_empty_final(url: str) -> None:
    silence = np.zeros(8000, dtype=np.int16)
    ex = exchange(url, RAW, [*chunks(silence), text("Finalize"), text("Finalize")])
    results = ex.of("Results")
    assert len(results) == 2 and all(m["from_finalize"] and m["is_final"] for m in results)
    assert [alt(m)["transcript"] for m in results] == ["", ""]
    assert [(m["start"], m["duration"]) for m in results] == [(0.0, 0.5), (0.5, 0.0)]
    assert alt(results[0]) == {"transcript": "", "confidence": 0.0, "words": []}


def test_keepalive_gets_no_reply_and_metadata_has_exact_keys(url: str) -> None:
    ex = exchange(url, RAW, [text("KeepAlive"), text("KeepAlive")])
    assert [m["type"] for m in ex.messages] == ["Metadata"]
    meta = ex.metadata
    assert list(meta) == METADATA_KEYS
    assert meta["transaction_key"] == "deprecated" and ISO_MS.match(meta["created"])
    assert meta["sha256"] == hashlib.sha256(b"").hexdigest()
    assert (meta["duration"], meta["channels"]) == (0.0, 1)
    assert ex.code == 1000


def test_metadata_after_audio_lists_the_model(url: str) -> None:
    steps = chunks(TWO.samples)
    ex = exchange(url, RAW, steps)
    meta = ex.metadata
    assert list(meta) == [*METADATA_KEYS, "models", "model_info"]
    assert (
        meta["sha256"]
        == hashlib.sha256(b"".join(s for s in steps if isinstance(s, bytes))).hexdigest()
    )
    assert meta["duration"] == pytest.approx(TWO.duration, abs=1e-6)
    (model,) = meta["models"]
    assert meta["model_info"][model] == ex.of("Results")[0]["metadata"]["model_info"]
    assert meta["model_info"][model]["arch"] == "tone"


def test_empty_binary_frame_closes_like_closestream(url: str) -> None:
    ex = exchange(url, RAW + "&endpointing=false", [*chunks(TWO.samples), b""], close=False)
    assert ex.code == 1000
    assert [m["type"] for m in ex.messages] == ["Results", "Metadata"]
    assert_words(ex.final_words(), TWO)
    assert ex.finals()[0]["from_finalize"] is False


def test_samples_split_across_messages_are_reassembled(url: str) -> None:
    data = TWO.samples.astype("<i2").tobytes()
    steps: list[Step] = [data[i : i + 3333] for i in range(0, len(data), 3333)]
    ex = exchange(url, RAW, steps)
    assert_words(ex.final_words(), TWO)
    assert ex.metadata["duration"] == pytest.approx(TWO.duration, abs=1e-6)
    assert ex.metadata["sha256"] == hashlib.sha256(data).hexdigest()


def test_clock_pauses_while_only_keepalive_arrives(url: str) -> None:
    half = len(TWO.samples) // 2
    steps = [
        *chunks(TWO.samples[:half]),
        text("KeepAlive"),
        0.3,
        text("KeepAlive"),
        *chunks(TWO.samples[half:]),
    ]
    ex = exchange(url, RAW + "&endpointing=300", steps)
    assert_words(ex.final_words(), TWO)
    assert_contiguous(ex.finals(), TWO.duration)


# -- WAV input ---------------------------------------------------------------------------------


def test_wav_header_sets_rate_and_channels(url: str) -> None:
    left = track([["india", "juliett"]], rate=48000)
    right = track([["november"]], lead_s=0.5, rate=48000)
    data = wav_bytes([left.samples, right.samples], 48000)
    steps: list[Step] = [
        data[:10],
        data[10:50],
        *[data[i : i + 9600] for i in range(50, len(data), 9600)],
    ]
    ex = exchange(url, "multichannel=true&endpointing=false", steps)
    assert_words(ex.final_words(0), left)
    assert_words(ex.final_words(1), right)
    assert ex.metadata["channels"] == 2
    assert ex.metadata["duration"] == pytest.approx(left.duration, abs=1e-6)
    assert ex.metadata["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("payload", [b"this is not audio", b"OggS\0\2", b"RIFF\0\0\0\0AVI "])
def test_undecodable_audio_closes_1008_data0000(url: str, payload: bytes) -> None:
    ex = exchange(url, "", [payload], close=False)
    assert [m["type"] for m in ex.messages] == ["Metadata"]
    assert ex.code == 1008 and "DATA-0000" in ex.reason


def test_wav_that_is_not_16_bit_pcm_closes_1008(url: str) -> None:
    fmt = (3).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16000).to_bytes(4, "little")
    fmt += (64000).to_bytes(4, "little") + (4).to_bytes(2, "little") + (32).to_bytes(2, "little")
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + bytes(4)
    ex = exchange(url, "", [b"RIFF" + len(body).to_bytes(4, "little") + body], close=False)
    assert ex.code == 1008 and "DATA-0000" in ex.reason


# -- robustness and timeouts -------------------------------------------------------------------


def test_bad_text_messages_are_ignored(url: str) -> None:
    junk = [
        "not json",
        "[1, 2]",
        '{"type": 5}',
        '{"type": "Bogus"}',
        '{"type": "Finalize", "channel": "x"}',
        '{"type": "Finalize", "channel": 7}',
        '{"type": "Configure", "features": 3}',
        "\u00e9\u0000",
    ]
    ex = exchange(url, RAW + "&endpointing=false", [*junk, *chunks(TWO.samples), *junk])
    refused = [m for m in ex.messages if m["type"] == "ConfigureFailure"]
    assert [m["code"] for m in refused] == ["CONFIGURE_INTERNAL_ERROR"] * 2  # every one answered
    assert [m["type"] for m in ex.messages if m not in refused] == ["Results", "Metadata"]
    assert_words(ex.final_words(), TWO)


def test_configure_answers(url: str) -> None:
    steps = [
        json.dumps({"type": "Configure", "features": {"punctuate": True}}),
        json.dumps({"type": "Configure", "keyterms": ["vad"]}),
        *chunks(TWO.samples),
    ]
    ex = exchange(url, RAW + "&endpointing=false", steps)
    ok, failed = ex.messages[:2]  # keyterms are taken, as on Deepgram's nova-3
    request_id = ex.headers["dg-request-id"]
    assert ok == {"type": "ConfigureSuccess", "request_id": request_id, "keyterms": []}
    assert failed == {"type": "ConfigureSuccess", "request_id": request_id, "keyterms": ["vad"]}
    assert alt(ex.finals()[0])["transcript"].endswith("echo.")  # punctuate took effect


def test_idle_connection_gets_metadata_then_1011_net0001(quick_url: str) -> None:
    ex = exchange(quick_url, RAW, [], close=False)
    assert [m["type"] for m in ex.messages] == ["Metadata"]
    assert ex.code == 1011 and ex.reason == NET0001
    assert ex.reason == (
        "Deepgram did not receive audio data or a text message within the timeout window. "
        "See https://dpgr.am/net0001"
    )


def test_keepalive_holds_an_idle_connection_open(quick_url: str) -> None:
    steps: list[Step] = [*chunks(TWO.samples[:3200])]
    steps += [x for _ in range(5) for x in (0.4, text("KeepAlive"))]  # 2 s > 1 s idle timeout
    ex = exchange(quick_url, RAW, steps)
    assert ex.code == 1000
    assert ex.metadata["duration"] == pytest.approx(0.2)


def test_eight_concurrent_connections_are_independent(url: str) -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    tracks = [track([[w, words[(i + 3) % 8]]], pause_s=0.5) for i, w in enumerate(words)]

    async def all_at_once() -> list[Exchange]:
        return await asyncio.gather(
            *(exchange_async(url, RAW + "&endpointing=false", chunks(t.samples)) for t in tracks)
        )

    results = asyncio.run(all_at_once())
    for ex, t in zip(results, tracks, strict=True):
        assert_words(ex.final_words(), t)
    assert len({ex.headers["dg-request-id"] for ex in results}) == 8


def test_a_blocked_decoder_does_not_stall_other_connections() -> None:
    engine = GatedEngine("first")

    async def scenario(base: str) -> tuple[Exchange, Exchange]:
        stuck = asyncio.create_task(exchange_async(base, RAW, chunks(TWO.samples[:16000])))
        await asyncio.sleep(0.2)  # the first connection is now inside accept()
        free = await exchange_async(base, RAW, chunks(TWO.samples))
        engine.gate.set()  # only reachable if the event loop kept serving
        return free, await stuck

    with BackgroundServer(engine) as server:
        free, stuck = asyncio.run(scenario(server.start()))
    assert engine.opened_in_time
    assert_words(free.final_words(), TWO)
    assert [w["word"] for w in stuck.final_words()] == ["alpha", "bravo"]


# -- embedding and the command line ------------------------------------------------------------


def test_load_engine() -> None:
    assert load_engine("tone").name == "tone"
    with pytest.raises(ConfigError, match=r"Unknown engine 'kaldi'; use one of: .*whisper"):
        load_engine("kaldi")


def test_background_server_stops_and_reports_a_busy_port() -> None:
    server = BackgroundServer(ToneEngine())
    base = server.start()
    assert server.start() == base  # idempotent
    port = int(base.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(ConfigError, match=str(port)):
        BackgroundServer(ToneEngine(), port=port).start()
    server.stop()
    server.stop()
    with pytest.raises(OSError):
        exchange(base, RAW, [])


def test_stopping_the_server_sends_metadata_then_1001() -> None:
    server = BackgroundServer(ToneEngine())
    base = server.start()

    async def scenario() -> Exchange:
        steps: list[Step] = [*chunks(TWO.samples[:8000]), 0.3]
        open_stream = asyncio.create_task(exchange_async(base, RAW, steps, close=False))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(server.stop)
        return await open_stream

    ex = asyncio.run(scenario())
    assert [m["type"] for m in ex.messages][-1:] == ["Metadata"]
    assert ex.metadata["duration"] == 0.5
    assert ex.code == 1001


def test_command_line_server_prints_url_and_honours_the_key_env() -> None:
    env = {"DEEPGRAM_API_KEY": KEY, "PATH": "/usr/bin:/bin"}
    with running_server("--idle-timeout", "5", env=env) as base:
        assert re.match(r"^ws://127\.0\.0\.1:\d+/v1/listen$", base) and ":0/" not in base
        assert rejection(base)[0] == 401
        ex = exchange(base, RAW, chunks(TWO.samples), headers={"Authorization": f"Token {KEY}"})
        assert [w["word"] for w in ex.final_words()] == TWO.text
    with running_server() as base:
        assert exchange(base, RAW, []).code == 1000  # no key in the environment: open


def test_command_line_server_exits_0_on_sigterm_and_sigint() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen(
            [sys.executable, "-m", "vad_dictate", "serve", "--port", "0", "--engine", "tone"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ws://127.0.0.1:")
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0 and out == ""


def test_command_line_unknown_engine_is_one_line_exit_2() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "vad_dictate", "serve", "--port", "0", "--engine", "kaldi"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and "'kaldi'" in res.stderr


def test_resampler_keeps_tones_decodable() -> None:
    """Guards the server's resampling path: tones survive 48 kHz -> 16 kHz."""
    t = track([["kilo", "lima"]], rate=48000)
    rec = ToneRecognizer()
    rec.accept(resample(t.samples, 48000, 16000))
    assert [w.text for w in rec.finalize()] == t.text


def test_serve_refuses_bad_or_busy_ports_in_one_sentence() -> None:
    import socket as _socket
    import subprocess as _sp
    import sys as _sys

    busy = _socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        for args, needle in (
            (["--port", "-5"], "--port must be between"),
            (["--port", str(port)], "address already in use"),
        ):
            res = _sp.run(
                [_sys.executable, "-m", "vad_dictate", "serve", "--engine", "tone", *args],
                capture_output=True,
                text=True,
                timeout=30,
                stdin=_sp.DEVNULL,
            )
            assert res.returncode == 2, res.stderr
            assert len(res.stderr.strip().splitlines()) == 1 and needle in res.stderr
            assert "Traceback" not in res.stderr
    finally:
        busy.close()
