"""The session lets its source gather blocks (``AudioSource.hold``) and takes them back first.

The real Session against the real local server, with a source that gathers blocks the way the
microphone and file sources do: it hands them out together once it holds ``hold`` frames, and
at once after ``release()``. A control (hotkey Finalize, pause, stop) that comes while blocks
are held must take effect only after the audio captured before it reached the core.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable

import numpy as np

from tests.pair import app_options
from tests.wavs import silence
from vad_dictate.audio.block import AudioBlock, Int16Array
from vad_dictate.client.session import Session
from vad_dictate.engines.tone import synth_utterance
from vad_dictate.ui.sinks import StatusView, UtteranceSink

RATE = 16000
BLOCK = RATE // 50


class GatheringSource:
    """Blocks of ``audio``, gathered under ``hold``; ``controls`` run at given block indexes
    (as a key press would, between two callbacks) and record how much was captured by then."""

    live = True
    sample_rate, channels = RATE, 1
    overflows_portaudio = overflows_queue = 0

    def __init__(self, audio: Int16Array, controls: dict[int, Callable[[], None]]) -> None:
        self.audio, self.controls = audio, controls
        self.hold = 0
        self.releases = 0
        self.captured = 0  # frames captured so far, handed out or held
        self.captured_at_control: list[int] = []
        self.holds: set[int] = set()
        self.wakes = 0
        self._released = False

    def reset(self) -> None:
        """Never fails."""

    def release(self) -> None:
        self.releases += 1
        self._released = True

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        held: list[AudioBlock] = []
        for i, pos in enumerate(range(0, len(self.audio), BLOCK)):
            await asyncio.sleep(0.002)
            chunk = self.audio[pos : pos + BLOCK, None]
            held.append(AudioBlock(chunk, pos, time.monotonic()))
            self.captured += len(chunk)
            if i in self.controls:
                self.captured_at_control.append(self.captured)
                self.controls[i]()
            if sum(len(b.samples) for b in held) < self.hold and not self._released:
                continue
            self._released = False
            self.wakes += 1
            self.holds.add(self.hold)
            for block in held:  # no await in between: one wake-up of the consumer
                yield block
            held = []
        for block in held:
            yield block


def session_for(
    source: GatheringSource, url: str, paused: bool = False
) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    sink = UtteranceSink("text", 1, out)
    view = StatusView(io.StringIO(), quiet=True)
    return Session(source, app_options(url=url), sink, view, paused=paused), out


def audio_of(*parts: Int16Array) -> Int16Array:
    return np.concatenate(parts)


def test_the_session_lets_the_source_gather_what_its_decisions_can_wait_for(
    server_url: str,
) -> None:
    audio = audio_of(silence(1.0), synth_utterance(["alpha", "bravo"]), silence(1.5))
    source = GatheringSource(audio, {})
    session, out = session_for(source, server_url)
    assert asyncio.run(session.run()) == 0
    assert out.getvalue().splitlines() == ["Alpha bravo."]
    # Idle: 100 ms; speech: 40 ms; deciding a start or an end: nothing; in a pause: up to the
    # next decision.
    assert {0, 640, 1600} <= source.holds
    assert source.wakes < 0.6 * len(audio) / BLOCK


def test_a_hotkey_finalize_waits_for_the_audio_captured_before_it(server_url: str) -> None:
    speech = synth_utterance(["alpha", "bravo", "charlie"])
    audio = audio_of(silence(1.0), speech, silence(1.5))
    at_press: list[int] = []
    # The key is pressed in the middle of "bravo" while speech holds a block back.
    press = (RATE + len(speech) // 2) // BLOCK
    source = GatheringSource(audio, {})
    session, out = session_for(source, server_url)
    finalize = session.core.finalize

    def finalized(now: float) -> list[object]:
        at_press.append(session.core.pipeline.captured_frames)
        return finalize(now)  # type: ignore[return-value]

    session.core.finalize = finalized  # type: ignore[method-assign, assignment]
    source.controls[press] = session.request_finalize
    assert asyncio.run(session.run()) == 0
    assert source.releases == 1  # the source gave up what it held at once
    # When the Finalize was made, the core had every frame captured before the key press.
    assert at_press and at_press[0] >= source.captured_at_control[0]
    lines = out.getvalue().splitlines()
    assert lines[0].lower().startswith("alpha") and "charlie" in lines[-1].lower()


def test_a_stop_while_blocks_are_held_loses_none_of_them(server_url: str) -> None:
    audio = audio_of(silence(0.5), synth_utterance(["delta", "echo"]), silence(3.0))
    source = GatheringSource(audio, {})
    session, out = session_for(source, server_url)
    stop_at = (len(audio) - RATE) // BLOCK  # in the silence after the words: gathering
    source.controls[stop_at] = session.request_stop
    assert asyncio.run(session.run()) == 0
    assert source.releases == 1
    assert session.core.pipeline.captured_frames >= source.captured_at_control[0]
    assert out.getvalue().splitlines() == ["Delta echo."]


def test_controls_that_wait_take_effect_in_order_and_toggles_see_each_other(
    server_url: str,
) -> None:
    audio = audio_of(silence(1.0), synth_utterance(["golf", "hotel"]), silence(1.5))
    source = GatheringSource(audio, {})
    session, out = session_for(source, server_url)
    pause = session.core.pause
    effects: list[bool] = []

    def paused(value: bool, now: float) -> list[object]:
        effects.append(value)
        return pause(value, now)  # type: ignore[return-value]

    def toggle_twice() -> None:  # a key pressed twice before the audio caught up
        session.set_paused(not session.paused)
        assert session.paused  # what the next toggle sees
        session.set_paused(not session.paused)

    session.core.pause = paused  # type: ignore[method-assign, assignment]
    source.controls[25] = toggle_twice  # in the silence before speech: gathering
    assert asyncio.run(session.run()) == 0
    assert effects == [True, False] and not session.core.paused
    assert out.getvalue().splitlines() == ["Golf hotel."]


def test_a_resume_hears_what_is_said_right_after_the_key_press(server_url: str) -> None:
    audio = audio_of(silence(1.0), synth_utterance(["india", "juliett"]), silence(1.5))
    source = GatheringSource(audio, {})
    session, out = session_for(source, server_url, paused=True)  # push-to-talk: paused at first
    pause = session.core.pause
    heard_before: list[int] = []

    def paused(value: bool, now: float) -> list[object]:
        heard_before.append(session.core.pipeline.captured_frames)
        return pause(value, now)  # type: ignore[return-value]

    session.core.pause = paused  # type: ignore[method-assign, assignment]
    press = RATE // BLOCK - 5  # the key goes down 100 ms before the words, while paused audio
    source.controls[press] = lambda: session.set_paused(False)  # is gathered 500 ms at a time
    assert asyncio.run(session.run()) == 0
    # The resume came before any audio captured after the press: none of it was silenced.
    assert heard_before == [source.captured_at_control[0]]
    assert out.getvalue().splitlines() == ["India juliett."]
