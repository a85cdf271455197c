"""When the shell gives the core the time (client/ticks.py), step by step.

Each scenario starts the schedule at 10.0 (the first tick due at 10.05, the timer set for
then) and lists steps with what each returns:

    ("block", now, held_s)   a block arrived -> (tick now?, when the timer is to fire)
    ("timer", now)           the timer fired (a tick) -> when it is to fire next
"""

from __future__ import annotations

from typing import Any

import pytest

from vad_dictate.client.ticks import TICK_S, TickSchedule

SCENARIOS: list[tuple[str, list[tuple[Any, ...]], list[object]]] = [
    (
        "blocks before the tick time only put the timer off, one TICK_S past the tick",
        [("block", 10.02, 0.0), ("block", 10.04, 0.0)],
        [(False, 10.10), (False, 10.10)],
    ),
    (
        "a block at the tick time ticks; the next tick stays on the grid",
        [("block", 10.05, 0.0), ("block", 10.08, 0.0), ("block", 10.11, 0.0)],
        [(True, 10.15), (False, 10.15), (True, 10.20)],
    ),
    (
        "gathered audio puts the timer off by as much",
        [("block", 10.06, 0.24)],
        [(True, 10.39)],
    ),
    (
        "a tick time long past is not caught up: the next is TICK_S after the late one",
        [("block", 10.30, 0.0), ("block", 10.34, 0.0), ("block", 10.351, 0.0)],
        [(True, 10.40), (False, 10.40), (True, 10.45)],
    ),
    (
        "no audio: the timer ticks at every tick time",
        [("timer", 10.05), ("timer", 10.10), ("timer", 10.15)],
        [10.10, 10.15, 10.20],
    ),
    (
        "a late timer: the next tick is TICK_S after it",
        [("timer", 10.50), ("timer", 10.55)],
        [10.55, 10.60],
    ),
    (
        "audio again after the timer: blocks take over",
        [("timer", 10.05), ("block", 10.07, 0.0), ("block", 10.101, 0.0)],
        [10.10, (False, 10.15), (True, 10.20)],
    ),
]


def play(steps: list[tuple[Any, ...]]) -> list[object]:
    schedule = TickSchedule()
    assert schedule.start(10.0) == pytest.approx(10.0 + TICK_S)
    out: list[object] = []
    for step in steps:
        if step[0] == "block":
            tick, timer_at = schedule.block(step[1], step[2])
            out.append((tick, round(timer_at, 9)))
        else:
            out.append(round(schedule.timer(step[1]), 9))
    return out


@pytest.mark.parametrize(("name", "steps", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenario(name: str, steps: list[tuple[Any, ...]], expected: list[object]) -> None:
    assert play(steps) == expected
