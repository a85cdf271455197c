"""The dictation session: audio source -> pipeline -> websocket -> assembler -> sink.

This is the asyncio shell around the pure cores. One event loop owns the
pipeline and the assembler; three tasks share it: the pump (audio in, messages
out), the reader (server messages in, utterances out) and the ticker
(acknowledgement timeouts and KeepAlive).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from vad_dictate import protocol as proto
from vad_dictate.assembler import Assembler, AssemblerEvent, Committed, Partial, UtteranceInfo
from vad_dictate.audio import AudioBlock
from vad_dictate.endpointer import EndpointerSettings
from vad_dictate.errors import AuthError, RequestRejected, TransportError
from vad_dictate.pipeline import Outgoing, Pipeline, PipelineSettings, SendAudio, SendFinalize
from vad_dictate.sinks import StatusView, UtteranceSink

TICK_S = 0.05


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


class Session:
    """One dictation session over one websocket connection."""

    def __init__(
        self,
        source: AudioSource,
        options: SessionOptions,
        sink: UtteranceSink,
        status: StatusView,
    ) -> None:
        self.source, self.options = source, options
        self.sink, self.status = sink, status
        rate, channels = source.sample_rate, source.channels
        self.pipeline = Pipeline(options.endpointer, options.pipeline, channels, rate)
        self.assembler = Assembler(channels, rate, options.ack_timeout)
        self.stop_requested = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._last_send = 0.0
        self._closed = asyncio.Event()
        self._violations = 0
        self._last_end: UtteranceInfo | None = None

    async def run(self) -> int:
        """Dictate until the source ends or a stop is requested; return the exit code."""
        ws = await self._connect()
        self._ws = ws
        reader = asyncio.create_task(self._reader(ws))
        ticker = asyncio.create_task(self._ticker())
        try:
            await self._send_all(self.pipeline.connected())
            await self._pump()
            await self._finish(ws, reader)
        except ConnectionClosed as exc:
            self._commit(self.assembler.flush(self._last_end))
            failure = proto.classify_close(exc.rcvd.code if exc.rcvd else None, _reason(exc))
            raise TransportError(
                f"{failure.message} What was said so far has been printed.",
                retryable=failure.retryable,
            ) from exc
        finally:
            ticker.cancel()
            reader.cancel()
            await asyncio.gather(ticker, reader, return_exceptions=True)
            await ws.close()
        return 0

    # -- connection ---------------------------------------------------------------------------

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
            failure = proto.classify_handshake(status, exc.response.headers.get("dg-error"))
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

    async def _send_all(self, items: list[Outgoing]) -> None:
        ws = self._ws
        assert ws is not None
        for item in items:
            if isinstance(item, SendAudio):
                await ws.send(item.pcm)
            elif isinstance(item, SendFinalize):
                await ws.send(proto.finalize_message(item.channel))
                self._note_finalize(item)
            self._last_send = time.monotonic()

    def _note_finalize(self, item: SendFinalize) -> None:
        rate = self.source.sample_rate
        sp = item.speech
        info = UtteranceInfo(
            item.index, sp.onset / rate, sp.last_speech / rate, sp.trigger, item.last_speech_at
        )
        self._last_end = info
        self.assembler.finalize_sent(item.boundary, info, time.monotonic())

    # -- tasks --------------------------------------------------------------------------------

    async def _pump(self) -> None:
        stop = asyncio.create_task(self.stop_requested.wait())
        blocks = aiter(self.source.blocks())
        try:
            while not self._closed.is_set():
                nxt = asyncio.ensure_future(anext(blocks))
                done, _ = await asyncio.wait({nxt, stop}, return_when=asyncio.FIRST_COMPLETED)
                if nxt not in done:
                    nxt.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await nxt
                    break
                try:
                    block = nxt.result()
                except StopAsyncIteration:
                    break
                await self._send_all(self.pipeline.push(block.samples, block.captured_at))
        finally:
            stop.cancel()
            aclose = getattr(blocks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _reader(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._dispatch(proto.parse_server_message(raw))
        finally:
            self._closed.set()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            self._commit(self.assembler.tick(now))
            if now - self._last_send >= self.options.keepalive_s and self._ws is not None:
                with contextlib.suppress(ConnectionClosed):
                    await self._ws.send(proto.keepalive_message())
                self._last_send = now

    # -- events -------------------------------------------------------------------------------

    def _dispatch(self, event: proto.ServerEvent) -> None:
        if isinstance(event, proto.FinalResult):
            self._show(self.assembler.on_final(event))
        elif isinstance(event, proto.InterimResult):
            self._show(self.assembler.on_interim(event))
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
            at = item.info.last_speech_at
            latency = (time.monotonic() - at) * 1000 if at else None
            self.sink.write(item, latency)

    async def _finish(self, ws: ClientConnection, reader: asyncio.Task[None]) -> None:
        """Finalize what is pending, close the stream and read until the server closes."""
        await self._send_all(self.pipeline.force_end("end", time.monotonic()))
        await self._send_all(self.pipeline.drain())
        with contextlib.suppress(ConnectionClosed):
            await ws.send(proto.close_stream_message())
        try:
            await asyncio.wait_for(asyncio.shield(reader), self.options.close_timeout)
        except TimeoutError:
            self.status.message(
                "warning: the server did not close the stream in time; "
                "printing the words it confirmed so far."
            )
        except ConnectionClosed:
            pass
        self._commit(self.assembler.tick(float("inf")) + self.assembler.flush(self._last_end))


def _reason(exc: ConnectionClosed) -> str:
    return exc.rcvd.reason if exc.rcvd else ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def install_signal_handlers(session: Session) -> None:
    """First Ctrl-C/SIGTERM stops cleanly; a second one exits at once."""
    loop = asyncio.get_running_loop()

    def handler() -> None:
        if session.stop_requested.is_set():
            sys.stdout.flush()
            os._exit(130)
        session.status.message("stopping: finalizing what was said (Ctrl-C again to quit now)")
        session.stop_requested.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)


async def run_dictation(
    source: AudioSource, options: SessionOptions, sink: UtteranceSink, status: StatusView
) -> int:
    """Run one session with signal handling; failures raise VadDictateError."""
    session = Session(source, options, sink, status)
    install_signal_handlers(session)
    return await session.run()
