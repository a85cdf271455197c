"""The end-of-turn model off the event loop: one worker thread, answers back on the loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from vad_dictate.audio.block import Int16Array
from vad_dictate.client.pipeline import ScoreTurn


class TurnScorer(Protocol):
    """The end-of-turn model: P(the speech in 16 kHz ``audio`` is a finished turn)."""

    def score(self, audio: Int16Array) -> float: ...


class TurnWorker:
    """Runs ``scorer`` on its own thread, so a slow model never holds up capture."""

    def __init__(self, scorer: TurnScorer) -> None:
        self.scorer = scorer
        self._pool = ThreadPoolExecutor(1, "turn-model")

    def score(self, request: ScoreTurn, answer: Callable[[ScoreTurn, float], None]) -> None:
        """Score ``request``; ``answer(request, probability)`` runs later on this event loop.
        A model that fails gives no answer."""
        loop = asyncio.get_running_loop()
        future = self._pool.submit(self.scorer.score, request.audio)

        def done(f: Future[float]) -> None:  # on the worker thread
            if f.cancelled() or f.exception() is not None:
                return
            with contextlib.suppress(RuntimeError):  # the session ended meanwhile: drop it
                loop.call_soon_threadsafe(answer, request, f.result())

        future.add_done_callback(done)

    def close(self) -> None:
        """Stop: requests not yet started are dropped, a running one is not waited for."""
        self._pool.shutdown(wait=False, cancel_futures=True)
