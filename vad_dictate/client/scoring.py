"""The end-of-turn model off the event loop: one worker thread, answers back on the loop.

A request whose answer the core no longer wants (:class:`CancelScore`: speech resumed, or the
utterance ended) is dropped before it starts, or stopped at the model's next graph node, so a
pause of 100 ms between words costs a few milliseconds of model time, not a whole call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from vad_dictate.audio.block import Int16Array
from vad_dictate.client.pipeline import CancelScore, ScoreTurn
from vad_dictate.vad.smart_turn import Stop


class TurnScorer(Protocol):
    """The end-of-turn model: P(the speech in 16 kHz ``audio`` is a finished turn)."""

    def score(self, audio: Int16Array, stop: Stop | None = None) -> float: ...


class TurnWorker:
    """Runs ``scorer`` on its own thread, so a slow model never holds up capture."""

    def __init__(self, scorer: TurnScorer) -> None:
        self.scorer = scorer
        self._pool = ThreadPoolExecutor(1, "turn-model")
        self._running: dict[tuple[int, int], tuple[Future[float], Stop]] = {}
        self.stopped = 0  # requests cancelled before their answer

    def score(self, request: ScoreTurn, answer: Callable[[ScoreTurn, float], None]) -> None:
        """Score ``request``; ``answer(request, probability)`` runs later on this event loop.
        A model that fails, or a request cancelled first, gives no answer."""
        loop = asyncio.get_running_loop()
        stop = Stop()
        future = self._pool.submit(self.scorer.score, request.audio, stop)
        self._running[request.key] = (future, stop)

        def done(f: Future[float]) -> None:  # on the worker thread
            if f.cancelled() or f.exception() is not None:
                return
            with contextlib.suppress(RuntimeError):  # the session ended meanwhile: drop it
                loop.call_soon_threadsafe(answer, request, f.result())

        # Callbacks run in order: the request is no longer running before its answer is sent.
        future.add_done_callback(lambda _f: self._running.pop(request.key, None))
        future.add_done_callback(done)

    def cancel(self, request: CancelScore) -> None:
        """Drop the request if it has not started; stop it if it runs; no answer either way."""
        running = self._running.pop(request.key, None)
        if running is not None:
            future, stop = running
            future.cancel()
            stop()
            self.stopped += 1

    def close(self) -> None:
        """Stop: requests not yet started are dropped, a running one is not waited for."""
        for future, stop in list(self._running.values()):  # the worker pops as it finishes
            future.cancel()
            stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
