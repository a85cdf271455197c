"""The session's connections: the asyncio shell between ClientCore and the websocket.

The core decides when to connect (``Connect``, after its delay) and when the session ends
(``Finish``); :class:`Connections` carries that out, one connection at a time. Each has a
reader (websocket -> core) and a writer (core -> websocket). Each wake-up of the event loop
costs more CPU than the work most of them do, so the writer is woken only when the core has
something it may send (``poke``) or when its pacing says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from vad_dictate.client.actions import Action, Connect, Finish, Transmit
from vad_dictate.client.core import ClientCore
from vad_dictate.client.transport import Link, Recorder, open_link
from vad_dictate.errors import AuthError, RequestRejected, TransportError


class Connections:
    """Opens a connection whenever the core says ``Connect``; ``run`` returns its ``Finish``."""

    def __init__(
        self,
        core: ClientCore,
        recorder: Recorder | None,
        do: Callable[[list[Action]], object],
        sent: Callable[[], None],
    ) -> None:
        """``do`` carries out the actions the core returns; ``sent`` runs after each send."""
        self.core, self.recorder = core, recorder
        self._do, self._sent = do, sent
        self._wake = asyncio.Event()  # the core has something to send (or to pace)
        self._writer_waits = False  # the writer waits for _wake: set it when there is
        self._directed = asyncio.Event()  # the core said Connect or Finish
        self._directive: Connect | Finish | None = None
        self._crash: BaseException | None = None

    def direct(self, directive: Connect | Finish) -> None:
        """The core said ``Connect`` or ``Finish``; a Finish is never replaced."""
        if not isinstance(self._directive, Finish):
            self._directive = directive
        self._directed.set()

    def crash(self, bug: BaseException) -> None:
        """Another part of the shell failed with ``bug``: ``run`` raises it rather than hang."""
        self._crash = bug
        self._directed.set()

    def poke(self) -> None:
        """The core took an input: wake the writer if it now has something it may send."""
        if self._writer_waits and self.core.next_send(time.monotonic()) is not None:
            self._wake.set()

    async def run(self) -> Finish:
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
                await wait_until_set(self._directed, directive.delay)
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
                self._sent()
                continue
            self._wake.clear()
            self._writer_waits = True
            pace = None if message is None else max(0.0, message - now)
            try:
                await wait_until_set(self._wake, pace)
            finally:
                self._writer_waits = False

    def _ponged(self, ping: Transmit) -> None:
        self._do(self.core.pong(ping, time.monotonic()))


async def wait_until_set(event: asyncio.Event, timeout: float | None) -> None:
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
