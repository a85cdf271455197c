"""The dictation session's asyncio shell: audio source -> ClientCore <-> websocket -> sinks.

Every decision is the pure :class:`~vad_dictate.client.core.ClientCore`'s; this shell
only moves bytes and timestamps and carries out the actions the core returns. The
pump feeds it audio for the whole session, and time with it (see ``_tick``), and each
connection has a reader (websocket -> core) and a writer (core -> websocket). The
main loop opens a connection whenever the core says ``Connect`` and returns when it
says ``Finish``.

Each wake-up of the event loop costs more CPU here than the work most of them do, so the
shell wakes for nothing: the core's time comes with the audio (a block past the next tick
time ticks it) and from a timer only while no audio arrives, and the writer is woken only
when the core has something it may send. The source gathers as many blocks per wake-up as
the core's decisions can wait for (``AudioSource.hold``, set after every block from
``core.hold()``). A hotkey Finalize, a pause or a stop therefore first has the source give
up what it gathered, and takes effect once the audio captured before it has reached the
core (client/controls.py): what was said before the key press belongs before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence

from vad_dictate.audio.block import AudioSource
from vad_dictate.audio.reopen import reopening
from vad_dictate.client.actions import Action, Connect, Finish, ReopenInput, Transmit
from vad_dictate.client.capture import SessionOptions
from vad_dictate.client.controls import Controls
from vad_dictate.client.keyterms import KeytermCore
from vad_dictate.client.pipeline import CancelScore, ScoreTurn
from vad_dictate.client.scoring import TurnScorer, TurnWorker
from vad_dictate.client.transport import Link, Recorder, open_link
from vad_dictate.errors import AudioDeviceError, AuthError, RequestRejected, TransportError
from vad_dictate.ui.sinks import StatusView, UtteranceSink, present

__all__ = ["AudioSource", "Session", "SessionOptions"]

TICK_S = 0.05


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
        self._wake = asyncio.Event()  # the core has something to send (or to pace)
        self._writer_waits = False  # the writer is in _wait: wake it when there is
        self._drained = asyncio.Event()  # something was sent, or a stop came: a file may go on
        self._directed = asyncio.Event()  # the core said Connect or Finish
        self._directive: Connect | Finish | None = None
        self._crash: BaseException | None = None
        self._tick_due = 0.0  # when the core is next given the time
        self._watch: asyncio.TimerHandle | None = None  # ticks while no audio arrives
        self._watch_at = 0.0  # when it fires
        self._controls = Controls()  # controls waiting for the audio captured before them
        self._settled = asyncio.Event()  # no control waits
        self._settled.set()
        self._stopping = False  # the stop has taken effect: the pump takes no more audio

    async def run(self) -> int:
        """Dictate until the source ends or a stop is requested; return the exit code."""
        pump = asyncio.create_task(self._pump())
        self._tick_due = time.monotonic() + TICK_S
        self._watch_until(self._tick_due)
        try:
            self._do(self.core.start())
            finish = await self._connections()
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            if self._watch is not None:
                self._watch.cancel()
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
                if not isinstance(self._directive, Finish):
                    self._directive = action
                self._directed.set()
        if self.sink.stdout_closed and not self.core.done:
            self._do(self.core.output_closed(time.monotonic()))
        if self._writer_waits and self.core.next_send(time.monotonic()) is not None:
            self._wake.set()
        return actions

    def _scored(self, request: ScoreTurn, probability: float) -> None:
        now = time.monotonic()
        self._do(self.core.turn_scored(request.channel, request.token, probability, now))

    def _ponged(self, ping: Transmit) -> None:
        self._do(self.core.pong(ping, time.monotonic()))

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
                    self.source.hold = 0 if self._controls.waiting else self.core.hold()
                    self.status.level(block.samples, self.core.pipeline.speaking())
                    self._ticked_by_audio()
                    self._run_due(block.captured_at)
                    while self.core.input_waits(self.source.live):
                        self._drained.clear()
                        await self._drained.wait()
            self._run_due(None)
            self._do(self.core.input_ended(time.monotonic()))
        except Exception as exc:  # a bug: end the session with it rather than hang
            self._crash = exc
            self._directed.set()
            raise

    async def _device_failed(self, error: AudioDeviceError) -> bool:
        """The core says whether (and after how long) to reopen the input; True: reopen."""
        actions = self._do(self.core.device_failed(error, time.monotonic()))
        reopen = [a for a in actions if isinstance(a, ReopenInput)]
        if reopen:
            await _wait(self.stop_requested, reopen[0].delay)
        return bool(reopen) and not self.stop_requested.is_set()

    # -- time -----------------------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        """Give the core the time (and the source's overflow counters), every ``TICK_S``."""
        due = self._tick_due + TICK_S
        self._tick_due = due if due > now else now + TICK_S
        src = self.source
        self._do(self.core.overflows(src.overflows_portaudio, src.overflows_queue))
        self._do(self.core.tick(now))

    def _ticked_by_audio(self) -> None:
        """A block arrived: tick if it is time. The timer that ticks without audio waits one
        ``TICK_S`` longer than the next tick: blocks come every few tens of ms, so it fires
        only once they stop."""
        now = time.monotonic()
        if now >= self._tick_due:
            self._tick(now)
        held_s = self.source.hold / self.source.sample_rate
        self._watch_until(self._tick_due + TICK_S + held_s)

    def _watched(self) -> None:
        """No audio for a while (a file waiting for the network, a device being reopened, the
        input ended): tick from the timer, and again every ``TICK_S``."""
        try:
            self._run_due(None)  # no audio comes: what waited for it goes ahead
            self._tick(time.monotonic())
        except Exception as exc:  # a bug: end the session with it rather than hang
            self._crash = exc
            self._directed.set()
            return
        self._watch_until(self._tick_due)

    def _watch_until(self, at: float) -> None:
        """(Re)set the timer that ticks without audio to fire at ``at`` (monotonic time)."""
        if at == self._watch_at:
            return
        if self._watch is not None:
            self._watch.cancel()
        self._watch_at = at
        loop = asyncio.get_running_loop()
        self._watch = loop.call_later(at - time.monotonic(), self._watched)

    # -- connections --------------------------------------------------------------------------

    async def _connections(self) -> Finish:
        """Open connections as the core directs until it finishes."""
        while True:
            await self._directed.wait()
            self._directed.clear()
            if self._crash is not None:
                raise self._crash
            directive, self._directive = self._directive, None
            if isinstance(directive, Finish):
                return directive
            if directive is not None and directive.delay > 0:
                await _wait(self._directed, directive.delay)
                if self._directed.is_set():
                    continue  # a newer directive (a stop) replaces this one
            await self._connection()

    async def _connection(self) -> None:
        """One connection, from handshake to the core's next directive."""
        try:  # the core's options: the keyterms may have changed
            link = await open_link(self.core.options, self.recorder, self._directed)
        except (AuthError, RequestRejected, TransportError) as exc:
            self._do(self.core.connect_failed(exc, time.monotonic()))
            return
        if link is None:  # a stop (a newer directive) while the handshake hung
            return
        tasks = [asyncio.create_task(c) for c in (self._reader(link), self._writer(link))]
        directed = asyncio.create_task(self._directed.wait())
        try:
            self._do(self.core.connected(time.monotonic()))
            done, _ = await asyncio.wait([*tasks, directed], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and (bug := task.exception()) is not None:
                    raise bug  # not the network: a Link ends quietly when the connection does
            if directed not in done:
                self._do(self.core.lost(link.failure(), time.monotonic()))
        finally:
            for pending in (*tasks, directed):
                pending.cancel()
            await asyncio.gather(*tasks, directed, return_exceptions=True)
            await link.close()

    async def _reader(self, link: Link) -> None:
        async for event in link.events():
            self._do(self.core.received(event, time.monotonic()))

    async def _writer(self, link: Link) -> None:
        """Core -> websocket: whatever ``next_send`` hands out, as soon as it may go."""
        while True:
            now = time.monotonic()
            message = self.core.next_send(now)
            if isinstance(message, Transmit):
                if not await link.send(message, self._ponged):
                    return  # the connection ended: _connection reports how to the core
                self._do(self.core.sent(message, time.monotonic()))
                self._drained.set()
                continue
            self._wake.clear()
            self._writer_waits = True
            try:
                await _wait(self._wake, None if message is None else max(0.0, message - now))
            finally:
                self._writer_waits = False


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    """Wait until ``event`` is set or ``timeout`` passes.

    Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that arrives as
    the event is set, and a writer cancelled that way waited forever after a reconnect.
    """
    if timeout is None:  # the writer's usual wait: no timer to set up
        await event.wait()
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
