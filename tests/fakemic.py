"""Test helper: a clocked virtual microphone (ALSA ``file`` plugin reading a FIFO).

The test writes audio into the FIFO at real-time pace (then silence), so PortAudio
opens a device called ``fifomic`` that behaves like a microphone.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

ALSA_CONF = "/usr/share/alsa/alsa.conf"
RATE = 16000


def _feed(
    fifo: Path, audio: npt.NDArray[np.int16], stop: threading.Event, speed: float, rate: int
) -> None:
    """Write ``audio`` at ``speed`` x real time, then silence, reopening when the reader returns.

    PortAudio may open and close the device while probing it before the real stream opens;
    each time the reader goes away the feed starts over on the next open.
    """
    chunk = rate // 50
    while not stop.is_set():
        out = fifo.open("wb", buffering=0)  # blocks until a reader opens the FIFO
        started, pos = time.monotonic(), 0
        try:
            while not stop.is_set():
                end = pos + chunk
                piece = audio[pos:end] if pos < len(audio) else np.zeros(chunk, np.int16)
                out.write(piece.astype("<i2").tobytes())
                pos = end
                delay = started + pos / rate / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        except BrokenPipeError:
            pass  # the reader closed: wait for the next open
        finally:
            with contextlib.suppress(BrokenPipeError):
                out.close()


@contextlib.contextmanager
def fake_mic(
    tmp: Path, audio: npt.NDArray[np.int16], speed: float = 1.0, rate: int = RATE
) -> Iterator[dict[str, str]]:
    """The environment (ALSA_CONFIG_PATH) of a ``fifomic`` device playing ``audio`` at ``rate``."""
    fifo = tmp / "mic.fifo"
    os.mkfifo(fifo)
    conf = tmp / "asoundrc"
    conf.write_text(
        f'pcm.fifomic {{ type file slave.pcm "null" file "/dev/null" infile "{fifo}" '
        'format "raw" }\n'
    )
    stop = threading.Event()
    writer = threading.Thread(target=_feed, args=(fifo, audio, stop, speed, rate), daemon=True)
    writer.start()
    try:
        yield {"ALSA_CONFIG_PATH": f"{ALSA_CONF}:{conf}", "VAD_DICTATE_AUDIO_DEVICE": "fifomic"}
    finally:
        stop.set()
        with contextlib.suppress(OSError):  # a writer still waiting for a reader
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            os.close(fd)
        writer.join(timeout=5)
