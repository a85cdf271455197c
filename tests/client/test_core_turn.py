"""Smart turn taking through the client core, on the in-memory pair (tests/pair.py).

Two tone utterances 0.8 s apart: shorter than the 1.3 s ceiling, longer than early_ms. The
pair plays the model's worker: it answers every ScoreTurn the core asks for, at once.
"""

from __future__ import annotations

import numpy as np

from tests.faultproxy import results
from tests.pair import RATE, Fault, Pair, options
from vad_dictate.audio.block import AudioBlock
from vad_dictate.client.actions import Action
from vad_dictate.client.pipeline import ScoreTurn
from vad_dictate.deepgram import protocol as proto
from vad_dictate.engines.tone import silence, synth_utterance
from vad_dictate.vad.turn import TurnSettings

FIRST, SECOND = ["alpha", "bravo"], ["charlie", "delta"]
AUDIO = np.concatenate(
    [silence(0.5), synth_utterance(FIRST), silence(0.8), synth_utterance(SECOND), silence(2.0)]
)


class TurnPair(Pair):
    """A pair whose shell runs a model that always answers ``probability``."""

    def __init__(
        self,
        probability: float,
        model: bool = True,
        punctuate: bool = False,
        faults: list[Fault] | None = None,
    ) -> None:
        # Without punctuation the server's own results hold no sign of a finished sentence.
        connect = proto.ConnectOptions(endpointing=300, punctuate=punctuate)
        # ask_ms and early_ms above the 0.1 s gaps between tone words (a little more with fades).
        turn = TurnSettings(ask_ms=150, early_ms=150)
        opts = options(turn=turn, turn_model=model, connect=connect)
        super().__init__(opts, faults)
        self.probability = probability
        self.asked: list[ScoreTurn] = []
        self.words_at: float | None = None  # when to hand in finished interim words

    def do(self, actions: list[Action]) -> None:
        super().do(actions)
        for action in actions:
            if isinstance(action, ScoreTurn):
                self.asked.append(action)
                p = self.probability
                self.do(self.core.turn_scored(action.channel, action.token, p, self.now))

    def advance(self, seconds: float) -> None:
        if self.words_at is not None and self.now >= self.words_at:
            self.words_at = None  # the server's interim: everything so far, punctuated
            interim = proto.InterimResult(0, 1, 0.0, 1e4, "Alpha bravo.", ())
            self.do(self.core.received(interim, self.now))
        super().advance(seconds)


def triggers(pair: Pair) -> list[str]:
    return [p.item.info.trigger for p in pair.printed]


def test_a_confident_model_splits_at_the_pause() -> None:
    pair = TurnPair(0.9)
    assert pair.dictate(AUDIO).exit_code == 0
    assert pair.lines() == [" ".join(FIRST), " ".join(SECOND)]
    assert triggers(pair)[0] == "turn"
    assert pair.asked and all(len(a.audio) <= 8 * RATE for a in pair.asked)


def test_a_doubtful_model_keeps_the_pause_inside_the_utterance() -> None:
    pair = TurnPair(0.1)
    assert pair.dictate(AUDIO).exit_code == 0
    assert pair.lines() == [" ".join(FIRST + SECOND)]
    assert pair.asked


def test_the_servers_punctuated_final_splits_without_the_model() -> None:
    pair = TurnPair(0.0, model=False, punctuate=True)  # its endpointing sends "Alpha bravo."
    assert pair.dictate(AUDIO).exit_code == 0
    assert pair.lines() == [" ".join(FIRST), " ".join(SECOND)]


def test_finished_interim_words_split_without_the_model() -> None:
    pair = TurnPair(0.0, model=False)
    first_end = 0.5 + len(synth_utterance(FIRST)) / RATE
    pair.words_at = first_end + 0.3  # in the pause, after early_ms
    assert pair.dictate(AUDIO).exit_code == 0
    assert pair.asked == []
    assert pair.lines() == [" ".join(FIRST), " ".join(SECOND)]
    assert triggers(pair)[0] == "turn"
    pair = TurnPair(0.0, model=False)
    assert pair.dictate(AUDIO).exit_code == 0
    assert pair.lines() == [" ".join(FIRST + SECOND)]  # no words, no model: the ceiling


def test_hostile_result_times_are_ignored() -> None:
    huge = [
        results(1e305, 1e308, [("huge", 1e308, 1e308)]),
        results(1e308, 1e308, [], is_final=False),
        results(-5.0, 1.0, [], is_final=False),
    ]
    pair = TurnPair(0.1, faults=[Fault(30, "inject", payload=list(huge))])
    assert pair.dictate(AUDIO).exit_code == 0
    assert pair.lines() == [" ".join(FIRST + SECOND)]


HELD = ["alpha", "that"]  # "that" is a hold word: no sentence ends on it
CUT = np.concatenate(
    [silence(0.5), synth_utterance(HELD), silence(0.8), synth_utterance(SECOND), silence(2.0)]
)


def test_a_cut_the_words_show_is_printed_as_one_line() -> None:
    pair = TurnPair(0.9)  # the model cuts at the pause, before the server's words come
    assert pair.dictate(CUT).exit_code == 0
    assert pair.finalizes == 2  # one at the thinking pause, one after "delta"
    assert [p.item.text for p in pair.printed] == ["alpha that charlie delta"]
    assert triggers(pair) == ["turn"]  # the line's last utterance: ended by the model
    assert pair.core.lines.joined == 1
    assert "alpha that" in pair.interims  # the held words stay in view meanwhile


def test_held_words_are_printed_alone_once_the_speaker_has_finished() -> None:
    later = np.concatenate(
        [silence(0.5), synth_utterance(HELD), silence(3.0), synth_utterance(SECOND), silence(2)]
    )
    pair = TurnPair(0.9)
    assert pair.dictate(later).exit_code == 0
    assert [p.item.text for p in pair.printed] == ["alpha that", "charlie delta"]
    first = pair.printed[0]
    assert first.latency_ms is not None and 1300 <= first.latency_ms < 1300 + 200


def test_the_hotkey_prints_held_words_at_once() -> None:
    pair = TurnPair(0.9)
    pair.do(pair.core.start())
    audio = np.concatenate([silence(0.5), synth_utterance(HELD), silence(0.7)])
    block = round(0.02 * RATE)
    for start in range(0, len(audio), block):
        chunk = np.ascontiguousarray(audio[start : start + block, None])
        pair.do(pair.core.audio(AudioBlock(chunk, start, pair.now)))
        pair.settle()
        pair.advance(len(chunk) / RATE)
    assert pair.printed == [] and pair.core.lines.held_text(0) == "alpha that"
    pair.do(pair.core.finalize(pair.now))
    assert [p.item.text for p in pair.printed] == ["alpha that"]
