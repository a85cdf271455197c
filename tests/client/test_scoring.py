"""The turn model's worker thread with the real smart-turn model: answers come back on the
event loop, and a request the core cancels gives none, whether it was queued or running."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.clips import load
from vad_dictate.client.pipeline import CancelScore, ScoreTurn
from vad_dictate.client.scoring import TurnWorker
from vad_dictate.vad.smart_turn import SmartTurn, bundled_model

pytest.importorskip("onnxruntime")
if bundled_model() is None:
    pytest.skip("pipecat-ai is not installed (.ci/setup installs it)", allow_module_level=True)

AUDIO = load("sense_and_sensibility_01_austen_64kb-0870")


def test_cancelled_requests_give_no_answer_and_the_next_one_does() -> None:
    async def main() -> tuple[list[int], int]:
        worker = TurnWorker(SmartTurn())
        answered: list[int] = []
        last = asyncio.Event()

        def answer(request: ScoreTurn, probability: float) -> None:
            assert 0.0 <= probability <= 1.0
            answered.append(request.token)
            last.set()

        requests = [ScoreTurn(0, token, AUDIO) for token in (1, 2, 3)]
        for request in requests:
            worker.score(request, answer)
        worker.cancel(CancelScore(0, 1))  # running (or about to run)
        worker.cancel(CancelScore(0, 2))  # queued behind it
        worker.cancel(CancelScore(0, 9))  # never asked for: nothing to stop
        await asyncio.wait_for(last.wait(), 60)
        worker.close()
        return answered, worker.stopped

    answered, stopped = asyncio.run(main())
    assert answered == [3]
    assert stopped == 2


def test_a_request_that_was_answered_is_not_stopped() -> None:
    async def main() -> int:
        worker = TurnWorker(SmartTurn())
        came = asyncio.Event()
        worker.score(ScoreTurn(1, 4, np.asarray(AUDIO)), lambda _r, _p: came.set())
        await asyncio.wait_for(came.wait(), 60)
        worker.cancel(CancelScore(1, 4))
        worker.close()
        return worker.stopped

    assert asyncio.run(main()) == 0
