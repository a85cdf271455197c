"""Started paused, the core connects at the first resume and queues nothing before it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.pair import options
from tests.wavs import utterances
from vad_dictate.audio.block import AudioBlock
from vad_dictate.client.actions import Action, Connect, Finish, StateChanged
from vad_dictate.client.core import ClientCore
from vad_dictate.client.pipeline import PipelineSettings, Policy

RATE = 16000
BLOCK = 480


def feed(core: ClientCore, samples: np.ndarray, start: int = 0) -> list[Action]:
    """Push ``samples`` in 30 ms blocks from frame ``start``; every action returned."""
    out: list[Action] = []
    for pos in range(0, len(samples) - BLOCK + 1, BLOCK):
        block = samples[pos : pos + BLOCK].reshape(-1, 1)
        at = (start + pos) / RATE
        out += core.audio(AudioBlock(block, start + pos, at))
    return out


@pytest.mark.parametrize("policy", ["speech", "always"])
def test_nothing_is_queued_and_no_connection_until_resumed(policy: Policy) -> None:
    core = ClientCore(options(pipeline=PipelineSettings(policy=policy)), 1, RATE, paused=True)
    assert core.start() == [StateChanged("paused")]
    talk = utterances([["alpha", "bravo"], ["charlie"]], pause=1.0)
    heard = feed(core, talk)
    assert not any(isinstance(a, Connect) for a in heard)
    assert core.outbox.peek() is None and core.outbox.unsent_frames == 0
    assert core.pipeline.captured_frames == len(talk) // BLOCK * BLOCK  # capture ran
    assert core.state() == "paused"
    resumed = core.pause(False, 10.0)
    assert Connect(0.0) in resumed and core.state() == "connecting"
    feed(core, talk, start=len(talk) // BLOCK * BLOCK)
    assert core.outbox.unsent_frames > 0  # what is heard now waits for the connection
    assert core.pause(True, 20.0) and Connect(0.0) not in core.pause(False, 21.0)  # once


def test_a_session_never_resumed_ends_when_its_input_does() -> None:
    core = ClientCore(options(), 1, RATE, paused=True)
    core.start()
    feed(core, utterances([["alpha"]]))
    ended = core.input_ended(5.0)
    assert Finish(None) in ended and core.done


def test_started_unpaused_connects_at_once() -> None:
    core = ClientCore(options(), 1, RATE)
    assert Connect(0.0) in core.start()
