"""A source across its openings (audio/reopen.py): every block once, the caller decides
whether a failed device is opened again, and each opening is closed before the next."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from vad_dictate.audio.block import AudioBlock
from vad_dictate.audio.reopen import reopening
from vad_dictate.errors import AudioDeviceError


class ScriptedDevice:
    """Each opening yields its blocks (numbered), then fails unless it is the last."""

    live = True
    sample_rate, channels = 16000, 1
    overflows_portaudio = overflows_queue = 0
    hold = 0  # ignored: every block at once

    def __init__(self, openings: list[int]) -> None:
        self.openings = list(openings)
        self.log: list[str] = []
        self._n = 0

    def reset(self) -> None:
        self.log.append("reset")

    def release(self) -> None:
        """Nothing is held."""

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        count = self.openings.pop(0)
        self.log.append(f"open {count}")
        try:
            for _ in range(count):
                yield AudioBlock(np.zeros((320, 1), np.int16), self._n * 320, 0.0)
                self._n += 1
            if self.openings:
                raise AudioDeviceError(f"failed after {count}")
        finally:
            self.log.append("closed")


# (blocks per opening, answers of ``failed``) -> blocks seen, what happened in order
CASES = [
    ([3], [], 3, ["open 3", "closed"]),
    ([2, 3], [True], 5, ["open 2", "closed", "failed after 2", "reset", "open 3", "closed"]),
    ([2, 3], [False], 2, ["open 2", "closed", "failed after 2"]),
    (
        [1, 0, 2],
        [True, True],
        3,
        [
            *("open 1", "closed", "failed after 1", "reset"),
            *("open 0", "closed", "failed after 0", "reset"),
            *("open 2", "closed"),
        ],
    ),
]


@pytest.mark.parametrize(("openings", "answers", "seen", "log"), CASES)
def test_blocks_across_openings(
    openings: list[int], answers: list[bool], seen: int, log: list[str]
) -> None:
    device = ScriptedDevice(openings)
    replies = list(answers)

    async def failed(error: AudioDeviceError) -> bool:
        device.log.append(str(error))
        return replies.pop(0)

    async def run() -> list[int]:
        return [b.start async for b in reopening(device, failed)]

    starts = asyncio.run(run())
    assert starts == [i * 320 for i in range(seen)]
    assert device.log == log


def test_a_consumer_that_stops_early_closes_the_opening() -> None:
    device = ScriptedDevice([5])

    async def never(error: AudioDeviceError) -> bool:
        raise AssertionError("no failure expected")

    async def run() -> None:
        blocks = reopening(device, never)
        async for _ in blocks:
            break
        await blocks.aclose()

    asyncio.run(run())
    assert device.log == ["open 5", "closed"]
