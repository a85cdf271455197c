"""One microphone session per user: a lock file in the runtime directory.

Two sessions on one microphone would both listen and type every word twice, and
only one of them would get the control socket. The lock is an ``flock`` on a file
holding the owner's pid: the kernel drops it when the process dies, however it
dies, so a crash never leaves a stale lock behind. File transcriptions (``--input``)
take no lock and run alongside.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from vad_dictate.errors import AlreadyRunning

LOCK_NAME = "vad-dictate.lock"


class InstanceLock:
    """Held for the life of a microphone session."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise AlreadyRunning naming the pid that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"vad-dictate is already listening to the microphone (pid {holder}); drive it "
                "with 'vad-dictate toggle' or end it with 'vad-dictate stop' first."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go (the file stays: removing it could race a new owner)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None
