"""``vad-dictate serve --engine whisper`` (tiny.en) driven over real websockets on 127.0.0.1:
Deepgram's official SDK, paced streams with interim results, eight streams at once, and
bad model settings on the command line. One server for the module."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("faster_whisper", reason="the whisper extra is not installed")
pytest.importorskip("deepgram", reason="deepgram-sdk is not installed (pip install -e '.[test]')")

from deepgram.listen.v1.types import (
    ListenV1Configure,
    ListenV1ConfigureSuccess,
    ListenV1Metadata,
    ListenV1Results,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.engines.test_sphinx import CLIPS, OTHER, RATE, SHORT, load, reference
from tests.server.test_sdk_conformance import drain, listen, receive, send_audio
from tests.serverproc import ROOT, running_server
from tests.words import normalize, word_error_rate
from vad_dictate.audio.block import Int16Array
from vad_dictate.server.session import parse_params

RAW = "encoding=linear16&sample_rate=16000"
CHUNK = RATE // 10


def silence(seconds: float) -> Int16Array:
    return np.zeros(int(RATE * seconds), dtype=np.int16)


pytestmark = pytest.mark.usefixtures("no_proxy")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server("--engine", "whisper", "--model", "tiny.en", "--threads", "2") as u:
        yield u


def sdk_transcript(result: ListenV1Results) -> str:
    return result.channel.alternatives[0].transcript


def test_sdk_finalize_with_and_without_pending_audio(url: str) -> None:
    base, sent = url.removesuffix("/v1/listen"), bytearray()
    query = {"interim_results": "false", "endpointing": "false", "punctuate": "true"}
    with listen(base, keyterm="Dashwood", **query) as socket:
        send_audio(socket, np.concatenate([load(SHORT), silence(0.3)]), sent)
        socket.send_finalize()
        first = receive(socket)
        socket.send_finalize()  # nothing new since the last one
        empty = receive(socket)
        send_audio(socket, load(OTHER), sent)
        socket.send_close_stream()
        *last, meta = drain(socket)

    assert isinstance(first, ListenV1Results) and isinstance(empty, ListenV1Results)
    assert (first.is_final, first.from_finalize) == (True, True)
    assert sdk_transcript(first).startswith("He was not an ")  # Whisper's casing
    assert sdk_transcript(first).endswith(".")
    for w in first.channel.alternatives[0].words:
        assert w.word == w.word.lower() and w.punctuated_word is not None
        assert normalize(w.punctuated_word) == normalize(w.word)
        assert 0.0 <= w.start <= w.end <= 3.3
    assert (empty.is_final, empty.from_finalize, sdk_transcript(empty)) == (True, True, "")
    closing = [r for r in last if isinstance(r, ListenV1Results)]
    assert len(closing) == 1 and closing[0].from_finalize is False
    assert normalize(sdk_transcript(closing[0]))[:3] == ["he", "might", "even"]
    first_word = closing[0].channel.alternatives[0].words[0]
    assert 3.29 <= first_word.start <= 3.29 + 0.8  # on the stream clock, after the first clip
    assert isinstance(meta, ListenV1Metadata)
    assert meta.duration == round(len(sent) / 2 / RATE, 6)


def test_sdk_without_punctuate_gives_plain_lower_case_words(url: str) -> None:
    base, sent = url.removesuffix("/v1/listen"), bytearray()
    with listen(base, interim_results="false", endpointing="false", punctuate="false") as socket:
        send_audio(socket, load(CLIPS[2]), sent)
        socket.send_finalize()
        result = receive(socket)
        socket.send_close_stream()
        drain(socket)
    assert isinstance(result, ListenV1Results)
    text = sdk_transcript(result)
    assert text == text.lower() and not any(c in text for c in ".,;:!?")
    assert text == " ".join(w.word for w in result.channel.alternatives[0].words)
    assert word_error_rate(reference(CLIPS[2]), normalize(text)) <= 0.2


def test_keyterms_configured_mid_stream_reach_the_next_decode(url: str) -> None:
    # tiny.en hears "an old-sposed young man" in this clip; the keyterm fixes it.
    base, sent = url.removesuffix("/v1/listen"), bytearray()
    audio = np.concatenate([load(SHORT), silence(0.3)])
    with listen(base, interim_results="false", endpointing="false", punctuate="false") as socket:
        send_audio(socket, audio, sent)
        socket.send_finalize()
        before = receive(socket)
        socket.send_configure(ListenV1Configure(keyterms=["ill-disposed"]))
        answer = receive(socket)
        send_audio(socket, audio, sent)
        socket.send_finalize()
        after = receive(socket)
        socket.send_close_stream()
        drain(socket)
    assert isinstance(before, ListenV1Results) and isinstance(after, ListenV1Results)
    assert "ill-disposed" not in sdk_transcript(before).split()
    assert isinstance(answer, ListenV1ConfigureSuccess) and answer.keyterms == ["ill-disposed"]
    # tiny.en sometimes invents a word or two in the 0.3 s of silence after the clip (see
    # whisper_words.SQUEEZED_S); what this test proves is that the keyterm reached the decode.
    assert sdk_transcript(after).startswith("he was not an ill-disposed young man")


async def converse(
    url: str, query: str, audio: Int16Array, *, pace: float = 0.0, finalize: bool = True
) -> list[dict[str, Any]]:
    """Send audio in 100 ms messages (every ``pace`` s), Finalize, CloseStream; all replies."""
    messages: list[dict[str, Any]] = []
    async with connect(f"{url}?{query}", proxy=None) as ws:

        async def reader() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    messages.append(json.loads(message))

        task = asyncio.create_task(reader())
        for i in range(0, len(audio), CHUNK):
            await ws.send(audio[i : i + CHUNK].tobytes())
            await asyncio.sleep(pace)
        if finalize:
            await ws.send(json.dumps({"type": "Finalize"}))
        await ws.send(json.dumps({"type": "CloseStream"}))
        await asyncio.wait_for(task, 90)
    return messages


def results(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("type") == "Results"]


def transcript(result: dict[str, Any]) -> str:
    return str(result["channel"]["alternatives"][0]["transcript"])


def test_interim_results_arrive_before_the_final_at_real_time(url: str) -> None:
    audio = np.concatenate([load(CLIPS[0]), silence(0.3)])  # 7.1 s of speech
    query = f"{RAW}&interim_results=true&endpointing=false&punctuate=false"
    found = results(asyncio.run(converse(url, query, audio, pace=0.1)))
    first_final = next(i for i, r in enumerate(found) if r["is_final"])
    interims = [r for r in found[:first_final] if transcript(r)]
    assert interims, "no interim result before the final"
    final = found[first_final]
    assert final["from_finalize"] is True
    # An interim is a hypothesis of the opening of the same utterance.
    early, late = normalize(transcript(interims[0])), normalize(transcript(final))
    assert word_error_rate(late[: len(early)], early) <= 0.34
    assert word_error_rate(reference(CLIPS[0]), late) <= 0.1
    for r in interims:
        assert r["is_final"] is False and r["start"] == 0.0


def test_server_endpointing_gives_a_speech_final(url: str) -> None:
    audio = np.concatenate([load(SHORT), silence(1.0)])
    query = f"{RAW}&endpointing=300&punctuate=false"
    found = results(asyncio.run(converse(url, query, audio, finalize=False)))
    spoken = [r for r in found if transcript(r)]
    assert len(spoken) == 1 and spoken[0]["speech_final"] is True
    assert spoken[0]["from_finalize"] is False
    assert word_error_rate(reference(SHORT), normalize(transcript(spoken[0]))) <= 0.3


def test_eight_concurrent_streams_are_all_served(url: str) -> None:
    clips = [CLIPS[i % len(CLIPS)] for i in range(8)]
    query = f"{RAW}&endpointing=false&punctuate=false"

    async def all_at_once() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(converse(url, query, load(c)) for c in clips))

    started = time.monotonic()
    streams = asyncio.run(all_at_once())
    print(f"eight streams answered in {time.monotonic() - started:.1f} s")
    for clip, messages in zip(clips, streams, strict=True):
        assert messages[-1]["type"] == "Metadata"
        heard = [w for r in results(messages) if r["is_final"] for w in normalize(transcript(r))]
        assert word_error_rate(reference(clip), heard) <= 0.3, (clip, heard)


def test_stream_options_reach_the_recognizer() -> None:
    params = parse_params(f"{RAW}&language=de-DE&keyterm=Dashwood&keyterm=Norland")
    assert params.language == "de-DE" and params.keyterms == ("Dashwood", "Norland")


def serve(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPGRAM")}
    return subprocess.run(
        [sys.executable, "-m", "vad_dictate", "serve", "--port", "0", "--engine", "whisper", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp)},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--model", "tiny-en"), "Unknown whisper model 'tiny-en'"),
        (("--threads", "99"), "engine.threads is 99, but it must be between 0 and 64"),
        (("--model", "{tmp}"), "has no readable config.json"),
    ],
)
def test_bad_model_settings_are_one_sentence_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    done = serve(tmp_path, *(a.format(tmp=tmp_path) for a in args))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vad-dictate: ") and expected in lines[0]
