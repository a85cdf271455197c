"""Short start and stop cues through the default output device (``ui.sounds``).

A cue is two soft tones, rising when listening starts and falling when it stops, so
a shortcut pressed without looking at the screen is answered by ear. Cues play on a
worker thread; a device that cannot play turns the cues off with one warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable

import numpy as np

CUE_TONES = {"start": (660.0, 880.0), "stop": (880.0, 660.0)}  # Hz, in order
TONE_S = 0.07
RAMP_S = 0.01  # fade in and out: no click
LEVEL = 0.25  # of full scale: a cue, not an alarm


def cue(kind: str, rate: int) -> np.ndarray[tuple[int], np.dtype[np.float32]]:
    """The samples of cue ``kind`` (start or stop) at ``rate`` Hz, mono float32."""
    n = int(TONE_S * rate)
    ramp = min(int(RAMP_S * rate), n // 2)
    envelope = np.ones(n)
    envelope[:ramp] = np.linspace(0.0, 1.0, ramp)
    envelope[n - ramp :] = np.linspace(1.0, 0.0, ramp)
    t = np.arange(n) / rate
    parts = [LEVEL * envelope * np.sin(2 * np.pi * hz * t) for hz in CUE_TONES[kind]]
    return np.concatenate(parts).astype(np.float32)


class CuePlayer:
    """Plays cues in order on a worker thread, never blocking the caller."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._loop, self._warn_on_loop = asyncio.get_running_loop(), warn
        self._queue: queue.Queue[str | None] = queue.Queue(4)
        self._off = False
        self._thread = threading.Thread(target=self._work, name="vad-dictate-cues", daemon=True)
        self._thread.start()

    def play(self, kind: str) -> None:
        """Queue cue ``kind``; dropped when cues are already queued or sound is off."""
        if not self._off and kind in CUE_TONES:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(kind)

    def close(self, timeout: float = 1.0) -> None:
        """Let a queued cue finish (a stop cue at exit), at most ``timeout`` seconds."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (kind := self._queue.get()) is not None:
            try:
                self._play(kind)
            except Exception as exc:  # PortAudio reports failures as many types
                self._off = True
                self._warn(f"sounds: cannot play cues ({exc}); ui.sounds is off for this session.")
                return

    def _warn(self, text: str) -> None:
        with contextlib.suppress(RuntimeError):  # the session ended meanwhile
            self._loop.call_soon_threadsafe(self._warn_on_loop, text)

    @staticmethod
    def _play(kind: str) -> None:
        import sounddevice as sd

        rate = int(sd.query_devices(kind="output")["default_samplerate"])
        with sd.OutputStream(samplerate=rate, channels=1, dtype="float32") as stream:
            stream.write(cue(kind, rate))
