"""A microphone that fails mid-session: what was said is kept, the device is reopened or
the session ends with exit code 4.

PortAudio cannot be made to fail on cue without hardware (a stalled ALSA file device
blocks inside PortAudio), so these run the real Session against the real local server
with a scripted source whose ``blocks()`` raises the same AudioDeviceError that
vad_dictate.audio.mic raises, and whose ``reset()`` lets it be reopened.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt

from tests.pair import app_options
from tests.wavs import silence
from vad_dictate.audio.block import AudioBlock
from vad_dictate.client.session import Session
from vad_dictate.engines.tone import ToneEngine, synth_utterance
from vad_dictate.errors import AudioDeviceError
from vad_dictate.server.serve import BackgroundServer
from vad_dictate.ui.sinks import StatusView, UtteranceSink

RATE = 16000
BLOCK = RATE // 50


class FailingMic:
    """Plays one audio segment per opening, then fails like an unplugged device."""

    live = True
    overflows_portaudio = 0
    overflows_queue = 0
    hold = 0  # ignored: every block at once

    def __init__(self, openings: list[npt.NDArray[np.int16]], reopenable: bool) -> None:
        self.sample_rate, self.channels = RATE, 1
        self._openings = list(openings)
        self._next = 0
        self.resets = 0
        self._reopenable = reopenable

    def reset(self) -> None:
        self.resets += 1

    def release(self) -> None:
        """Nothing is held."""

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        if not self._openings or (self._next and not self._reopenable):
            raise AudioDeviceError("Audio input from 'test mic' failed: it was unplugged")
        audio = self._openings.pop(0)
        for pos in range(0, len(audio), BLOCK):
            await asyncio.sleep(0.002)
            chunk = audio[pos : pos + BLOCK, None]
            yield AudioBlock(chunk, self._next, time.monotonic())
            self._next += len(chunk)
        if self._openings or not self._reopenable:
            raise AudioDeviceError("Audio input from 'test mic' failed: no audio arrived for 3 s")


def run(mic: FailingMic, url: str, reopen_s: float) -> tuple[list[str], str, Exception | None]:
    out, err = io.StringIO(), io.StringIO()
    opts = app_options(url=url, reopen_s=reopen_s)
    session = Session(mic, opts, UtteranceSink("text", 1, out), StatusView(err, quiet=True))
    failure: Exception | None = None
    try:
        asyncio.run(session.run())
    except AudioDeviceError as exc:
        failure = exc
    return out.getvalue().splitlines(), err.getvalue(), failure


def test_device_fails_mid_utterance_and_comes_back() -> None:
    first = np.concatenate([silence(0.5), synth_utterance(["alpha", "bravo"])])
    second = np.concatenate([silence(0.5), synth_utterance(["kilo", "lima"]), silence(1.5)])
    with BackgroundServer(ToneEngine()) as server:
        lines, err, failure = run(FailingMic([first, second], True), server.start(), 10)
    assert failure is None
    assert lines == ["Alpha bravo.", "Kilo lima."]  # the first was finalized when it died
    assert "it was unplugged" not in err and "no audio arrived for 3 s" in err
    assert "the microphone is back" in err


def test_device_that_never_returns_ends_with_its_error() -> None:
    first = np.concatenate([silence(0.5), synth_utterance(["echo", "golf"])])
    mic = FailingMic([first], reopenable=False)
    with BackgroundServer(ToneEngine()) as server:
        started = time.monotonic()
        lines, _, failure = run(mic, server.start(), 2.5)
    assert lines == ["Echo golf."]  # what was said before it died is printed
    assert isinstance(failure, AudioDeviceError) and failure.exit_code == 4
    assert mic.resets >= 2  # it kept trying to reopen for reopen_s
    assert time.monotonic() - started < 15


class OverflowingMic(FailingMic):
    """A microphone whose queue overflowed twice while the user spoke."""

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        async for block in super().blocks():
            if block.start == RATE:  # one second in
                self.overflows_queue += 2
            yield block


def test_capture_overflows_reach_jsonl_as_a_status_line() -> None:
    audio = np.concatenate([silence(0.5), synth_utterance(["alpha", "bravo"]), silence(1.5)])
    mic = OverflowingMic([audio], reopenable=True)
    out, err = io.StringIO(), io.StringIO()
    with BackgroundServer(ToneEngine()) as server:
        opts = app_options(url=server.start())
        session = Session(mic, opts, UtteranceSink("jsonl", 1, out), StatusView(err, quiet=True))
        asyncio.run(session.run())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    status = [r for r in records if r["type"] == "status"]
    assert status == [{"type": "status", "event": "overflow", "portaudio": 0, "queue": 2}]
    assert [r["text"] for r in records if r["type"] == "utterance"] == ["Alpha bravo."]
    assert session.snapshot()["overflows"] == 2
