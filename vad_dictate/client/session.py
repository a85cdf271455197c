"""The dictation session's asyncio shell: audio source -> ClientCore <-> websocket -> sinks.

Every decision is the pure :class:`~vad_dictate.client.core.ClientCore`'s; this shell
only moves bytes and timestamps and carries out the actions the core returns. The
pump feeds it audio for the whole session, and time with it (client/ticks.py: a timer
ticks only while no audio arrives); :class:`~vad_dictate.client.connection.Connections`
opens a connection whenever the core says ``Connect`` and returns when it says ``Finish``.

The source gathers as many blocks per wake-up as the core's decisions can wait for
(``AudioSource.hold``, set after every block from ``core.hold()``). A hotkey Finalize, a
pause or a stop therefore first has the source give up what it gathered, and takes effect
once the audio captured before it has reached the core (client/controls.py): what was said
before the key press belongs before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence

from vad_dictate.audio.block import AudioSource
from vad_dictate.audio.reopen import reopening
from vad_dictate.client.actions import Action, Connect, Finish, ReopenInput
from vad_dictate.client.capture import SessionOptions
from vad_dictate.client.clock import Clock
from vad_dictate.client.connection import Connections, wait_until_set
from vad_dictate.client.controls import Controls
from vad_dictate.client.keyterms import KeytermCore
from vad_dictate.client.pipeline import CancelScore, ScoreTurn
from vad_dictate.client.scoring import TurnScorer, TurnWorker
from vad_dictate.client.transport import Recorder
from vad_dictate.errors import AudioDeviceError
from vad_dictate.ui.sinks import StatusView, UtteranceSink, present

__all__ = ["AudioSource", "Session", "SessionOptions"]


class Session:
    """One dictation session, over as many connections as it takes."""

    def __init__(
        self,
        source: AudioSource,
        options: SessionOptions,
        sink: UtteranceSink,
        status: StatusView,
        recorder: Recorder | None = None,
        *,
        paused: bool = False,
        scorer: TurnScorer | None = None,
    ) -> None:
        self.source, self.options = source, options
        self.sink, self.status, self.recorder = sink, status, recorder
        self.turns = TurnWorker(scorer) if scorer is not None else None
        self.core = KeytermCore(
            options, source.channels, source.sample_rate, paused=paused, jitter=random.random
        )
        self.stop_requested = asyncio.Event()
        self._drained = asyncio.Event()  # something was sent, or a stop came: a file may go on
        self._connections = Connections(self.core, recorder, self._do, self._drained.set)
        self._clock = Clock(self._tick, self._idle, self._connections.crash)
        self._controls = Controls()  # controls waiting for the audio captured before them
        self._settled = asyncio.Event()  # no control waits
        self._settled.set()
        self._stopping = False  # the stop has taken effect: the pump takes no more audio

    async def run(self) -> int:
        """Dictate until the source ends or a stop is requested; return the exit code."""
        pump = asyncio.create_task(self._pump())
        self._clock.start()
        try:
            self._do(self.core.start())
            finish = await self._connections.run()
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            self._clock.stop()
            if self.turns is not None:
                self.turns.close()
        if finish.error is not None:
            raise finish.error
        return 0

    # -- control (hotkeys, control socket, signals) ---------------------------------------------

    def request_finalize(self) -> None:
        """Finalize the current utterance now (trigger ``hotkey``)."""
        self._when_heard(lambda: self._do(self.core.finalize(time.monotonic())))

    def set_paused(self, paused: bool) -> None:
        """Pause or resume: while paused the microphone is heard as silence, nothing is sent."""
        self._controls.pausing = paused

        def act() -> None:
            self._do(self.core.pause(paused, time.monotonic()))

        self._when_heard(act, first=not paused)

    @property
    def paused(self) -> bool:
        """Paused, or about to be (a pause waits for the audio captured before it)."""
        pausing = self._controls.pausing
        return self.core.paused if pausing is None else pausing

    async def settled(self) -> None:
        """Return once every control given so far has taken effect (see ``_when_heard``)."""
        await self._settled.wait()

    def adjust_sensitivity(self, delta: int) -> int:
        """Change VAD aggressiveness by ``delta`` (clamped to 0-3); return the new value."""
        return self.core.sensitivity(delta)

    def update_keyterms(self, terms: Sequence[str]) -> str:
        """Send the whole new keyterm list (see KeytermCore); a line saying what happened."""
        actions, said = self.core.update_keyterms(terms)
        self._do(actions)
        return said

    def request_stop(self) -> None:
        """Finish cleanly: finalize what was said, close the stream, exit."""
        self.stop_requested.set()
        self._when_heard(self._stop)

    def _stop(self) -> None:
        self._stopping = True
        self._drained.set()
        self._do(self.core.stop(time.monotonic()))

    def _when_heard(self, act: Callable[[], object], first: bool = False) -> None:
        """Run ``act`` once the audio captured until now has reached the core (see
        client/controls.py; ``first``: a resume). If it must wait, the source gives up what
        it holds and gathers no more meanwhile; the tick timer runs it if no audio comes."""
        ready = self._controls.add(time.monotonic(), act, first, self.source.hold > 0)
        if self._controls.waiting:
            self._settled.clear()
            self.source.hold = 0
            self.source.release()
        self._run(ready)

    def _run_due(self, captured_until: float | None, before_block: bool = False) -> None:
        self._run(self._controls.due(captured_until, before_block))

    def _run(self, acts: list[Callable[[], object]]) -> None:
        for act in acts:
            act()
        if not self._controls.waiting:
            self._settled.set()

    def notify(self, text: str) -> None:
        """Tell the user ``text`` (a status line)."""
        self.status.message(text)

    def state(self) -> str:
        """One word for the live view: paused, reconnecting, finalizing, speech or listening."""
        return self.core.state()

    def snapshot(self) -> dict[str, object]:
        """Counters for ``vad-dictate status`` and JSONL status lines."""
        return self.core.snapshot(self.source.overflows_portaudio + self.source.overflows_queue)

    # -- carrying out the core's actions --------------------------------------------------------

    def _do(self, actions: list[Action]) -> list[Action]:
        for action in actions:
            if present(action, self.sink, self.status):
                continue
            if isinstance(action, ScoreTurn) and self.turns is not None:
                self.turns.score(action, self._scored)
            elif isinstance(action, CancelScore) and self.turns is not None:
                self.turns.cancel(action)
            elif isinstance(action, Connect | Finish):
                self._connections.direct(action)
        if self.sink.stdout_closed and not self.core.done:
            self._do(self.core.output_closed(time.monotonic()))
        self._connections.poke()
        return actions

    def _scored(self, request: ScoreTurn, probability: float) -> None:
        now = time.monotonic()
        self._do(self.core.turn_scored(request.channel, request.token, probability, now))

    # -- capture ------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Source -> core, for the whole session, across device failures."""
        try:
            async with contextlib.aclosing(reopening(self.source, self._device_failed)) as blocks:
                async for block in blocks:
                    if self._stopping:
                        break
                    if self.recorder is not None:
                        self.recorder.audio(block)
                    self._run_due(block.captured_at, before_block=True)
                    self._do(self.core.audio(block))
                    self.source.hold = self._controls.hold(self.core.hold())
                    self.status.level(block.samples, self.core.pipeline.speaking())
                    self._clock.block(self.source.hold / self.source.sample_rate)
                    self._run_due(block.captured_at)
                    while self.core.input_waits(self.source.live):
                        self._drained.clear()
                        await self._drained.wait()
            self._run_due(None)
            self._do(self.core.input_ended(time.monotonic()))
        except Exception as exc:  # a bug: end the session with it rather than hang
            self._connections.crash(exc)
            raise

    async def _device_failed(self, error: AudioDeviceError) -> bool:
        """The core says whether (and after how long) to reopen the input; True: reopen."""
        actions = self._do(self.core.device_failed(error, time.monotonic()))
        reopen = [a for a in actions if isinstance(a, ReopenInput)]
        if reopen:
            await wait_until_set(self.stop_requested, reopen[0].delay)
        return bool(reopen) and not self.stop_requested.is_set()

    # -- time -----------------------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        """Give the core the time (and the source's overflow counters)."""
        src = self.source
        self._do(self.core.overflows(src.overflows_portaudio, src.overflows_queue))
        self._do(self.core.tick(now))

    def _idle(self) -> None:
        """No audio for a while: what waited for it goes ahead (the clock ticks next)."""
        self._run_due(None)
