"""The session on the desktop: state changes to bar subscribers, notifications and sounds.

:class:`DesktopView` wraps the session's :class:`StatusView`. The session's core says
when its state changes (``StateChanged``, presented as ``state``), and the view then
reads it and pushes it to ``status --follow`` subscribers, without polling; a printed
utterance or a status line is also a moment to look. A captured block is not: it comes
50 times a second, and the core has already said whatever it changed. Changes that a
person without a terminal must not miss become desktop notifications; pausing and
resuming can play a short cue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vad_dictate.errors import VadDictateError
from vad_dictate.ui.feed import FeedRecord
from vad_dictate.ui.notices import EventKind
from vad_dictate.ui.notify import Notifier
from vad_dictate.ui.sinks import StatusView

if TYPE_CHECKING:
    from vad_dictate.ui.sounds import CuePlayer

CONNECTED = ("listening", "speech", "finalizing")
SUBSCRIBERS_MAX = 32
SUBSCRIBER_QUEUE = 64  # records a subscriber may lag behind before it is dropped
FINISH_WAIT_S = 1.0


def wants_notifications(enabled: bool, environ: Mapping[str, str] = os.environ) -> bool:
    """``ui.notify``, on a desktop: a session bus or a display says there is one.

    Elsewhere (ssh, CI, a container) there is nobody to notify and no warning is due.
    """
    desktop = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")
    return enabled and any(environ.get(var) for var in desktop)


@dataclass(frozen=True, slots=True)
class DesktopOptions:
    """What the desktop side of a session does."""

    engine: str = "deepgram"  # or "offline"
    notify: bool = False
    sounds: bool = False
    notify_gap_s: float = 3.0  # at most one notification this often, besides the user's own


class DesktopView(StatusView):
    """A StatusView that forwards to ``inner`` and reports state changes to the desktop."""

    def __init__(self, inner: StatusView, options: DesktopOptions) -> None:
        super().__init__(quiet=True)
        self.inner, self.options = inner, options
        self._probe: Callable[[], str] = lambda: "connecting"
        self._state = "connecting"
        self._final: FeedRecord | None = None
        self._subscribers: set[asyncio.Queue[FeedRecord | None]] = set()
        self.notifier: Notifier | None = None
        self.cues: CuePlayer | None = None

    def bind(self, probe: Callable[[], str]) -> None:
        """Read the session's state with ``probe`` from now on."""
        self._probe = probe
        self._state = probe()

    async def start(self) -> None:
        """Connect to the session bus and the sound device, as configured."""
        if self.options.notify:
            notifier = Notifier(self.inner.message, self.options.notify_gap_s)
            if await notifier.start():
                self.notifier = notifier
        if self.options.sounds:
            from vad_dictate.ui.sounds import CuePlayer

            self.cues = CuePlayer(self.inner.message)

    async def finish(self, error: BaseException | None) -> None:
        """The session is over: tell subscribers and the desktop why, then let go."""
        if isinstance(error, VadDictateError):
            self._final = self.record("error", str(error))
            if self.notifier is not None:
                reason = str(error).rstrip(".")
                self.notifier.event("gave_up", f"{reason} (exit code {error.exit_code})")
        else:
            self._final = self.record("stopped")
        for queue in list(self._subscribers):
            self._offer(queue, self._final)
            self._offer(queue, None)
        for _ in range(int(FINISH_WAIT_S / 0.01)):  # until each subscriber has its last line
            if not self._subscribers:
                break
            await asyncio.sleep(0.01)
        if self.notifier is not None:
            await self.notifier.close()
        if self.cues is not None:
            if self._state != "paused":
                self.cues.play("stop")
            await asyncio.to_thread(self.cues.close)

    # -- subscribers ----------------------------------------------------------------------------

    def record(self, state: str | None = None, detail: str = "") -> FeedRecord:
        """The feed record of the current (or the given) state."""
        return FeedRecord(state or self._state, self.options.engine, detail, os.getpid())

    def subscribe(self) -> asyncio.Queue[FeedRecord | None] | None:
        """A queue that gets the current record, then one per change; None if too many."""
        if len(self._subscribers) >= SUBSCRIBERS_MAX:
            return None
        queue: asyncio.Queue[FeedRecord | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        queue.put_nowait(self._final or self.record())
        if self._final is not None:
            queue.put_nowait(None)
        else:
            self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[FeedRecord | None]) -> None:
        """Stop sending to ``queue``."""
        self._subscribers.discard(queue)

    def _offer(self, queue: asyncio.Queue[FeedRecord | None], item: FeedRecord | None) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:  # a subscriber that stopped reading: cut it off
            self._subscribers.discard(queue)
            with contextlib.suppress(asyncio.QueueEmpty, asyncio.QueueFull):
                queue.get_nowait()
                queue.put_nowait(None)

    # -- events -------------------------------------------------------------------------------

    def event(self, kind: EventKind, detail: str = "") -> None:
        """Something the user should hear about (paused by shortcut, typing failed, ...)."""
        if self.notifier is not None:
            self.notifier.event(kind, detail)

    def _check(self) -> None:
        state = self._probe()
        if state == self._state:
            return
        before, self._state = self._state, state
        self.inner.state(state)
        record = self.record()
        for queue in list(self._subscribers):
            self._offer(queue, record)
        if before in CONNECTED and state == "reconnecting":
            self.event("connection_lost")
        elif before == "reconnecting" and state in (*CONNECTED, "paused"):
            self.event("connection_back")
        if state == "paused":
            self._play("stop")
        elif before in ("paused", "connecting") and state in CONNECTED:
            self._play("start")

    def _play(self, cue: str) -> None:
        if self.cues is not None:
            self.cues.play(cue)

    # -- the StatusView interface, forwarded ----------------------------------------------------

    @property
    def live(self) -> bool:
        """Forwarded."""
        return self.inner.live

    def message(self, text: str) -> None:
        """Forwarded."""
        self.inner.message(text)

    def alert(self, kind: str, text: str) -> None:
        """Forwarded, and a desktop notification for the microphone's coming and going."""
        self.inner.alert(kind, text)
        if kind == "mic_lost":
            self.event("mic_lost", text.removeprefix("vad-dictate: "))
        elif kind == "mic_back":
            self.event("mic_back")

    def info(self, text: str) -> None:
        """Forwarded."""
        self.inner.info(text)
        self._check()

    def interim(self, channel: int, text: str) -> None:
        """Forwarded."""
        self.inner.interim(channel, text)
        self._check()

    def state(self, name: str) -> None:
        """The session says its state changed: check it (the view hears of it from here)."""
        self._check()

    def level(self, samples: object, speech: bool) -> None:
        """Forwarded (a state change comes as ``state``: see the module doc)."""
        self.inner.level(samples, speech)

    def committed(self, channel: int, latency_ms: float | None) -> None:
        """Forwarded."""
        self.inner.committed(channel, latency_ms)
        self._check()

    def clear(self) -> None:
        """Forwarded."""
        self.inner.clear()

    def close(self) -> None:
        """Forwarded."""
        self.inner.close()
