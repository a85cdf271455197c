"""The turn policy, event by event: pauses, model scores and interim text (all in samples).

16 kHz; a pause starts at last_speech = 10000. Settings: early_ms 150, threshold 0.5. Each
scenario is a list of steps, each with the actions it must return:

    ("quiet", ms)          non-speech frames (every 30 ms) up to ``ms`` into the pause
    ("score", token, p)    the model's answer to request ``token``
    ("hear", text, fresh)  an interim transcript; fresh: it has heard the audio up to the pause
    ("speech",)            speech resumed
    ("reset",)             the utterance ended

A step's actions also name each request it made stale, as ("stale", token): its answer would
be dropped, so the shell may stop the model.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from vad_dictate.vad.turn import (
    AskModel,
    EndTurn,
    TurnPolicy,
    TurnSettings,
    last_word,
    sounds_finished,
)

RATE = 16000
PAUSE = 10000
FRAME = 480


def at(ms: int) -> int:
    """The sample ``ms`` into the pause."""
    return PAUSE + RATE * ms // 1000


def ask(token: int, ms: int) -> AskModel:
    return AskModel(token, at(ms))


MODEL, WORDS = EndTurn("model"), EndTurn("words")
BASE = TurnSettings(ask_ms=150, early_ms=150, threshold=0.5)


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
        ("Where are you from?", True),  # a question may end on one
        ("than he was.", True),  # "was" with a full stop can end a sentence
        ("than he was", False),  # without one it is a thinking pause
        ("Come in.", True),
        ("It was the.", False),
        ("the end of", False),
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


def play(policy: TurnPolicy, steps: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Run the steps; the actions each returned."""
    out: list[list[Any]] = []
    fed = PAUSE
    for step in steps:
        got: list[Any] = []
        if step[0] == "quiet":
            upto = at(step[1])
            while fed < upto:
                fed = min(upto, fed + FRAME)
                got += policy.silence(PAUSE, fed)
        elif step[0] == "score":
            got += [e] if (e := policy.scored(step[1], step[2])) else []
        elif step[0] == "hear":
            got += [e] if (e := policy.heard(step[1], PAUSE if step[2] else PAUSE - 1)) else []
        elif step[0] == "reset":
            policy.reset()
        else:
            policy.speech()
        got += [("stale", token) for token in policy.take_stale()]
        out.append(got)
    return out


SCENARIOS: list[tuple[str, dict[str, Any], bool, list[tuple[Any, ...]], list[list[Any]]]] = [
    (
        "nothing before early_ms, then one look",
        {},
        True,
        [("quiet", 149), ("quiet", 150), ("quiet", 390)],
        [[], [ask(1, 150)], []],
    ),
    (
        "one look per pause: a low score leaves it to the words and the ceiling",
        {},
        True,
        [("quiet", 150), ("score", 1, 0.49), ("quiet", 1290), ("hear", "young man", True)],
        [[ask(1, 150)], [], [], []],
    ),
    (
        "the threshold itself ends it",
        {},
        True,
        [("quiet", 150), ("score", 1, 0.5)],
        [[ask(1, 150)], [MODEL]],
    ),
    (
        "fresh words with a hold word: the model is not asked",
        {},
        True,
        [("hear", "fetched you from", True), ("quiet", 1290)],
        [[], []],
    ),
    (
        "fresh words with a period: they end it at early_ms, the model is not asked",
        {},
        True,
        [("hear", "young man.", True), ("quiet", 149), ("quiet", 150)],
        [[], [], [WORDS]],
    ),
    (
        "fresh words veto a high score",
        {},
        True,
        [("quiet", 150), ("hear", "fetched you from", True), ("score", 1, 0.99)],
        [[ask(1, 150)], [], []],
    ),
    (
        "stale words do not veto",
        {},
        True,
        [("hear", "fetched you from", False), ("quiet", 150), ("score", 1, 0.9)],
        [[], [ask(1, 150)], [MODEL]],
    ),
    (
        "stale words do not end it",
        {},
        True,
        [("quiet", 150), ("hear", "young man.", False), ("score", 1, 0.1)],
        [[ask(1, 150)], [], []],
    ),
    (
        "fresh words that arrive during the pause end it",
        {},
        True,
        [("quiet", 150), ("hear", "young man.", True)],
        [[ask(1, 150)], [WORDS]],
    ),
    (
        "fresh words without a mark say nothing: the model decides",
        {},
        True,
        [("hear", "young man", True), ("quiet", 150), ("score", 1, 0.9)],
        [[], [ask(1, 150)], [MODEL]],
    ),
    (
        "speech before the answer makes it stale",
        {},
        True,
        [("quiet", 150), ("speech",), ("score", 1, 0.99)],
        [[ask(1, 150)], [("stale", 1)], []],
    ),
    (
        "an answer that came is not stale when speech resumes",
        {},
        True,
        [("quiet", 150), ("score", 1, 0.3), ("speech",), ("reset",)],
        [[ask(1, 150)], [], [], []],
    ),
    (
        "words that end the utterance while the model runs make its answer stale",
        {"ask_ms": 90, "early_ms": 180},
        True,
        [("quiet", 100), ("hear", "young man.", True), ("quiet", 180), ("reset",)],
        [[ask(1, 90)], [], [WORDS], [("stale", 1)]],
    ),
    (
        "the utterance ending by the hotkey makes a running request stale once",
        {},
        True,
        [("quiet", 150), ("reset",), ("reset",), ("score", 1, 0.9)],
        [[ask(1, 150)], [("stale", 1)], [], []],
    ),
    (
        "asked before early_ms: an early answer ends the pause at early_ms, not before",
        {"ask_ms": 90, "early_ms": 180},
        True,
        [("quiet", 90), ("score", 1, 0.9), ("quiet", 170), ("quiet", 180)],
        [[ask(1, 90)], [], [], [MODEL]],
    ),
    (
        "asked before early_ms: an answer after it ends the pause at once",
        {"ask_ms": 90, "early_ms": 180},
        True,
        [("quiet", 90), ("quiet", 200), ("score", 1, 0.9)],
        [[ask(1, 90)], [], [MODEL]],
    ),
    (
        "asked before early_ms: words before it wait for it",
        {"ask_ms": 90, "early_ms": 180},
        True,
        [("quiet", 100), ("hear", "young man.", True), ("quiet", 180)],
        [[ask(1, 90)], [], [WORDS]],
    ),
    (
        "without the model the words decide alone",
        {},
        False,
        [("quiet", 150), ("hear", "young man", True), ("hear", "young man.", True)],
        [[], [], [WORDS]],
    ),
    (
        "ask_ms, early_ms and threshold are settings",
        {"ask_ms": 300, "early_ms": 300, "threshold": 0.8},
        True,
        [("quiet", 270), ("quiet", 300), ("score", 1, 0.79), ("quiet", 1290)],
        [[], [ask(1, 300)], [], []],
    ),
]


@pytest.mark.parametrize(
    ("settings", "model", "steps", "expected"),
    [row[1:] for row in SCENARIOS],
    ids=[row[0] for row in SCENARIOS],
)
def test_scenario(
    settings: dict[str, Any],
    model: bool,
    steps: list[tuple[Any, ...]],
    expected: list[list[Any]],
) -> None:
    policy = TurnPolicy(replace(BASE, **settings), RATE, model)
    assert play(policy, steps) == expected


def test_a_new_pause_makes_the_old_answer_stale() -> None:
    policy = TurnPolicy(BASE, RATE, model=True)
    assert policy.silence(PAUSE, at(150)) == [ask(1, 150)]
    policy.speech()
    assert policy.take_stale() == [1]
    later = PAUSE + 20000
    assert policy.silence(later, later + 2400) == [AskModel(2, later + 2400)]
    assert policy.take_stale() == []
    assert policy.scored(1, 0.99) is None  # the answer about the first pause
    assert policy.scored(2, 0.99) == MODEL
    assert policy.probability == 0.99


def test_reset_forgets_text_and_the_pending_score() -> None:
    policy = TurnPolicy(BASE, RATE, model=True)
    policy.heard("young man.", PAUSE)
    assert policy.silence(PAUSE, at(150)) == [WORDS]
    policy.reset()
    assert policy.silence(PAUSE, at(150)) == [ask(1, 150)]  # the old text is gone
    policy.reset()
    assert policy.scored(1, 0.99) is None


FAR = 1 << 62
# (settings, model, steps) -> next_due after them: the sample at which a silent frame may next
# ask or end (what the capture may gather audio up to), FAR once only answers and words decide.
NEXT_DUE: list[tuple[dict[str, Any], bool, list[tuple[Any, ...]], int]] = [
    ({}, True, [], 0),  # no pause yet: due now
    ({}, True, [("quiet", 30)], at(150)),  # the question and the floor at 150 ms
    ({"ask_ms": 90}, True, [("quiet", 30)], at(90)),  # the question first
    ({"ask_ms": 90}, True, [("quiet", 90)], 0),  # asked: resumed speech must be seen at once
    ({"ask_ms": 90}, True, [("quiet", 150)], 0),  # still waiting for the answer
    ({"ask_ms": 90}, True, [("quiet", 90), ("score", 1, 0.1)], at(150)),  # answered: the floor
    ({"ask_ms": 90}, True, [("quiet", 150), ("score", 1, 0.1)], FAR),  # words or the ceiling
    ({}, False, [("quiet", 30)], at(150)),  # no model: the floor, for the words
    ({}, True, [("quiet", 150), ("speech",)], 0),  # speech resumed: no pause
]


@pytest.mark.parametrize(("settings", "model", "steps", "due"), NEXT_DUE)
def test_next_due(
    settings: dict[str, Any], model: bool, steps: list[tuple[Any, ...]], due: int
) -> None:
    policy = TurnPolicy(replace(BASE, **settings), RATE, model)
    play(policy, steps)
    assert policy.next_due() == due
