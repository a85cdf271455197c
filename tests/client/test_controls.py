"""When a control takes effect relative to gathered audio (client/controls.py), step by step.

Each scenario is a list of steps with the controls each one runs, by name:

    ("add", name, at, first, gathering)   a control given at time ``at`` (``first``: a resume)
    ("before", until)                      a block captured until ``until`` is about to be taken
    ("after", until)                       that block was taken
    ("end",)                               no more audio is coming
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vad_dictate.client.controls import Controls

SCENARIOS: list[tuple[str, list[tuple[Any, ...]], list[list[str]]]] = [
    (
        "nothing gathered, nothing waiting: at once",
        [("add", "finalize", 1.0, False, False)],
        [["finalize"]],
    ),
    (
        "gathered: a Finalize goes after the first block captured from the press on",
        [
            ("add", "finalize", 1.0, False, True),
            ("before", 0.98),
            ("after", 0.98),  # a held block, captured before the press
            ("before", 1.0),
            ("after", 1.0),
        ],
        [[], [], [], [], ["finalize"]],
    ),
    (
        "gathered: a resume goes before that block",
        [("add", "resume", 1.0, True, True), ("after", 0.99), ("before", 1.01)],
        [[], [], ["resume"]],
    ),
    (
        "order is kept: a resume behind a waiting pause waits for it",
        [
            ("add", "pause", 1.0, False, True),
            ("add", "resume", 1.0, True, False),  # nothing gathered any more, but a pause waits
            ("before", 1.02),
            ("after", 1.02),
        ],
        [[], [], [], ["pause", "resume"]],
    ),
    (
        "a resume ahead of a Finalize: the resume before the block, the Finalize after it",
        [
            ("add", "resume", 1.0, True, True),
            ("add", "finalize", 1.0, False, True),
            ("before", 1.02),
            ("after", 1.02),
        ],
        [[], [], ["resume"], ["finalize"]],
    ),
    (
        "a control given after the block's capture waits for the next block",
        [("add", "stop", 2.0, False, True), ("after", 1.98), ("after", 2.02)],
        [[], [], ["stop"]],
    ),
    (
        "no more audio: everything goes, in order",
        [("add", "pause", 1.0, False, True), ("add", "stop", 1.5, False, True), ("end",)],
        [[], [], ["pause", "stop"]],
    ),
]


def play(steps: list[tuple[Any, ...]]) -> list[list[str]]:
    controls = Controls()
    ran: list[str] = []
    out: list[list[str]] = []

    def control(name: str) -> Callable[[], object]:
        return lambda: ran.append(name)

    for step in steps:
        if step[0] == "add":
            _, name, at, first, gathering = step
            acts = controls.add(at, control(name), first, gathering)
        elif step[0] == "end":
            acts = controls.due(None)
        else:
            acts = controls.due(step[1], before_block=step[0] == "before")
        for act in acts:
            act()
        out.append(list(ran))
        ran.clear()
    return out


@pytest.mark.parametrize(("name", "steps", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenario(name: str, steps: list[tuple[Any, ...]], expected: list[list[str]]) -> None:
    assert play(steps) == expected


def test_a_pause_is_seen_before_it_takes_effect_and_forgotten_after() -> None:
    controls = Controls()
    controls.pausing = True
    controls.add(1.0, lambda: None, False, True)
    assert controls.waiting and controls.pausing is True
    assert len(controls.due(1.0)) == 1
    assert not controls.waiting and controls.pausing is None


def test_the_source_gathers_nothing_while_a_control_waits() -> None:
    controls = Controls()
    assert controls.hold(320) == 320
    controls.add(1.0, lambda: None, False, True)
    assert controls.hold(320) == 0
    controls.due(1.0)
    assert controls.hold(320) == 320
