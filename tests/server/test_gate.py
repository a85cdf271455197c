"""The server VAD's events (pure): speech start, pause, resume and end at exact sample
positions, whatever the size of the pieces the audio comes in."""

from __future__ import annotations

import numpy as np
import pytest

from vad_dictate.engines.tone import silence, synth_word
from vad_dictate.server.channel import GateEvent, SpeechGate

RATE = 16000
# Tone "speech" 0.00-0.59 s and 0.76-1.29 s as webrtcvad hears it (ramps included).
AUDIO = np.concatenate(
    [synth_word("alpha", 0.5), silence(0.4), synth_word("bravo", 0.3), silence(0.8)]
)

CASES: list[tuple[int, int, list[tuple[float, GateEvent]]]] = [
    # end_frames, pause_frames, events (seconds)
    (60, 15, [(0.01, "start"), (0.74, "pause"), (0.91, "resume"), (1.44, "pause"), (1.89, "end")]),
    (60, 0, [(0.01, "start"), (1.89, "end")]),  # no pause events asked for
    (15, 15, [(0.01, "start"), (0.74, "end"), (0.91, "start"), (1.44, "end")]),  # not before end
    (
        30,
        15,
        [
            (0.01, "start"),
            (0.74, "pause"),
            (0.89, "end"),
            (0.91, "resume"),  # the pause is over: the recognizer hears it before the start
            (0.91, "start"),
            (1.44, "pause"),
            (1.59, "end"),
        ],
    ),
]


@pytest.mark.parametrize(("end_frames", "pause_frames", "expected"), CASES)
@pytest.mark.parametrize("piece", [160, 333, 1600, len(AUDIO)])
def test_events_at_exact_positions_whatever_the_pieces(
    end_frames: int, pause_frames: int, expected: list[tuple[float, GateEvent]], piece: int
) -> None:
    gate = SpeechGate(RATE, end_frames, pause_frames=pause_frames)
    events = [e for i in range(0, len(AUDIO), piece) for e in gate.push(AUDIO[i : i + piece])]
    assert [(pos / RATE, kind) for pos, kind in events] == expected


def test_speech_after_an_end_resumes_a_pause_before_it_starts() -> None:
    gate = SpeechGate(RATE, 30, pause_frames=15)
    first = gate.push(np.concatenate([synth_word("alpha", 0.5), silence(0.5)]))
    again = gate.push(synth_word("bravo", 0.3))
    assert [kind for _, kind in first] == ["start", "pause", "end"]
    assert [kind for _, kind in again] == ["resume", "start"]
