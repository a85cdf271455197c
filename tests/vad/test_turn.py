"""The turn policy, event by event: pauses, model scores and interim text (all in samples).

16 kHz, early_ms 150 (2400 samples), threshold 0.5. A pause starts at last_speech = 10000.
"""

from __future__ import annotations

import pytest

from vad_dictate.vad.turn import (
    AskModel,
    EndTurn,
    TurnAction,
    TurnPolicy,
    TurnSettings,
    last_word,
    sounds_finished,
)

RATE = 16000
PAUSE = 10000
EARLY = PAUSE + 2400  # the first sample at which the pause may end the turn


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        ("", None),
        ("   ", None),
        ("he was not an ill disposed young man.", True),
        ("Is it?", True),
        ("Go!", True),
        ("Yes.", True),
        ("I went and fetched you from", False),
        ("I went and fetched you from.", False),  # a period after "from" is a guess, not an end
        ("in the", False),
        ("THE", False),
        ("cold hearted and", False),
        ("well,", False),
        ("he might have been made amiable himself", None),  # no mark: no sign either way
    ],
)
def test_what_the_words_say(text: str, finished: bool | None) -> None:
    assert sounds_finished(text) is finished


def test_last_word() -> None:
    assert last_word('He said "Of.") ') == "of"
    assert last_word("") == ""


def pause(policy: TurnPolicy, upto: int, step: int = 480) -> list[tuple[int, TurnAction]]:
    """Feed non-speech frames of the pause up to sample ``upto``; actions with their sample."""
    out = []
    for now in range(PAUSE + step, upto + 1, step):
        out += [(now, a) for a in policy.silence(PAUSE, now)]
    return out


def test_nothing_before_early_ms_then_one_model_request() -> None:
    policy = TurnPolicy(TurnSettings(), RATE, model=True)
    assert pause(policy, EARLY - 1) == []
    assert policy.silence(PAUSE, EARLY) == [AskModel(1, EARLY)]
    assert policy.silence(PAUSE, EARLY + 480) == []  # asked once per pause


@pytest.mark.parametrize(
    ("probability", "text", "covers", "expected"),
    [
        (0.9, "", -1, EndTurn("model")),
        (0.5, "", -1, EndTurn("model")),  # the threshold itself ends it
        (0.49, "", -1, None),
        (0.9, "fetched you from", PAUSE, None),  # fresh words veto the model
        (0.9, "fetched you from", PAUSE - 1, EndTurn("model")),  # stale words do not
        (0.1, "young man.", PAUSE, EndTurn("words")),  # fresh words end it alone
        (0.1, "young man.", PAUSE - 1, None),  # stale ones do not
        (0.1, "young man", PAUSE, None),
        (0.9, "young man", PAUSE, EndTurn("model")),
    ],
)
def test_model_and_words_combined(
    probability: float, text: str, covers: int, expected: EndTurn | None
) -> None:
    policy = TurnPolicy(TurnSettings(), RATE, model=True)
    policy.heard(text, covers)
    assert policy.silence(PAUSE, EARLY) == [AskModel(1, EARLY)] + (
        [expected] if expected == EndTurn("words") else []
    )
    assert policy.scored(1, probability) == expected


def test_words_that_arrive_during_the_pause() -> None:
    policy = TurnPolicy(TurnSettings(), RATE, model=False)
    assert policy.heard("young man.", PAUSE) is None  # not a pause yet
    assert pause(policy, EARLY - 1) == []
    assert policy.silence(PAUSE, EARLY) == [EndTurn("words")]  # no model: words decide alone
    policy.reset()
    policy.silence(PAUSE, EARLY)
    assert policy.heard("young man", PAUSE) is None
    assert policy.heard("young man.", PAUSE + 100) == EndTurn("words")


def test_a_stale_score_is_dropped() -> None:
    policy = TurnPolicy(TurnSettings(), RATE, model=True)
    assert policy.silence(PAUSE, EARLY) == [AskModel(1, EARLY)]
    policy.speech()  # speech resumed before the answer
    assert policy.scored(1, 0.99) is None
    later = PAUSE + 20000
    assert policy.silence(later, later + 2400) == [AskModel(2, later + 2400)]
    assert policy.scored(1, 0.99) is None  # the answer about the first pause
    assert policy.scored(2, 0.99) == EndTurn("model")
    assert policy.probability == 0.99


def test_reset_forgets_text_and_the_pending_score() -> None:
    policy = TurnPolicy(TurnSettings(), RATE, model=True)
    policy.heard("young man.", PAUSE)
    policy.silence(PAUSE, PAUSE + 480)
    policy.reset()
    assert policy.scored(1, 0.99) is None
    assert policy.silence(PAUSE, EARLY) == [AskModel(2, EARLY)]  # the old text is gone


def test_threshold_and_early_are_settings() -> None:
    policy = TurnPolicy(TurnSettings(early_ms=300, threshold=0.8), RATE, model=True)
    assert pause(policy, PAUSE + 4799) == []
    assert policy.silence(PAUSE, PAUSE + 4800) == [AskModel(1, PAUSE + 4800)]
    assert policy.scored(1, 0.79) is None
    assert policy.scored(1, 0.8) == EndTurn("model")
