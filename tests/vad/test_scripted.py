"""The endpointer's state machine driven by scripted classifier decisions, frame by frame.

The audio is digital silence and the level rules are off (snr_db = drop_db = 0), so every
decision comes from the script: ``x`` is a speech frame, ``.`` a non-speech frame. Frames are
30 ms (480 samples); onset_ms 90 (N = 3), silence_ms 150 (Q = 5, G = min(Q, N + 1) = 4),
min_utterance_ms 150 (5 frames), no pre-roll unless a case says so. Events are written in frames.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import webrtcvad

from tests.clips import load
from vad_dictate.audio.block import Int16Array
from vad_dictate.vad.classifier import WebrtcClassifier, make_classifier
from vad_dictate.vad.endpointer import Endpointer
from vad_dictate.vad.events import (
    Dropped,
    EndpointerSettings,
    EndpointEvent,
    SpeechEnd,
    SpeechStart,
    State,
)

FRAME = 480
BASE = EndpointerSettings(
    frame_ms=30,
    onset_ms=90,
    silence_ms=150,
    min_utterance_ms=150,
    preroll_ms=0,
    snr_db=0,
    drop_db=0,
)


class Scripted:
    """A FrameClassifier that answers from a script and records what it was asked."""

    def __init__(self, script: str) -> None:
        self.script = script
        self.asked: list[int] = []  # length of every frame it was given
        self.modes: list[int] = []

    def is_speech(self, frame: Int16Array) -> bool:
        self.asked.append(len(frame))
        return self.script[len(self.asked) - 1] == "x"

    def set_aggressiveness(self, mode: int) -> None:
        self.modes.append(mode)


def run(
    script: str, settings: EndpointerSettings = BASE
) -> tuple[list[tuple[int, EndpointEvent]], str]:
    """(frame index after which each event came, event in frames), and the state per frame."""
    ep = Endpointer(settings, 16000, Scripted(script))
    out: list[tuple[int, EndpointEvent]] = []
    states = ""
    for i in range(len(script)):
        for ev in ep.process(np.zeros(FRAME, dtype=np.int16)):
            out.append((i, _in_frames(ev)))
        states += ep.state.value[0]
    return out, states


def _in_frames(ev: EndpointEvent) -> EndpointEvent:
    if isinstance(ev, SpeechStart):
        return SpeechStart(ev.start // FRAME, ev.onset // FRAME)
    if isinstance(ev, SpeechEnd):
        return replace(
            ev,
            start=ev.start // FRAME,
            onset=ev.onset // FRAME,
            last_speech=ev.last_speech // FRAME,
            end=ev.end // FRAME,
        )
    return Dropped(ev.onset // FRAME, ev.last_speech // FRAME)


# (name, script, settings, expected events, expected states: s/o/s/h by first letter)
CASES: list[tuple[str, str, EndpointerSettings, list[tuple[int, EndpointEvent]], str]] = [
    (
        "utterance confirmed after 5 speech frames, ended after 5 quiet ones",
        "xxxxxx.....",
        BASE,
        [(4, SpeechStart(0, 0)), (10, SpeechEnd(0, 0, 6, 11, "vad"))],
        "oosssshhhhs",
    ),
    (
        "a blip is dropped after G = 4 quiet frames",
        "..xxx.....",
        BASE,
        [(8, Dropped(2, 5))],
        "ssooshhhss",
    ),
    (
        "an onset without N speech frames before its G-th quiet frame is abandoned silently",
        "x.x...x",
        BASE,
        [],
        "oooooso",
    ),
    (
        "one speech frame in the hangover resumes the utterance",
        "xxxxxx....xx.....",
        BASE,
        [(4, SpeechStart(0, 0)), (16, SpeechEnd(0, 0, 12, 17, "vad"))],
        "oosssshhhhsshhhhs",
    ),
    (
        "pre-roll reaches back from the onset, clipped at 0",
        "...xxxxxx.....",
        replace(BASE, preroll_ms=60),
        [(7, SpeechStart(1, 3)), (13, SpeechEnd(1, 3, 9, 14, "vad"))],
        "sssoosssshhhhs",
    ),
    (
        "min_utterance_ms 0 confirms as the onset completes",
        "xxx.....",
        replace(BASE, min_utterance_ms=0),
        [(2, SpeechStart(0, 0)), (7, SpeechEnd(0, 0, 3, 8, "vad"))],
        "ooshhhhs",
    ),
    (
        "max length splits ongoing speech and carries on without a gap",
        "x" * 120 + ".....",
        replace(BASE, max_utterance_ms=3000),
        [
            (4, SpeechStart(0, 0)),
            (99, SpeechEnd(0, 0, 100, 100, "max_length")),
            (104, SpeechStart(100, 100)),
            (124, SpeechEnd(100, 100, 120, 125, "vad")),
        ],
        "oo" + "s" * 118 + "hhhhs",
    ),
]


@pytest.mark.parametrize(
    ("script", "settings", "events", "states"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_scripted_decisions(
    script: str, settings: EndpointerSettings, events: list[tuple[int, EndpointEvent]], states: str
) -> None:
    assert run(script, settings) == (events, states)


@pytest.mark.parametrize("chunk", [1, 77, 160, 161, 1000])
def test_classifier_sees_whole_frames_in_order_whatever_the_chunking(chunk: int) -> None:
    scripted = Scripted("xxxxxx....." * 3)
    ep = Endpointer(BASE, 16000, scripted)
    audio = np.zeros(len(scripted.script) * FRAME, dtype=np.int16)
    events = [ev for p in range(0, len(audio), chunk) for ev in ep.process(audio[p : p + chunk])]
    assert scripted.asked == [FRAME] * len(scripted.script)
    assert [type(ev) for ev in events] == [SpeechStart, SpeechEnd] * 3
    assert ep.state is State.SILENCE


def test_set_aggressiveness_reaches_the_classifier() -> None:
    scripted = Scripted("")
    ep = Endpointer(BASE, 16000, scripted)
    ep.set_aggressiveness(3)
    assert scripted.modes == [3]
    assert ep.settings.aggressiveness == 3


def test_engine_setting_picks_the_classifier() -> None:
    assert isinstance(make_classifier("webrtcvad", 16000, 2), WebrtcClassifier)


@pytest.mark.parametrize("mode", [0, 3])
def test_webrtc_classifier_is_webrtcvad(mode: int) -> None:
    audio = load("sense_and_sensibility_01_austen_64kb-0880")
    frames = [audio[p : p + FRAME] for p in range(0, len(audio) - FRAME, FRAME)]
    vad, ours = webrtcvad.Vad(mode), WebrtcClassifier(16000, mode)
    expected = [vad.is_speech(fr.tobytes(), 16000) for fr in frames]
    assert [ours.is_speech(fr) for fr in frames] == expected
    assert True in expected and False in expected
