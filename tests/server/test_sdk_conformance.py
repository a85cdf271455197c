"""Deepgram's official Python SDK (deepgram-sdk) against our local server.

The SDK's ``listen.v1`` websocket client connects to ``ws://127.0.0.1:PORT`` through
a custom environment, sends audio and control messages with its own methods, and
parses every server message into its typed models. Each message must land in the
right model, survive the models' full pydantic validation, and carry the exact
values of the deterministic tone engine.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

pytest.importorskip(
    "deepgram",
    reason="deepgram-sdk is not installed (it is a test dependency: pip install -e '.[test]')",
)

from deepgram import DeepgramClient
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment
from deepgram.listen.v1.socket_client import V1SocketClient
from deepgram.listen.v1.types import (
    ListenV1Configure,
    ListenV1ConfigureSuccess,
    ListenV1Finalize,
    ListenV1Metadata,
    ListenV1Results,
    ListenV1SpeechStarted,
    ListenV1UtteranceEnd,
)
from pydantic import BaseModel
from websockets.exceptions import InvalidStatus

from tests.serverproc import running_server
from tests.wavs import stereo
from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.tone import silence, synth_utterance

KEY = "sdk-conformance-key-41c2"
CHUNK = 1600  # 100 ms at 16 kHz


pytestmark = pytest.mark.usefixtures("no_proxy")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_server() as url:
        yield url.removesuffix("/v1/listen")


def client(base: str, api_key: str = "unused") -> DeepgramClient:
    """An SDK client whose every endpoint points at our server."""
    env = DeepgramClientEnvironment(
        base=base.replace("ws://", "http://"), production=base, agent=base, agent_rest=base
    )
    return DeepgramClient(api_key=api_key, environment=env)


@contextmanager
def listen(base: str, api_key: str = "unused", **query: Any) -> Iterator[V1SocketClient]:
    """Open the SDK's live socket for 16 kHz linear16 audio with extra query options."""
    with client(base, api_key).listen.v1.connect(
        model="nova-3", encoding="linear16", sample_rate=16000, **query
    ) as socket:
        yield socket


def send_audio(socket: V1SocketClient, audio: Int16Array, sent: bytearray) -> None:
    """Send audio in 100 ms messages, keeping a copy of every byte for the sha256 check."""
    data = np.ascontiguousarray(audio).tobytes()
    step = CHUNK * 2 * (audio.shape[1] if audio.ndim == 2 else 1)
    for i in range(0, len(data), step):
        socket.send_media(data[i : i + step])
        sent += data[i : i + step]


def checked(message: object) -> Any:
    """Assert the SDK parsed a message into one of its models and that it fully validates."""
    assert isinstance(message, BaseModel), f"the SDK could not type {message!r}"
    # The SDK builds models without validation; validate the same fields strictly.
    again = type(message).model_validate(message.dict())
    assert again == message
    return message


def receive(socket: V1SocketClient) -> Any:
    return checked(socket.recv())


def drain(socket: V1SocketClient) -> list[Any]:
    """Read until the server closes; iteration ends quietly only on a normal close."""
    return [checked(message) for message in socket]


def words(result: ListenV1Results) -> list[tuple[str, float, float]]:
    return [(w.word, w.start, w.end) for w in result.channel.alternatives[0].words]


def transcript(result: ListenV1Results) -> str:
    return result.channel.alternatives[0].transcript


def check_metadata(
    meta: ListenV1Metadata, results: list[ListenV1Results], sent: bytes, seconds: float
) -> None:
    """Metadata agrees with the audio sent and with the Results of the same stream."""
    assert isinstance(meta, ListenV1Metadata)
    assert meta.transaction_key == "deprecated"
    assert meta.request_id == results[0].metadata.request_id
    assert meta.sha256 == hashlib.sha256(sent).hexdigest()
    assert meta.duration == seconds
    created = datetime.fromisoformat(meta.created.replace("Z", "+00:00"))
    assert created.tzinfo is not None and created.utcoffset() == UTC.utcoffset(None)
    extra: dict[str, Any] = meta.model_extra or {}
    uuid = results[0].metadata.model_uuid
    assert extra["models"] == [uuid]
    assert extra["model_info"][uuid]["name"] == results[0].metadata.model_info.name
    for result in results:
        assert result.metadata.request_id == meta.request_id
        assert result.metadata.model_uuid == uuid


@pytest.fixture(autouse=True)
def _every_message_known(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    # The SDK logs and skips messages it cannot type instead of raising.
    with caplog.at_level(logging.WARNING, logger="deepgram"):
        yield
    skipped = [r.getMessage() for r in caplog.records if r.name.startswith("deepgram")]
    assert skipped == []


def test_finalize_round_trip_and_metadata(base_url: str) -> None:
    sent = bytearray()
    with listen(base_url, interim_results="false", endpointing="false") as socket:
        send_audio(
            socket, np.concatenate([silence(0.2), synth_utterance(["alpha", "bravo"])]), sent
        )
        send_audio(socket, silence(0.2), sent)
        socket.send_keep_alive()
        socket.send_finalize()
        first = receive(socket)
        send_audio(socket, synth_utterance(["charlie", "delta"]), sent)
        send_audio(socket, silence(0.2), sent)
        socket.send_finalize()
        second = receive(socket)
        socket.send_close_stream()
        rest = drain(socket)

    for result in (first, second):
        assert isinstance(result, ListenV1Results)
        assert (result.is_final, result.from_finalize, result.channel_index) == (True, True, [0, 1])
        assert 0.0 < result.channel.alternatives[0].confidence <= 1.0
    assert (first.start, first.duration) == (0.0, 1.1)
    assert transcript(first) == "alpha bravo"
    assert words(first) == [("alpha", 0.2, 0.5), ("bravo", 0.6, 0.9)]
    assert (second.start, second.duration) == (1.1, 0.9)
    assert transcript(second) == "charlie delta"
    assert words(second) == [("charlie", 1.1, 1.4), ("delta", 1.5, 1.8)]
    # After CloseStream: possibly an empty final for unflushed audio, then Metadata last.
    *flushed, meta = rest
    assert all(isinstance(r, ListenV1Results) and transcript(r) == "" for r in flushed)
    check_metadata(meta, [first, second, *flushed], bytes(sent), 2.0)
    assert meta.channels == 1


def test_interim_results_speech_events_and_utterance_end(base_url: str) -> None:
    sent = bytearray()
    audio = np.concatenate(
        [silence(0.2), synth_utterance(["echo", "foxtrot", "golf"]), silence(1.5)]
    )
    query: dict[str, Any] = {
        "interim_results": "true",
        "vad_events": "true",
        "utterance_end_ms": 1000,
    }
    with listen(base_url, endpointing=300, **query) as socket:
        send_audio(socket, audio, sent)
        socket.send_close_stream()
        messages = drain(socket)

    kinds = [type(m) for m in messages]
    assert kinds[0] is ListenV1SpeechStarted and kinds[-1] is ListenV1Metadata
    started = messages[0]
    assert started.channel == [0, 1]
    assert abs(started.timestamp - 0.2) <= 0.05

    results = [m for m in messages if isinstance(m, ListenV1Results)]
    assert all(r.channel_index == [0, 1] for r in results)
    interims = [r for r in results if not r.is_final]
    finals = [r for r in results if r.is_final and transcript(r)]
    expected = [("echo", 0.2, 0.5), ("foxtrot", 0.6, 0.9), ("golf", 1.0, 1.3)]
    assert interims, "interim_results=true produced no interim result"
    for interim in interims:
        # Interims restate the segment so far: a prefix of the final words.
        assert [w[0] for w in words(interim)] == [w[0] for w in expected][: len(words(interim))]
    assert len(finals) == 1
    final = finals[0]
    assert (final.speech_final, final.from_finalize) == (True, False)
    assert transcript(final) == "echo foxtrot golf"
    assert words(final) == expected
    assert messages.index(final) > messages.index(interims[-1])

    ends = [m for m in messages if isinstance(m, ListenV1UtteranceEnd)]
    assert len(ends) == 1
    assert (ends[0].channel, ends[0].last_word_end) == ([0, 1], 1.3)
    assert messages.index(ends[0]) > messages.index(final)
    check_metadata(messages[-1], results, bytes(sent), 2.8)


def test_multichannel_channel_finalize_and_configure(base_url: str) -> None:
    sent = bytearray()
    left = np.concatenate([silence(0.2), synth_utterance(["alpha", "bravo"])])
    right = np.concatenate([silence(0.3), synth_utterance(["charlie"])])
    with listen(
        base_url, channels=2, multichannel="true", endpointing="false", interim_results="false"
    ) as socket:
        send_audio(socket, stereo(left, right), sent)
        # The SDK's Finalize model has no "channel" field but passes extra fields through.
        socket.send_finalize(ListenV1Finalize(type="Finalize", channel=1))  # type: ignore[call-arg]
        only_right = receive(socket)
        socket.send_configure(ListenV1Configure(keyterms=["kilo"]))
        refused = receive(socket)
        socket.send_configure(ListenV1Configure(features={"punctuate": True}))
        applied = receive(socket)
        socket.send_finalize()
        both = [receive(socket) for _ in range(2)]
        socket.send_close_stream()
        rest = drain(socket)

    assert isinstance(only_right, ListenV1Results)
    assert (only_right.channel_index, only_right.from_finalize) == ([1, 2], True)
    assert words(only_right) == [("charlie", 0.3, 0.6)]

    assert isinstance(refused, ListenV1ConfigureSuccess)  # keyterms are taken
    assert refused.request_id == only_right.metadata.request_id
    assert refused.keyterms == ["kilo"]
    assert isinstance(applied, ListenV1ConfigureSuccess)
    assert applied.request_id == only_right.metadata.request_id

    by_channel = {tuple(r.channel_index): r for r in both}
    assert set(by_channel) == {(0, 2), (1, 2)}
    left_result = by_channel[(0, 2)]
    assert (left_result.is_final, left_result.from_finalize) == (True, True)
    assert transcript(left_result) == "Alpha bravo."
    assert words(left_result) == [("alpha", 0.2, 0.5), ("bravo", 0.6, 0.9)]
    punctuated = [w.punctuated_word for w in left_result.channel.alternatives[0].words]
    assert punctuated == ["Alpha", "bravo."]
    # Channel 1 was already flushed: its answer to the second Finalize is empty.
    assert transcript(by_channel[(1, 2)]) == "" and by_channel[(1, 2)].from_finalize

    *flushed, meta = rest
    assert all(isinstance(r, ListenV1Results) and transcript(r) == "" for r in flushed)
    check_metadata(meta, [only_right, *both, *flushed], bytes(sent), 0.9)
    assert meta.channels == 2


def test_sdk_credentials_are_accepted_and_rejected() -> None:
    with running_server("--api-key", KEY) as url:
        base = url.removesuffix("/v1/listen")
        sent = bytearray()
        with listen(base, api_key=KEY, interim_results="false") as socket:
            send_audio(socket, np.concatenate([silence(0.2), synth_utterance(["hotel"])]), sent)
            socket.send_finalize()
            result = receive(socket)
            socket.send_close_stream()
            drain(socket)
        assert words(result) == [("hotel", 0.2, 0.5)]

        # deepgram-sdk 7.17 turns only websockets' legacy InvalidStatusCode into ApiError;
        # with websockets >= 14 the sync client raises InvalidStatus, which it lets through.
        with pytest.raises((ApiError, InvalidStatus)) as info, listen(base, api_key="wrong-key"):
            pass
        error = info.value
        if isinstance(error, InvalidStatus):
            assert error.response.status_code == 401
            assert json.loads(error.response.body)["err_code"] == "INVALID_AUTH"
        else:
            assert isinstance(error, ApiError) and error.status_code == 401
