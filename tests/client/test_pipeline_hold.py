"""How much audio may wait before the pipeline sees it (``Pipeline.hold``, vad/hold.py).

The source gathers blocks while the pipeline says they may wait, and hands them out together.
On real speech that must change nothing the pipeline does, and delay no decision: every
Finalize and every model request comes out of the block that completes it, as if each block
had been handed out on its own; only the start of speech may be seen later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from tests.clips import RATE, corpus, mix
from tests.vad.test_one_word import WORDS
from vad_dictate.client.pipeline import (
    CancelScore,
    Outgoing,
    Pipeline,
    PipelineSettings,
    ScoreTurn,
    SendAudio,
    SendFinalize,
)
from vad_dictate.vad.endpointer import Endpointer
from vad_dictate.vad.events import EndpointerSettings, State
from vad_dictate.vad.hold import IDLE_HOLD_MS, hold_samples, speech_hold_ms
from vad_dictate.vad.turn import TurnSettings

BLOCK = RATE * 20 // 1000  # the microphone's block
SMART = TurnSettings()
EP = EndpointerSettings()

# (endpointer settings, turn settings in smart mode or None) -> ms speech may wait
SPEECH_HOLD = [
    (EP, SMART, 40),  # the model is asked 90 ms into a pause: 90 - 30 - 20 = 40
    (EP, None, 40),  # the timer: the word give-up (6 frames, 120 ms) - 50 = 70, capped
    (replace(EP, frame_ms=30), SMART, 30),  # 90 - 30 - 30
    (replace(EP, frame_ms=10), SMART, 40),  # 90 - 30 - 10 = 50, capped
    (EP, replace(SMART, ask_ms=60), 10),
    (EP, replace(SMART, ask_ms=200, early_ms=70), 20),  # the floor decides: 70 - 50
    (replace(EP, onset_ms=10), None, 0),  # one onset frame: give up after 2 frames, 40 ms
    (replace(EP, silence_ms=100), None, 40),  # give-up min(5, 6) frames = 100 ms - 50
]


@pytest.mark.parametrize(("settings", "turn", "expected"), SPEECH_HOLD)
def test_speech_waits_no_longer_than_the_soonest_decision_allows(
    settings: EndpointerSettings, turn: TurnSettings | None, expected: int
) -> None:
    assert speech_hold_ms(Endpointer(settings, RATE), turn) == expected


@dataclass
class Run:
    """What one pass over the audio gave: outputs, and for each the block that gave it."""

    out: list[Outgoing | ScoreTurn | CancelScore]
    block_of: list[int]  # index of the block whose processing gave each output
    released_at: list[int]  # index of the newest block handed out with it
    holds: dict[State, set[int]]  # what hold() said in each state
    wakes: int  # how many times blocks were handed out


def feed(
    audio: np.ndarray, turn: TurnSettings | None, gather: bool, answer: float, late: int = 0
) -> Run:
    """Push ``audio`` in 20 ms blocks, gathered as a source would under ``Pipeline.hold``
    (``gather``) or each at once. The model answers ``answer`` to every request, at once, or
    ``late`` blocks after it was asked: as the block captured then arrives, before any held
    block is seen (what a worker thread's answer does)."""
    pipe = Pipeline(EP, PipelineSettings(), 1, RATE, turn, model=turn is not None)
    blocks = [audio[i : i + BLOCK, None] for i in range(0, len(audio) - BLOCK + 1, BLOCK)]
    run = Run([], [], [], {s: set() for s in State}, 0)
    held: list[int] = []
    answers: list[tuple[int, int]] = []  # (block at whose capture it arrives, token)

    def record(got: list[Outgoing | ScoreTurn | CancelScore], block: int, released: int) -> None:
        run.out += got
        run.block_of += [block] * len(got)
        run.released_at += [released] * len(got)

    for i in range(len(blocks)):
        for token in [t for at, t in answers if at == i]:
            record([*pipe.turn_scored(0, token, answer, i * 0.02)], i, i)
        held.append(i)
        if gather and len(held) * BLOCK < pipe.hold():
            continue
        run.wakes += 1
        for k in held:
            got: list[Outgoing | ScoreTurn | CancelScore] = [*pipe.push(blocks[k], k * 0.02)]
            for request in pipe.score_requests():
                got.append(request)
                if isinstance(request, ScoreTurn) and late:
                    answers.append((i + late, request.token))
                elif isinstance(request, ScoreTurn):
                    got += pipe.turn_scored(0, request.token, answer, k * 0.02)
            record(got, k, i)
            run.holds[pipe.endpointers[0].state].add(pipe.hold())
        held = []
    return run


def track() -> np.ndarray:
    """The LibriVox sentences (0.7-1.5 s apart), then the single words, in quiet pink noise."""
    words = [np.concatenate([w, np.zeros(RATE, np.int16)]) for _, w in WORDS]
    speech = corpus(rounds=1)
    joined = replace(speech, audio=np.concatenate([speech.audio, *words]))
    return mix(joined, "pink", 40).audio


def same(out: list[Outgoing | ScoreTurn | CancelScore]) -> list[object]:
    """The outputs in a comparable form (a model request's audio as bytes)."""
    return [(o.key, o.audio.tobytes()) if isinstance(o, ScoreTurn) else o for o in out]


TRACK = track()
MODES = [
    ("silence", None, 0.0, 0),
    ("smart, the model says finished", SMART, 0.95, 0),
    ("smart, the model says not yet", SMART, 0.1, 0),
    ("smart, finished, 100 ms after it was asked", SMART, 0.95, 5),
]


@pytest.mark.parametrize(("name", "turn", "answer", "late"), MODES, ids=[m[0] for m in MODES])
def test_gathered_audio_changes_nothing_and_delays_no_decision(
    name: str, turn: TurnSettings | None, answer: float, late: int
) -> None:
    each = feed(TRACK, turn, gather=False, answer=answer, late=late)
    gathered = feed(TRACK, turn, gather=True, answer=answer, late=late)
    assert same(gathered.out) == same(each.out)  # the same audio, Finalizes and requests
    assert gathered.block_of == each.block_of
    decisions = [
        (k, r)
        for k, r, o in zip(gathered.block_of, gathered.released_at, gathered.out, strict=True)
        if isinstance(o, SendFinalize | ScoreTurn)
    ]
    assert len(decisions) >= 20  # every sentence and word ends (and is asked about)
    assert all(k == r for k, r in decisions), "a decision waited in a gathered batch"
    # Only the start of speech comes later, and by less than the idle hold.
    waited = [r - k for k, r in zip(gathered.block_of, gathered.released_at, strict=True)]
    assert max(waited) * 20 < IDLE_HOLD_MS
    audio = [o for o in gathered.out if isinstance(o, SendAudio)]
    assert audio  # speech went out
    # It gathers: well under one wake-up per block.
    assert gathered.wakes < 0.6 * each.wakes, f"{gathered.wakes} of {each.wakes}"
    assert gathered.holds[State.ONSET] == {0}
    assert 0 < max(gathered.holds[State.HANGOVER]) <= RATE * IDLE_HOLD_MS // 1000
    assert gathered.holds[State.SILENCE] == {RATE * IDLE_HOLD_MS // 1000}


def test_the_length_limit_is_not_passed_in_a_gathered_batch() -> None:
    settings = replace(EP, max_utterance_ms=1000)
    pipe = Pipeline(settings, PipelineSettings(), 1, RATE)
    speech = TRACK[RATE : 4 * RATE]  # the first sentence, longer than a second
    holds = []
    for i in range(0, len(speech) - BLOCK + 1, BLOCK):
        pipe.push(speech[i : i + BLOCK, None], 0.0)
        ep = pipe.endpointers[0]
        if ep.confirmed and ep.state is State.SPEECH and ep.last_frame_speech:
            left = ep.utterance_start + RATE - ep.samples_seen
            holds.append((left, hold_samples(ep, 40, None)))
    assert holds
    assert all(hold <= max(0, left - BLOCK) for left, hold in holds)
    assert any(hold < RATE * 40 // 1000 for _, hold in holds)  # the limit did bind
