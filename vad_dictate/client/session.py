"""The dictation session: audio source -> pipeline -> outbox -> websocket -> assembler -> sink.

This is the asyncio shell around the pure cores. One event loop owns them all.
The pump task captures audio into the pipeline and the outbox for the whole
session, whatever the connection is doing. Each connection runs a sender
(outbox -> websocket), a reader (websocket -> assembler -> sink) and a ticker
(acknowledgement timeouts, KeepAlive). When a connection drops, the session
reconnects with backoff and replays every utterance not yet printed, so no word
is lost and none is printed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from vad_dictate.audio.block import AudioBlock
from vad_dictate.client.assembler import (
    Assembler,
    AssemblerEvent,
    Committed,
    Partial,
    UtteranceInfo,
)
from vad_dictate.client.outbox import Outbox
from vad_dictate.client.pipeline import Pipeline, PipelineSettings, SendAudio, SendFinalize
from vad_dictate.deepgram import protocol as proto
from vad_dictate.deepgram import retry
from vad_dictate.errors import AudioDeviceError, AuthError, RequestRejected, TransportError
from vad_dictate.ui.sinks import StatusView, UtteranceSink
from vad_dictate.vad.endpointer import EndpointerSettings

TICK_S = 0.05
REOPEN_INTERVAL_S = 1.0
STALL_MIN_S = 5.0  # silence from the server that means it is gone
CONNECT_SILENCE_MS = 100  # PROTOCOL.md: a connection that never got audio may not hold


class AudioSource(Protocol):
    """What the session needs from a microphone or a file."""

    sample_rate: int
    channels: int

    def blocks(self) -> AsyncIterator[AudioBlock]: ...


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """Everything a session needs besides its source and sinks."""

    url: str
    api_key: str | None
    connect: proto.ConnectOptions
    endpointer: EndpointerSettings
    pipeline: PipelineSettings
    ack_timeout: float = 2.0
    keepalive_s: float = 4.0
    close_timeout: float = 5.0
    give_up_s: float = 60.0
    retain_s: float = 120.0
    replay_speed: float = 1.25  # Deepgram takes audio at most ~1.25x real time; 0 = unpaced
    reopen_s: float = 30.0  # how long a lost microphone may take to come back


class Recorder(Protocol):
    """Diagnostics hooks (``--record``): everything the session hears, decides, sends, gets."""

    def audio(self, block: AudioBlock) -> None: ...

    def sent(self, item: SendAudio | SendFinalize | str) -> None: ...

    def received(self, raw: str | bytes) -> None: ...


class _Lost(Exception):
    """The connection ended before the session was done."""

    def __init__(self, failure: retry.Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Session:
    """One dictation session, over as many connections as it takes."""

    def __init__(
        self,
        source: AudioSource,
        options: SessionOptions,
        sink: UtteranceSink,
        status: StatusView,
        recorder: Recorder | None = None,
    ) -> None:
        self.source, self.options = source, options
        self.recorder = recorder
        self.sink, self.status = sink, status
        self.rate, self.channels = source.sample_rate, source.channels
        self.pipeline = Pipeline(options.endpointer, options.pipeline, self.channels, self.rate)
        self.outbox = Outbox(int(options.retain_s * self.rate))
        self.assembler = self._new_assembler()
        self.stop_requested = asyncio.Event()
        self.connections = 0
        self._produced = asyncio.Event()
        self._drained = asyncio.Event()  # set whenever the sender sends something
        self._input_done = asyncio.Event()
        self._stale: Assembler | None = None  # words of a lost connection, until replayed
        self._last_end: UtteranceInfo | None = None
        self._last_send = 0.0
        self._violations = 0
        self._reported_drop = 0
        self._reported_unreplayable = 0
        self._reported_overflows = 0
        self._got_metadata = False
        self.paused = False
        self.printed = 0  # utterances written to the sink
        self.unconfirmed = 0  # utterances committed without the server's acknowledgement
        self._last_received = 0.0
        self._stalled: set[int] = set()  # utterances whose Finalize met a silent server
        self._reopened: Callable[[], None] | None = None
        self.device_error: AudioDeviceError | None = None
        self.connected = False

    def _new_assembler(self) -> Assembler:
        return Assembler(self.channels, self.rate, self.options.ack_timeout)

    async def run(self) -> int:
        """Dictate until the source ends or a stop is requested; return the exit code."""
        pump = asyncio.create_task(self._pump())
        try:
            await self._connections()
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        if self.unconfirmed:
            self.status.message(
                f"warning: the server never confirmed {self.unconfirmed} utterance(s); "
                "what its results gave for them was printed."
            )
        if self.device_error is not None:
            raise self.device_error
        return 0

    # -- control (hotkeys, control socket, signals) ---------------------------------------------

    def request_finalize(self) -> None:
        """Finalize the current utterance now (trigger ``hotkey``)."""
        self._queue(self.pipeline.force_end("hotkey", time.monotonic()))

    def set_paused(self, paused: bool) -> None:
        """Pause or resume: while paused the microphone is heard as silence, nothing is sent."""
        if paused and not self.paused:
            self._queue(self.pipeline.force_end("hotkey", time.monotonic()))
        self.paused = paused
        self.status.state(self.state())

    def adjust_sensitivity(self, delta: int) -> int:
        """Change VAD aggressiveness by ``delta`` (clamped to 0-3); return the new value."""
        mode = self.pipeline.aggressiveness() + delta
        mode = max(0, min(3, mode))
        self.pipeline.set_aggressiveness(mode)
        return mode

    def request_stop(self) -> None:
        """Finish cleanly: finalize what was said, close the stream, exit."""
        self.stop_requested.set()

    def state(self) -> str:
        """One word for the live view: paused, reconnecting, finalizing, speech or listening."""
        if self.paused:
            return "paused"
        if not self.connected:
            return "reconnecting" if self.connections else "connecting"
        if self.pipeline.speaking():
            return "speech"
        if self.assembler.pending_count():
            return "finalizing"
        return "listening"

    def snapshot(self) -> dict[str, object]:
        """Counters for ``vad-dictate status`` and JSONL status lines."""
        src = self.source
        return {
            "state": self.state(),
            "utterances": self.printed,
            "connections": self.connections,
            "aggressiveness": self.pipeline.aggressiveness(),
            "captured_s": round(self.pipeline.captured_frames / self.rate, 3),
            "sent_s": round(self.pipeline.sent_frames_total / self.rate, 3),
            "overflows": int(getattr(src, "overflows_portaudio", 0))
            + int(getattr(src, "overflows_queue", 0)),
            "dropped_s": round(self.outbox.dropped_frames / self.rate, 3),
        }

    # -- capture ------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Source -> pipeline -> outbox, for the whole session, across device failures."""
        stop = asyncio.create_task(self.stop_requested.wait())
        down_since = 0.0
        try:
            while True:
                try:
                    await self._pump_blocks(stop)
                    break
                except AudioDeviceError as exc:
                    now = time.monotonic()
                    if not down_since:
                        self.status.message(f"vad-dictate: {exc}")
                        self._queue(self.pipeline.force_end("end", now))  # keep what was said
                        down_since = now
                    if not self._may_reopen(now - down_since, stop):
                        self.device_error = exc
                        break
                    await asyncio.wait({stop}, timeout=REOPEN_INTERVAL_S)
                    if stop.done():
                        break
                    self._reopened = lambda: self.status.message("the microphone is back")
        finally:
            stop.cancel()
        self._queue(self.pipeline.force_end("end", time.monotonic()) + self.pipeline.drain())
        self._input_done.set()
        self._produced.set()

    def _may_reopen(self, down_for: float, stop: asyncio.Task[bool]) -> bool:
        reset = getattr(self.source, "reset", None)
        if reset is None or stop.done() or down_for >= self.options.reopen_s:
            return False
        reset()
        return True

    async def _pump_blocks(self, stop: asyncio.Task[bool]) -> None:
        """Pump one opening of the source until it ends or a stop is requested.

        Sources deliver a block every few tens of milliseconds (a dead microphone
        raises within seconds), so checking for a stop between blocks is prompt
        enough and costs no task per block.
        """
        blocks = aiter(self.source.blocks())
        try:
            async for block in blocks:
                if stop.done():
                    return
                if self._reopened is not None:
                    self._reopened()
                    self._reopened = None
                self._take(block)
                if not getattr(self.source, "live", True):
                    await self._backpressure()
        finally:
            aclose = getattr(blocks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def _take(self, block: AudioBlock) -> None:
        gap = block.start - self.pipeline.captured_frames
        if gap > 0:  # capture dropped blocks: keep the capture clock honest
            filler = np.zeros((gap, self.channels), dtype=np.int16)
            self._queue(self.pipeline.push(filler, block.captured_at))
        if self.recorder is not None:
            self.recorder.audio(block)
        samples = np.zeros_like(block.samples) if self.paused else block.samples
        self._queue(self.pipeline.push(samples, block.captured_at))
        self.status.level(block.samples, self.pipeline.speaking())

    async def _backpressure(self) -> None:
        """A file can wait: keep its unsent backlog well inside the replay bound."""
        limit = self.outbox.max_retained_frames // 2
        while self.outbox.unsent_frames > limit:
            self._drained.clear()
            await self._drained.wait()

    def _queue(self, items: list[SendAudio | SendFinalize]) -> None:
        if items:
            self.outbox.extend(items)
            self._produced.set()
        if self.outbox.dropped_frames > self._reported_drop:
            lost = (self.outbox.dropped_frames - self._reported_drop) / self.rate
            self._reported_drop = self.outbox.dropped_frames
            self.status.message(
                f"warning: the server has been unreachable too long; {lost:.1f} s of the oldest "
                "unsent audio was dropped to bound memory (stream.retain_s)."
            )

    # -- connections --------------------------------------------------------------------------

    async def _connections(self) -> None:
        attempt, down_since = 0, 0.0
        while True:
            try:
                ws = await self._connect()
            except TransportError as exc:
                now = time.monotonic()
                down_since = down_since or now
                limit = self.options.close_timeout if self._input_done.is_set() else 0.0
                first = self.connections == 0  # a wrong URL or key should fail at once
                expired = now - down_since >= (limit or self.options.give_up_s)
                if first or not exc.retryable or expired:
                    self._give_up()
                    raise
                delay = retry.backoff_delay(attempt, random.random())
                attempt += 1
                self.status.info(f"reconnecting in {delay:.1f} s: {exc}")
                await asyncio.sleep(delay)
                continue
            attempt, down_since = 0, 0.0
            try:
                await self._serve(ws)
                return
            except _Lost as lost:
                if not lost.failure.retryable:
                    self._give_up()
                    raise RequestRejected(lost.failure.message) from lost
                down_since = time.monotonic()
                self.status.info(f"connection lost, reconnecting: {lost.failure.message}")
            finally:
                await ws.close()

    def _give_up(self) -> None:
        """Print what the finals gave before exiting on a failure."""
        held = self._stale or self.assembler
        self._commit(held.tick(float("inf")) + held.flush(self._last_end))
        if self._stale is not None and self._stale is not self.assembler:
            self._commit(self.assembler.flush(self._last_end))
        unconfirmed = len(self.outbox.uncommitted())
        if unconfirmed:
            self.status.message(
                f"warning: {unconfirmed} utterance(s) were not confirmed by the server; "
                "their words may be missing or incomplete."
            )

    async def _connect(self) -> ClientConnection:
        opts = self.options
        url = proto.build_url(opts.url, opts.connect)
        host = urlsplit(url).hostname or ""
        loopback = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
        try:
            return await connect(
                url,
                additional_headers=proto.auth_headers(opts.api_key),
                open_timeout=10,
                max_size=16 * 2**20,
                proxy=None if loopback else True,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            failure = retry.classify_handshake(status, exc.response.headers.get("dg-error"))
            if failure.kind == "auth":
                raise AuthError(failure.message) from exc
            if failure.kind == "rejected":
                raise RequestRejected(failure.message) from exc
            raise TransportError(failure.message) from exc
        except (OSError, InvalidHandshake, TimeoutError, websockets.InvalidURI) as exc:
            where = f"{urlsplit(opts.url).scheme}://{urlsplit(opts.url).netloc}"
            raise TransportError(
                f"Cannot reach the server at {where} ({_describe(exc)}); check the network "
                "and the --url setting."
            ) from exc

    async def _serve(self, ws: ClientConnection) -> None:
        """Run one connection until the session is done (returns) or it drops (_Lost)."""
        self.connections += 1
        self.connected = True
        self.status.state(self.state())
        if self.connections > 1:
            self._stale = self.assembler  # its uncommitted words come again from the replay
            if self.outbox.unreplayable_frames > self._reported_unreplayable:
                gone = (self.outbox.unreplayable_frames - self._reported_unreplayable) / self.rate
                self._reported_unreplayable = self.outbox.unreplayable_frames
                self.status.message(
                    f"warning: {gone:.1f} s of audio sent before the connection dropped was "
                    "older than stream.retain_s and cannot be replayed; words in it may be missing."
                )
        self.assembler = self._new_assembler()
        self._got_metadata = False
        silence = self.pipeline.silence(CONNECT_SILENCE_MS)
        await ws.send(silence.pcm)
        self.outbox.restart(silence.frames)
        self.assembler.horizon = silence.frames
        self._last_send = time.monotonic()
        reader = asyncio.create_task(self._reader(ws))
        sender = asyncio.create_task(self._sender(ws))
        ticker = asyncio.create_task(self._ticker(ws))
        try:
            tasks = {reader, sender, ticker}
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if ticker in done and isinstance(ticker.exception(), _Lost):
                raise ticker.exception()  # type: ignore[misc]
            if sender in done and sender.exception() is None:
                await self._closing(ws, reader, ticker)
                return
            raise _Lost(_close_failure(ws))
        finally:
            self.connected = False
            for task in (reader, sender, ticker):
                task.cancel()
            await asyncio.gather(reader, sender, ticker, return_exceptions=True)

    async def _sender(self, ws: ClientConnection) -> None:
        """Outbox -> websocket; returns once input has ended and everything is sent.

        After a reconnect, everything (the replayed utterances, then what was captured
        during the outage) goes out no faster than ``replay_speed`` x real time, the
        most Deepgram accepts, until the backlog is gone and live audio paces itself.
        """
        paced = self.connections > 1 and self.options.replay_speed > 0
        started, audio_s = time.monotonic(), 0.0
        while True:
            item = self.outbox.peek()
            if item is None:
                if self._input_done.is_set():
                    return
                self._produced.clear()
                await self._produced.wait()
                continue
            if isinstance(item, SendAudio):
                if paced:
                    due = started + audio_s / self.options.replay_speed
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    audio_s += item.frames / self.rate
                await ws.send(item.pcm)
                self.assembler.horizon = self.outbox.mark_sent()
            else:
                await ws.send(proto.finalize_message(item.channel))
                boundary = self.outbox.mark_sent()
                self._note_finalize(item, boundary)
            self._last_send = time.monotonic()
            self._drained.set()
            if self.recorder is not None:
                self.recorder.sent(item)

    def _note_finalize(self, item: SendFinalize, boundary: int) -> None:
        sp = item.speech
        info = UtteranceInfo(
            item.index,
            sp.onset / self.rate,
            sp.last_speech / self.rate,
            sp.trigger,
            item.last_speech_at,
            item.seq,
        )
        self._last_end = info
        self.assembler.finalize_sent(boundary, info, time.monotonic())

    async def _reader(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                self._last_received = time.monotonic()
                if self.recorder is not None:
                    self.recorder.received(raw)
                self._dispatch(proto.parse_server_message(raw))

    async def _ticker(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            if not self._check_stall(now):
                self._commit(self.assembler.tick(now))
            self._report_overflows()
            if now - self._last_send >= self.options.keepalive_s:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(proto.keepalive_message())
                self._last_send = now

    def _report_overflows(self) -> None:
        """Capture overflows (counted by the source, warned on stderr) also go to JSONL."""
        src = self.source
        count = int(getattr(src, "overflows_portaudio", 0)) + int(
            getattr(src, "overflows_queue", 0)
        )
        if count > self._reported_overflows:
            self._reported_overflows = count
            self.sink.status(
                {
                    "event": "overflow",
                    "portaudio": int(getattr(src, "overflows_portaudio", 0)),
                    "queue": int(getattr(src, "overflows_queue", 0)),
                }
            )

    def _check_stall(self, now: float) -> bool:
        """True while a Finalize waits on a server that has gone silent.

        Committing by timeout then would print nothing for words the server never got
        to. After a long silence the connection is presumed dead (``_Lost``) and its
        utterances are replayed on a new one. Only once per utterance: a server that
        stays silent about the same utterance again had nothing to say (outcome 3),
        and the normal timeout applies.
        """
        oldest = self.assembler.oldest_pending()
        if oldest is None:
            return False
        sent_at, seq = oldest
        silent_for = now - max(self._last_received, sent_at)
        if seq in self._stalled or silent_for < self.options.ack_timeout:
            return False
        if silent_for >= max(2 * self.options.ack_timeout, STALL_MIN_S):
            self._stalled.add(seq)
            raise _Lost(retry.Failure("retry", "The server stopped answering."))
        return True

    async def _closing(
        self, ws: ClientConnection, reader: asyncio.Task[None], ticker: asyncio.Task[None]
    ) -> None:
        """Everything is sent: close the stream and read until the server closes.

        The ticker keeps watching: a server that stalls now is abandoned and the
        session reconnects to replay what it had not confirmed (``_Lost``).
        """
        with contextlib.suppress(ConnectionClosed):
            await ws.send(proto.close_stream_message())
        sent_at = time.monotonic()
        while not reader.done():
            # Bounded by silence, not by total time: a server still working through a
            # backlog (results keep coming) is waited for; a silent one is not.
            quiet_since = max(self._last_received, sent_at)
            left = self.options.close_timeout - (time.monotonic() - quiet_since)
            if left <= 0 and self._check_stall(time.monotonic()):
                left = TICK_S  # a silent server: the stall check will replay, not give up
            if left <= 0:
                self.status.message(
                    "warning: the server did not close the stream in time; "
                    "printing the words it confirmed so far."
                )
                break
            done, _ = await asyncio.wait(
                {reader, ticker}, timeout=left, return_when=FIRST_COMPLETED
            )
            if ticker in done and isinstance(ticker.exception(), _Lost):
                raise ticker.exception()  # type: ignore[misc]
        oldest = self.assembler.oldest_pending()
        if reader.done() and not self._got_metadata and oldest and oldest[1] not in self._stalled:
            # A server that ends the stream properly sends Metadata first; this one closed
            # with Finalizes unanswered, so replay them once on a new connection.
            self._stalled.add(oldest[1])
            raise _Lost(retry.Failure("retry", "The server closed without confirming."))
        self._commit(self.assembler.tick(float("inf")) + self.assembler.flush(self._last_end))

    # -- results ------------------------------------------------------------------------------

    def _dispatch(self, event: proto.ServerEvent) -> None:
        if isinstance(event, proto.FinalResult):
            self._show(self.assembler.on_final(event, time.monotonic()))
        elif isinstance(event, proto.InterimResult):
            self._show(self.assembler.on_interim(event, time.monotonic()))
        elif isinstance(event, proto.Metadata):
            self._got_metadata = True
        elif isinstance(event, proto.ProtocolViolation):
            self._violations += 1
            if self._violations <= 5:
                self.status.message(f"warning: ignored a bad server message: {event.reason}")
        elif isinstance(event, proto.ServerError):
            self.status.message(f"warning: the server reported: {event.description}")

    def _show(self, events: list[AssemblerEvent]) -> None:
        for ev in events:
            if isinstance(ev, Partial):
                self.status.interim(ev.channel, ev.text)
        self._commit([ev for ev in events if isinstance(ev, Committed)])

    def _commit(self, items: list[Committed]) -> None:
        for item in items:
            if item.info.seq:
                self.outbox.committed(item.info.seq)
            if item.outcome in ("timeout", "flush") and item.info.seq:
                self.unconfirmed += 1
            if not item.text:
                continue
            at = item.info.last_speech_at
            latency = (time.monotonic() - at) * 1000 if at else None
            self.sink.write(item, latency)
            self.printed += 1
            self.status.committed(item.info.channel, latency)
        if items and self._stale is not None and not self.outbox.uncommitted():
            self._stale = None  # everything it held has been replayed and printed


def _close_failure(ws: ClientConnection) -> retry.Failure:
    code, reason = ws.close_code, ws.close_reason or ""
    failure = retry.classify_close(code, reason)
    if failure.kind == "normal":  # a clean close we did not ask for: reconnect
        return retry.Failure("retry", "The server closed the stream unexpectedly.")
    return failure


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def install_signal_handlers(
    session: Session, before_exit: Callable[[], None] | None = None
) -> list[signal.Signals]:
    """First Ctrl-C/SIGTERM stops cleanly; a second one exits at once (after ``before_exit``,
    e.g. restoring the terminal). Returns the signals it took over."""
    loop = asyncio.get_running_loop()

    def handler() -> None:
        if session.stop_requested.is_set():
            if before_exit is not None:
                before_exit()
            sys.stdout.flush()
            os._exit(130)
        session.status.message("stopping: finalizing what was said (Ctrl-C again to quit now)")
        session.request_stop()

    taken = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)
            taken.append(sig)
    return taken


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
