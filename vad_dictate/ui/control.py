"""Driving a running session: the control socket, signals, terminal keys, global hotkey.

The control socket lives in the user's runtime directory (``$XDG_RUNTIME_DIR``, else
a 0700 directory of this user under /tmp) and is created 0600, so only this user can
drive the session. One request per connection: a command word and a newline in, one
line of JSON out, except ``subscribe``: one JSON line now and one per state change
until either side closes (``vad-dictate status --follow``). ``vad-dictate
finalize|pause|resume|toggle|stop|status|undo`` are the client; binding them to a desktop
shortcut is the hotkey that works on every Wayland compositor. SIGUSR1 forces a
finalize too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from vad_dictate.client.session import Session
from vad_dictate.client.signals import install_signal_handlers
from vad_dictate.errors import VadDictateError
from vad_dictate.ui.desktop import DesktopView
from vad_dictate.ui.feed import FeedRecord, render
from vad_dictate.ui.keys import Action, KeyMap, TerminalKeys
from vad_dictate.ui.remote import REQUEST_TIMEOUT_S, socket_path
from vad_dictate.ui.sinks import StatusView

STATE_POLL_S = 0.1  # how often the live view re-reads the session's state


def apply_command(
    session: Session, command: str, vocabulary: Callable[[], Sequence[str]] | None = None
) -> dict[str, Any]:
    """Carry out one control command on the session; return the reply.

    ``vocabulary`` reads the keyterms (config and vocabulary file) for ``vocab``.
    """
    if command == "vocab":
        if vocabulary is None:
            return {"ok": False, "error": "this session takes no vocabulary"}
        try:
            return {"ok": True, "vocab": session.update_keyterms(vocabulary())}
        except VadDictateError as exc:
            return {"ok": False, "error": str(exc)}
    if command == "finalize":
        session.request_finalize()
    elif command in ("pause", "resume", "toggle"):
        paused = {"pause": True, "resume": False}.get(command, not session.paused)
        session.set_paused(paused)
    elif command == "stop":
        session.request_stop()
    elif command == "status":
        return {"ok": True, **session.snapshot()}
    elif command == "undo":
        retracted = session.sink.undo().retracted
        return {"ok": True, "state": session.state(), "retracted": retracted}
    else:
        return {"ok": False, "error": f"unknown command '{command}'"}
    return {"ok": True, "state": session.state()}


class ControlServer:
    """The Unix socket server of a running session."""

    def __init__(
        self,
        session: Session,
        path: Path,
        feed: DesktopView | None = None,
        vocabulary: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self.session, self.path, self.feed = session, path, feed
        self.vocabulary = vocabulary
        self._server: asyncio.Server | None = None
        self._inode = 0

    async def start(self, take_over: bool = False) -> str | None:
        """Listen; return a message if another instance already holds the socket.

        ``take_over``: the microphone session (it holds the instance lock) takes the
        socket from a file transcription that got there first.
        """
        if not take_over and self._in_use():
            return (
                f"control: another vad-dictate is already listening on '{self.path}'; "
                "commands like 'vad-dictate finalize' go to that one."
            )
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # stale socket of an instance that died
        old = os.umask(0o177)  # created 0600 from the start: no window for another user
        try:
            self._server = await asyncio.start_unix_server(self._handle, str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self._inode = self.path.stat().st_ino
        return None

    def _in_use(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(str(self.path))
            except OSError:
                return False
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT_S)
            command = line.decode("utf-8", "replace").strip().lower()
            if command == "subscribe":
                await self._stream(reader, writer)
                return
            reply = apply_command(self.session, command, self.vocabulary)
            await asyncio.wait_for(self.session.settled(), REQUEST_TIMEOUT_S)
            if "state" in reply:  # as it is once the command took effect
                reply["state"] = self.session.state()
            if self.feed is not None and command in ("pause", "resume", "toggle"):
                self.feed.event("paused" if self.session.core.paused else "resumed")
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, OSError, ValueError):
            pass  # a client that hangs or goes away gets nothing
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A subscription: the current state now, then one line per change until the end."""
        queue = self.feed.subscribe() if self.feed is not None else None
        if queue is None:
            error = "this session has no status feed" if self.feed is None else "too many"
            writer.write(json.dumps({"ok": False, "error": error}).encode() + b"\n")
            await writer.drain()
            return
        gone = asyncio.ensure_future(_until_eof(reader))
        try:
            while (record := await _first(queue.get(), gone)) is not None:
                writer.write(render(record, "json").encode() + b"\n")
                await writer.drain()
        finally:
            gone.cancel()
            assert self.feed is not None
            self.feed.unsubscribe(queue)

    async def stop(self) -> None:
        """Stop listening and remove the socket (if it is still ours)."""
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self._server = None
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """Returns when the subscriber hangs up (what it sends meanwhile is ignored)."""
    while await reader.read(4096):
        pass


async def _first(
    item: Awaitable[FeedRecord | None], gone: asyncio.Future[None]
) -> FeedRecord | None:
    """The queue's next item, or None once the peer has gone."""
    get = asyncio.ensure_future(item)
    waiters: set[asyncio.Future[Any]] = {get, gone}
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if not get.done():
        get.cancel()
        return None
    return get.result()


@dataclass(frozen=True, slots=True)
class ControlOptions:
    """Which controls a session gets."""

    keymap: KeyMap | None  # None: no terminal keys
    socket: bool = True
    hotkey: str = ""  # pynput combination, e.g. "<ctrl>+<alt>+d"
    push_to_talk: str = ""  # pynput key held to talk, e.g. "<f9>"
    microphone: bool = False  # the session holds the instance lock: the socket is its own
    vocabulary: Callable[[], Sequence[str]] | None = None  # keyterms now, for `vocab`


class Controls:
    """All the ways to drive a session, started and stopped around ``session.run()``."""

    def __init__(self, session: Session, view: StatusView, options: ControlOptions) -> None:
        self.session, self.view, self.options = session, view, options
        self.keys: TerminalKeys | None = None
        self.server: ControlServer | None = None
        self.hotkey: Any = None
        self._poller: asyncio.Task[None] | None = None
        self._signals: list[signal.Signals] = []

    async def __aenter__(self) -> Controls:
        feed = self.feed
        if feed is not None:
            feed.bind(self.session.state)
            await feed.start()
        self._install_signals()
        if self.options.socket:
            await self._start_socket()
        if self.options.keymap is not None:
            keys = TerminalKeys(self.options.keymap, self.on_action)
            if keys.start():
                self.keys = keys
        if self.options.hotkey or self.options.push_to_talk:
            self._start_hotkey()
        if feed is None:  # a DesktopView tells the view of changes itself, as they happen
            self._poller = asyncio.create_task(self._poll_state())
        return self

    @property
    def feed(self) -> DesktopView | None:
        """The desktop side of the view, when the session has one."""
        return self.view if isinstance(self.view, DesktopView) else None

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self.hotkey is not None:
            self.hotkey.stop()
        if self.keys is not None:
            self.keys.stop()
        if self.feed is not None:  # subscribers hear why before the socket goes
            await self.feed.finish(exc)
        if self.server is not None:
            await self.server.stop()
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self.view.close()

    def on_action(self, action: Action) -> None:
        """A terminal key was pressed."""
        s = self.session
        if action == "finalize":
            s.request_finalize()
        elif action == "pause":
            s.set_paused(not s.paused)
        elif action == "quit":
            self.view.info("stopping: finalizing what was said")
            s.request_stop()
        elif action == "undo":
            s.sink.undo()
        else:
            mode = s.adjust_sensitivity(1 if action == "less_sensitive" else -1)
            self.view.info(f"VAD aggressiveness {mode} (0 hears the most as speech, 3 the least)")

    async def _start_socket(self) -> None:
        try:
            server = ControlServer(self.session, socket_path(), self.feed, self.options.vocabulary)
            busy = await server.start(take_over=self.options.microphone)
        except (OSError, VadDictateError) as exc:
            self.view.message(
                f"control: no control socket ({exc}); terminal keys and signals still work."
            )
            return
        if busy is None:
            self.server = server
        elif self.view.live:
            # Only a person at a terminal needs to know; scripts running several
            # instances (a batch of files) keep their stderr for real problems.
            self.view.message(busy)

    def _start_hotkey(self) -> None:
        from vad_dictate.ui.hotkey import start_global_hotkey

        loop = asyncio.get_running_loop()

        def finalize() -> None:  # pynput's thread
            loop.call_soon_threadsafe(self.session.request_finalize)

        def talk(held: bool) -> None:
            loop.call_soon_threadsafe(self.session.set_paused, not held)

        result = start_global_hotkey(self.options.hotkey, self.options.push_to_talk, finalize, talk)
        if isinstance(result, str):
            self.view.message(result)
            return
        self.hotkey = result
        if self.options.hotkey:
            self.view.info(f"global hotkey: {self.options.hotkey} finalizes the utterance")
        if self.options.push_to_talk:
            self.view.info(f"push-to-talk: hold {self.options.push_to_talk} while you speak")
            self.session.set_paused(True)  # nothing is heard until the key is held

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        self._signals += install_signal_handlers(self.session, self._before_exit)
        handlers = {signal.SIGUSR1: self.session.request_finalize, signal.SIGTSTP: self._on_suspend}
        for sig, handler in handlers.items():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, handler)
                self._signals.append(sig)

    def _before_exit(self) -> None:
        """A second Ctrl-C exits at once: leave the terminal as it was found."""
        if self.keys is not None:
            self.keys.restore()
        self.view.close()

    def _on_suspend(self) -> None:
        """Ctrl-Z: give the shell a sane terminal, stop, and take cbreak back on resume."""
        if self.keys is not None:
            self.keys.restore()
        self.view.clear()
        os.kill(os.getpid(), signal.SIGSTOP)
        if self.keys is not None:
            self.keys.enter()

    async def _poll_state(self) -> None:
        while True:
            self.view.state(self.session.state())
            await asyncio.sleep(STATE_POLL_S)
