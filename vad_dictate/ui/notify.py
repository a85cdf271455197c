"""Desktop notifications over the freedesktop Notifications D-Bus API (with jeepney).

Each notice replaces the one shown before (``replaces_id``), so the desktop shows one
bubble that is updated rather than a stack. Notices are sent in order by one task; a
missing session bus or notification service turns notifications off with one warning,
and the session goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from vad_dictate.ui.notices import EventKind, Notice, NoticePolicy

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
APP_NAME = "vad-dictate"
ICON = "audio-input-microphone"
CALL_TIMEOUT_S = 2.0
QUEUE_MAX = 16  # notices waiting for the bus; more means the service hangs: drop


def notify_message(notice: Notice, replaces_id: int) -> Any:
    """The ``Notify`` method call for ``notice``."""
    from jeepney import DBusAddress, new_method_call

    address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=BUS_NAME)
    hints = {"urgency": ("y", notice.urgency), "category": ("s", "device")}
    text: tuple[object, ...] = (notice.summary, notice.body)
    args = (APP_NAME, replaces_id, ICON, *text, [], hints, -1)
    return new_method_call(address, "Notify", "susssasa{sv}i", args)


def info_message() -> Any:
    """``GetServerInformation``: is a notification service there at all?"""
    from jeepney import DBusAddress, new_method_call

    address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=BUS_NAME)
    return new_method_call(address, "GetServerInformation")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "DBUS_SESSION_BUS_ADDRESS is not set"
    if isinstance(exc, TimeoutError):
        return "it did not answer"
    return str(exc) or type(exc).__name__


class Notifier:
    """Shows notices on the session bus, rate-limited by a :class:`NoticePolicy`."""

    def __init__(self, warn: Callable[[str], None], min_gap: float = 3.0) -> None:
        self.policy = NoticePolicy(min_gap)
        self._warn = warn
        self._opener: Any = None
        self._router: Any = None
        self._queue: asyncio.Queue[Notice | None] = asyncio.Queue(QUEUE_MAX)
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_id = 0
        self._off = False

    async def start(self) -> bool:
        """Connect to the session bus; False (after one warning) if there is none."""
        try:
            from jeepney.io.asyncio import open_dbus_router
            from jeepney.wrappers import DBusErrorResponse, unwrap_msg
        except ImportError:
            return self._give_up("jeepney is not installed (pip install jeepney)")
        try:
            self._opener = open_dbus_router("SESSION")
            self._router = await asyncio.wait_for(self._opener.__aenter__(), CALL_TIMEOUT_S)
            reply = await asyncio.wait_for(
                self._router.send_and_get_reply(info_message()), CALL_TIMEOUT_S
            )
            unwrap_msg(reply)
        except (OSError, KeyError, ValueError, TimeoutError, RuntimeError) as exc:
            await self.close()
            return self._give_up(f"no session bus ({_describe(exc)})")
        except DBusErrorResponse as exc:
            await self.close()
            return self._give_up(f"no notification service on the session bus ({exc})")
        self._worker = asyncio.create_task(self._run())
        return True

    def event(self, kind: EventKind, detail: str = "") -> None:
        """Something happened that the user should see; shown now, later or not at all."""
        if self._off:
            return
        loop = asyncio.get_running_loop()
        self._post(self.policy.event(kind, detail, loop.time()))

    async def close(self) -> None:
        """Send what is queued (briefly), then disconnect."""
        if self._timer is not None:
            self._timer.cancel()
        if self._worker is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._worker), CALL_TIMEOUT_S)
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._router is not None:
            with contextlib.suppress(Exception):
                await self._opener.__aexit__(None, None, None)
            self._router = None

    def _post(self, notices: list[Notice]) -> None:
        for notice in notices:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(notice)
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = self.policy.due()
        if due is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(due, self._on_due)

    def _on_due(self) -> None:
        self._timer = None
        self._post(self.policy.tick(asyncio.get_running_loop().time()))

    async def _run(self) -> None:
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        while (notice := await self._queue.get()) is not None:
            try:
                reply = await asyncio.wait_for(
                    self._router.send_and_get_reply(notify_message(notice, self._last_id)),
                    CALL_TIMEOUT_S,
                )
                (self._last_id,) = unwrap_msg(reply)
            except (DBusErrorResponse, OSError, TimeoutError, ValueError) as exc:
                self._give_up(f"the notification service did not answer ({exc})")
                return

    def _give_up(self, why: str) -> bool:
        self._off = True
        self._warn(f"notifications: {why}; desktop notifications are off (ui.notify).")
        return False
