"""The pipeline with smart turn taking: pauses asked about, answers and words that end them.

Tone speech (one utterance of three words) then silence, pushed in 30 ms blocks. The endpointer
finds the pause; the turn policy (vad/turn.py) asks for the model at ask_ms (150 ms, as is
early_ms), and the test plays the model and the server: it answers ScoreTurn requests and hands
in interim text.
"""

from __future__ import annotations

import numpy as np

from vad_dictate.client.pipeline import (
    CancelScore,
    Outgoing,
    Pipeline,
    PipelineSettings,
    ScoreTurn,
    SendAudio,
    SendFinalize,
)
from vad_dictate.engines.tone import synth_utterance
from vad_dictate.vad.events import EndpointerSettings
from vad_dictate.vad.turn import TurnSettings

RATE = 16000
BLOCK = 480
EP = EndpointerSettings(frame_ms=30)  # the offsets below count 30 ms frames
SMART = TurnSettings(ask_ms=150, early_ms=150, threshold=0.5)
UTT = synth_utterance(["alpha", "bravo", "charlie"])
AUDIO = np.concatenate([np.zeros(RATE, np.int16), UTT, np.zeros(3 * RATE, np.int16)])[:, None]


class Run:
    """Push AUDIO block by block, keeping what came out and every model request."""

    def __init__(self, turn: TurnSettings | None = SMART, model: bool = True) -> None:
        self.pipe = Pipeline(EP, PipelineSettings(), 1, RATE, turn, model)
        self.out: list[Outgoing] = []
        self.requests: list[tuple[int, ScoreTurn]] = []  # (capture frame, request)
        self.cancels: list[CancelScore] = []
        self.pos = 0

    def push_until(self, frame: int, ask: bool = True) -> None:
        while self.pos < min(frame, len(AUDIO)):
            self.pos += BLOCK
            self.out += self.pipe.push(AUDIO[self.pos - BLOCK : self.pos], self.pos / RATE)
            if ask:
                self.take(self.pipe.score_requests())

    def take(self, requests: list[ScoreTurn | CancelScore]) -> None:
        for r in requests:
            if isinstance(r, ScoreTurn):
                self.requests.append((self.pos, r))
            else:
                self.cancels.append(r)

    def finals(self) -> list[SendFinalize]:
        return [o for o in self.out if isinstance(o, SendFinalize)]

    def last_speech(self) -> int:
        return self.pipe.endpointers[0].last_speech


def test_the_model_is_asked_once_per_pause_with_the_utterance_audio() -> None:
    r = Run()
    r.push_until(len(AUDIO))
    (at, request), *_ = r.requests
    [fin] = r.finals()  # no answer came: the ceiling ended it
    assert len(r.requests) == 1
    assert request.channel == 0
    # The first frame 150 ms into the pause: speech ended one 5 ms sub-block before the end
    # of its last frame (the end of the tone's fade lies under the level rules).
    assert at - fin.speech.last_speech == 5 * BLOCK + 80
    assert np.array_equal(request.audio, AUDIO[fin.speech.start : at, 0])
    assert fin.speech.trigger == "vad"
    # The frame boundary nearest last_speech + ceiling_ms.
    assert fin.speech.end - fin.speech.last_speech == RATE * SMART.ceiling_ms // 1000 - 80


def test_a_confident_answer_finalizes_at_once() -> None:
    r = Run()
    r.push_until(len(UTT) + RATE + RATE // 2)
    (at, request), *_ = r.requests
    out = r.pipe.turn_scored(0, request.token, 0.9, r.pos / RATE)
    [fin] = [o for o in out if isinstance(o, SendFinalize)]
    assert (fin.speech.trigger, fin.speech.end) == ("turn", r.pos)
    sent = b"".join(o.pcm for o in r.out + out if isinstance(o, SendAudio))
    assert sent == AUDIO[fin.speech.start : fin.speech.end].tobytes()  # nothing overtaken
    r.push_until(len(AUDIO))
    assert r.finals() == [] and r.requests == [(at, request)]  # nothing more for this pause


def test_a_doubtful_answer_waits_for_the_ceiling() -> None:
    r = Run()
    r.push_until(len(UTT) + RATE + RATE // 2)
    assert r.pipe.turn_scored(0, r.requests[0][1].token, 0.2, r.pos / RATE) == []
    r.push_until(len(AUDIO))
    assert [f.speech.trigger for f in r.finals()] == ["vad"]


def test_finished_words_end_the_pause_and_hold_words_keep_it() -> None:
    r = Run()
    r.push_until(len(UTT) + RATE + RATE // 2)
    covers = r.last_speech()
    assert r.pipe.heard(0, "alpha bravo charlie and", covers, 0.0) == []
    assert r.pipe.turn_scored(0, r.requests[0][1].token, 0.95, 0.0) == []  # the words veto it
    out = r.pipe.heard(0, "Alpha bravo charlie.", covers, 0.0)
    assert [f.speech.trigger for f in out if isinstance(f, SendFinalize)] == ["turn"]


def test_without_the_model_the_words_decide_and_nothing_is_asked() -> None:
    r = Run(model=False)
    r.push_until(len(UTT) + RATE + RATE // 2)
    assert r.requests == []
    out = r.pipe.heard(0, "Alpha bravo charlie.", r.last_speech(), 0.0)
    assert [f.speech.trigger for f in out if isinstance(f, SendFinalize)] == ["turn"]


def test_a_late_answer_after_speech_resumed_is_ignored() -> None:
    r = Run()
    r.push_until(len(UTT) + RATE + RATE // 2)
    token = r.requests[0][1].token
    resumed = np.concatenate([UTT, np.zeros(2 * RATE, np.int16)])[:, None]
    r.out += r.pipe.push(resumed[: RATE // 2], 0.0)
    assert r.pipe.score_requests() == [CancelScore(0, token)]  # the shell may stop the model
    assert r.pipe.turn_scored(0, token, 0.99, 0.0) == []
    assert r.finals() == []


def test_a_run_the_words_made_needless_is_cancelled() -> None:
    r = Run()
    r.push_until(len(UTT) + RATE + RATE // 2)
    [(_, request)] = r.requests
    out = r.pipe.heard(0, "Alpha bravo charlie.", r.last_speech(), 0.0)
    assert [f.speech.trigger for f in out if isinstance(f, SendFinalize)] == ["turn"]
    assert r.pipe.score_requests() == [CancelScore(0, request.token)]
    assert r.pipe.score_requests() == []  # named once


def test_a_request_dropped_before_it_was_handed_out_is_never_named() -> None:
    r = Run()
    r.push_until(len(UTT) + RATE + RATE // 2, ask=False)  # the pause was asked about ...
    resumed = np.concatenate([UTT, np.zeros(2 * RATE, np.int16)])[:, None]
    r.out += r.pipe.push(resumed[: RATE // 2], 0.0)  # ... and speech resumed
    assert r.pipe.score_requests() == []


def test_silence_mode_is_the_timer() -> None:
    r = Run(turn=None)
    r.push_until(len(AUDIO))
    [fin] = r.finals()
    assert r.requests == []
    # The frame boundary nearest last_speech + silence_ms.
    assert fin.speech.end - fin.speech.last_speech == RATE * EP.silence_ms // 1000 - 80


def test_hotkey_still_finalizes_at_once() -> None:
    r = Run()
    r.push_until(len(UTT) + RATE + RATE // 10)
    out = r.pipe.force_end("hotkey", 0.0)
    assert [f.speech.trigger for f in out if isinstance(f, SendFinalize)] == ["hotkey"]
    assert r.pipe.turn_scored(0, 1, 0.99, 0.0) == []  # its pause is over
