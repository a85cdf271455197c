"""The dictation session's asyncio shell: audio source -> ClientCore <-> websocket -> sinks.

Every decision is the pure :class:`~vad_dictate.client.core.ClientCore`'s; this shell
only moves bytes and timestamps and carries out the actions the core returns. The
pump feeds it audio for the whole session, the ticker feeds it time, and each
connection has a reader (websocket -> core) and a writer (core -> websocket). The
main loop opens a connection whenever the core says ``Connect`` and returns when it
says ``Finish``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from vad_dictate.audio.block import AudioBlock, AudioSource, Int16Array
from vad_dictate.client.actions import (
    Action,
    Connect,
    Finish,
    Notice,
    Print,
    ReopenInput,
    ShowInterim,
    StateChanged,
    StatusRecord,
    Transmit,
)
from vad_dictate.client.core import CONNECT_SILENCE_MS, SessionOptions
from vad_dictate.client.keyterms import KeytermCore
from vad_dictate.client.outbox import Outbox
from vad_dictate.client.pipeline import Pipeline, ScoreTurn, SendAudio, SendFinalize
from vad_dictate.client.signals import install_signal_handlers
from vad_dictate.client.transport import close_failure, open_connection
from vad_dictate.deepgram import protocol as proto
from vad_dictate.errors import AudioDeviceError, AuthError, RequestRejected, TransportError
from vad_dictate.ui.sinks import StatusView, UtteranceSink

__all__ = [
    "CONNECT_SILENCE_MS",
    "AudioSource",
    "Session",
    "SessionOptions",
    "install_signal_handlers",
    "run_dictation",
]

TICK_S = 0.05


class Recorder(Protocol):
    """Diagnostics hooks (``--record``): everything the session hears, decides, sends, gets."""

    def audio(self, block: AudioBlock) -> None: ...

    def sent(self, item: SendAudio | SendFinalize | str) -> None: ...

    def received(self, raw: str | bytes) -> None: ...


class TurnScorer(Protocol):
    """The end-of-turn model: P(the speech in 16 kHz ``audio`` is a finished turn)."""

    def score(self, audio: Int16Array) -> float: ...


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
        self.scorer = scorer  # the end-of-turn model, run on its own thread
        self._scoring = ThreadPoolExecutor(1, "turn-model") if scorer is not None else None
        self.sink, self.status, self.recorder = sink, status, recorder
        self.rate, self.channels = source.sample_rate, source.channels
        self.core = KeytermCore(
            options, self.channels, self.rate, paused=paused, jitter=random.random
        )
        self.stop_requested = asyncio.Event()
        self._wake = asyncio.Event()  # the core may have something to send
        self._drained = asyncio.Event()  # something was sent, or a stop came: a file may go on
        self._directed = asyncio.Event()  # the core said Connect or Finish
        self._directive: Connect | Finish | None = None
        self._crash: BaseException | None = None

    @property
    def pipeline(self) -> Pipeline:
        """The core's endpointers and send gate."""
        return self.core.pipeline

    @property
    def outbox(self) -> Outbox:
        """The core's record of what was sent and confirmed."""
        return self.core.outbox

    @property
    def connections(self) -> int:
        """Connections opened so far."""
        return self.core.connections

    @property
    def paused(self) -> bool:
        """True while the input is heard as silence."""
        return self.core.paused

    async def run(self) -> int:
        """Dictate until the source ends or a stop is requested; return the exit code."""
        pump = asyncio.create_task(self._pump())
        ticker = asyncio.create_task(self._ticker())
        try:
            self._do(self.core.start())
            finish = await self._connections()
        finally:
            for task in (pump, ticker):
                task.cancel()
            await asyncio.gather(pump, ticker, return_exceptions=True)
            if self._scoring is not None:
                self._scoring.shutdown(wait=False, cancel_futures=True)
        if finish.error is not None:
            raise finish.error
        return 0

    # -- control (hotkeys, control socket, signals) ---------------------------------------------

    def request_finalize(self) -> None:
        """Finalize the current utterance now (trigger ``hotkey``)."""
        self._do(self.core.finalize(time.monotonic()))

    def set_paused(self, paused: bool) -> None:
        """Pause or resume: while paused the microphone is heard as silence, nothing is sent."""
        self._do(self.core.pause(paused, time.monotonic()))

    def adjust_sensitivity(self, delta: int) -> int:
        """Change VAD aggressiveness by ``delta`` (clamped to 0-3); return the new value."""
        return self.core.sensitivity(delta)

    def configure(self, fields: Mapping[str, object]) -> None:
        """Send a Configure message now and on every new connection."""
        self._do(self.core.configure(fields))

    def update_keyterms(self, terms: Sequence[str]) -> str:
        """Send the whole new keyterm list (see KeytermCore); a line saying what happened."""
        actions, said = self.core.update_keyterms(terms)
        self._do(actions)
        return said

    def request_stop(self) -> None:
        """Finish cleanly: finalize what was said, close the stream, exit."""
        self.stop_requested.set()
        self._drained.set()
        self._do(self.core.stop(time.monotonic()))

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
            if isinstance(action, Print):
                self.sink.write(action.item, action.latency_ms)
                self.status.committed(action.item.info.channel, action.latency_ms)
            elif isinstance(action, ShowInterim):
                self.status.interim(action.channel, action.text)
            elif isinstance(action, Notice) and action.alert:
                self.status.alert(action.alert, action.text)
            elif isinstance(action, Notice):
                (self.status.info if action.verbose else self.status.message)(action.text)
            elif isinstance(action, StatusRecord):
                self.sink.status(action.record)
            elif isinstance(action, StateChanged):
                self.status.state(action.state)
            elif isinstance(action, ScoreTurn):
                self._score(action)
            elif isinstance(action, Connect | Finish):
                if not isinstance(self._directive, Finish):
                    self._directive = action
                self._directed.set()
        if self.sink.stdout_closed and not self.core.done:
            self._do(self.core.output_closed(time.monotonic()))
        self._wake.set()
        return actions

    def _score(self, request: ScoreTurn) -> None:
        """Run the end-of-turn model off the loop; its answer comes back to the core on it."""
        if self.scorer is None or self._scoring is None:
            return
        loop = asyncio.get_running_loop()
        future = self._scoring.submit(self.scorer.score, request.audio)

        def done(f: Future[float]) -> None:  # on the worker thread
            if f.cancelled() or f.exception() is not None:
                return
            with contextlib.suppress(RuntimeError):  # the session ended meanwhile: drop it
                loop.call_soon_threadsafe(self._scored, request, f.result())

        future.add_done_callback(done)

    def _scored(self, request: ScoreTurn, probability: float) -> None:
        now = time.monotonic()
        self._do(self.core.turn_scored(request.channel, request.token, probability, now))

    # -- capture ------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Source -> core, for the whole session, across device failures."""
        try:
            while not self.stop_requested.is_set():
                try:
                    await self._pump_blocks()
                    break
                except AudioDeviceError as exc:
                    actions = self._do(self.core.device_failed(exc, time.monotonic()))
                    reopen = [a for a in actions if isinstance(a, ReopenInput)]
                    if not reopen:
                        break
                    self.source.reset()
                    await _wait(self.stop_requested, reopen[0].delay)
            self._do(self.core.input_ended(time.monotonic()))
        except Exception as exc:  # a bug: end the session with it rather than hang
            self._crash = exc
            self._directed.set()
            raise

    async def _pump_blocks(self) -> None:
        """Pump one opening of the source until it ends or a stop is requested.

        Sources deliver a block every few tens of milliseconds (a dead microphone
        raises within seconds), so checking for a stop between blocks is prompt
        enough and costs no task per block.
        """
        blocks = aiter(self.source.blocks())
        try:
            async for block in blocks:
                if self.stop_requested.is_set():
                    return
                if self.recorder is not None:
                    self.recorder.audio(block)
                self._do(self.core.audio(block))
                self.status.level(block.samples, self.core.pipeline.speaking())
                while not self.source.live and self.core.backlogged():
                    if self.stop_requested.is_set():
                        return
                    self._drained.clear()
                    await self._drained.wait()
        finally:
            if isinstance(blocks, AsyncGenerator):
                with contextlib.suppress(Exception):
                    await blocks.aclose()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            src = self.source
            self._do(self.core.overflows(src.overflows_portaudio, src.overflows_queue))
            self._do(self.core.tick(time.monotonic()))

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
        opening = asyncio.create_task(open_connection(self.core.options))  # keyterms may change
        directed = asyncio.create_task(self._directed.wait())
        await asyncio.wait({opening, directed}, return_when=asyncio.FIRST_COMPLETED)
        directed.cancel()
        if not opening.done():  # a stop while the handshake hangs
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
            return
        try:
            ws = opening.result()
        except (AuthError, RequestRejected, TransportError) as exc:
            self._do(self.core.connect_failed(exc, time.monotonic()))
            return
        tasks = [asyncio.create_task(c) for c in (self._reader(ws), self._writer(ws))]
        directed = asyncio.create_task(self._directed.wait())
        try:
            self._do(self.core.connected(time.monotonic()))
            done, _ = await asyncio.wait([*tasks, directed], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                failure = task.exception() if task.done() else None
                if failure is not None and not isinstance(failure, ConnectionClosed):
                    raise failure  # a bug, not the network
            if directed not in done:
                self._do(self.core.lost(close_failure(ws), time.monotonic()))
        finally:
            for pending in (*tasks, directed):
                pending.cancel()
            await asyncio.gather(*tasks, directed, return_exceptions=True)
            await ws.close()

    async def _reader(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                if self.recorder is not None:
                    self.recorder.received(raw)
                event = proto.parse_server_message(raw)
                self._do(self.core.received(event, time.monotonic()))

    async def _writer(self, ws: ClientConnection) -> None:
        """Core -> websocket: whatever ``next_send`` hands out, as soon as it may go."""
        while True:
            now = time.monotonic()
            message = self.core.next_send(now)
            if isinstance(message, Transmit) and message.kind == "ping":
                pong = asyncio.ensure_future(await ws.ping())
                pong.add_done_callback(functools.partial(self._ponged, message))
                self._do(self.core.sent(message, time.monotonic()))
                continue
            if isinstance(message, Transmit):
                await ws.send(message.payload)
                self._do(self.core.sent(message, time.monotonic()))
                if self.recorder is not None and message.item is not None:
                    self.recorder.sent(message.item)
                self._drained.set()
                continue
            self._wake.clear()
            wait = None if message is None else max(0.0, message - now)
            await _wait(self._wake, wait)

    def _ponged(self, ping: Transmit, pong: asyncio.Future[float]) -> None:
        if not pong.cancelled() and pong.exception() is None:
            self._do(self.core.pong(ping, time.monotonic()))


async def run_dictation(
    source: AudioSource,
    options: SessionOptions,
    sink: UtteranceSink,
    status: StatusView,
    recorder: Recorder | None = None,
) -> int:
    """Run one session with signal handling; failures raise VadDictateError."""
    session = Session(source, options, sink, status, recorder)
    install_signal_handlers(session)
    return await session.run()


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    """Wait until ``event`` is set or ``timeout`` passes.

    Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that arrives as
    the event is set, and a writer cancelled that way waited forever after a reconnect.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
