"""Microphone capture through PortAudio (sounddevice), handed to asyncio without blocking.

This is the only module that imports ``sounddevice``, and only inside functions, so
importing it (and using file input) works on machines without PortAudio.

Threading: the PortAudio callback only copies the buffer (PortAudio reuses it), notes
the time and the overflow flag, and appends them to a deque it shares with the loop thread
(appending and popping are atomic: no lock, no wait). Once it has appended ``hold`` frames
(counted at the pipeline rate) since it last woke the loop, it schedules one ``_flush`` on
the event loop with ``call_soon_threadsafe`` for the whole batch, so one wake-up of the
loop takes several blocks (a late loop takes whatever is there by then, so the next wake may
carry fewer; never more wakes than batches); ``release()``, ``stop()``, the stream's end and
a failure flush what is held at once. ``_flush`` hands each callback's frames, in order,
to ``_deliver``. Everything else (resampling, counting, queueing) runs on the loop thread.
The queue is bounded: when the consumer falls behind, the newest block is dropped and
counted, never waited for. The consumer takes up to ``hold`` frames of queued blocks per turn of the
loop, so other tasks still run between batches when it is behind.

Sample indices: ``AudioBlock.start`` counts captured frames at the pipeline rate,
including frames that were dropped, so a dropped block leaves a gap of exactly its
length. A consumer that wants honest capture time can fill the gap with silence.
Dropped blocks are not resampled (dropping must shed work): the resampler restarts
after a gap, whose first block then begins at the gap's end on the pipeline clock
(exact for whole blocks at the usual rates) and the gap also swallows the old
resampler's latency tail (what soxr still held: up to a few tens of milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from vad_dictate.audio.block import AudioBlock, Int16Array
from vad_dictate.audio.resample import StreamResampler, output_length
from vad_dictate.errors import AudioDeviceError

STALL_TIMEOUT_S = 3.0  # no audio for this long means the device went away
REPORT_EVERY_S = 1.0  # overflow reports are rate-limited so a struggling machine is not spammed
_LIST_HINT = "list them with: vad-dictate devices"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One PortAudio device that can record."""

    index: int
    name: str
    max_input_channels: int
    default_samplerate: float
    is_default: bool


def _sounddevice() -> Any:
    """Import sounddevice, turning a missing PortAudio into one clear sentence."""
    try:
        import sounddevice
    except OSError as exc:
        raise AudioDeviceError(
            "PortAudio is not installed; install it with: sudo apt-get install libportaudio2"
        ) from exc
    except ImportError as exc:
        raise AudioDeviceError(
            "The Python package sounddevice is not installed; install it with: "
            "pip install sounddevice"
        ) from exc
    return sounddevice


def _default_input(sd: Any) -> int:
    try:
        return int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, ValueError):
        return -1


def list_input_devices() -> list[DeviceInfo]:
    """Every device with at least one input channel, in PortAudio's order."""
    sd = _sounddevice()
    default = _default_input(sd)
    return [
        DeviceInfo(
            int(d["index"]),
            str(d["name"]),
            int(d["max_input_channels"]),
            float(d["default_samplerate"]),
            int(d["index"]) == default,
        )
        for d in sd.query_devices()
        if d["max_input_channels"] > 0
    ]


def find_input_device(device: int | str | None) -> DeviceInfo:
    """The device for an index, a case-insensitive name fragment, or None (the default)."""
    inputs = list_input_devices()
    if not inputs:
        raise AudioDeviceError(
            "No audio input device was found; connect a microphone (check with: arecord -l) "
            "or transcribe a file with --input FILE.wav"
        )
    if device is None:
        return next((d for d in inputs if d.is_default), inputs[0])
    if isinstance(device, int):
        for d in inputs:
            if d.index == device:
                return d
        raise AudioDeviceError(f"There is no audio input device number {device}; {_LIST_HINT}")
    wanted = device.casefold()
    exact = [d for d in inputs if d.name.casefold() == wanted]
    matches = exact or [d for d in inputs if wanted in d.name.casefold()]
    if not matches:
        raise AudioDeviceError(f"No audio input device matches '{device}'; {_LIST_HINT}")
    if len(matches) > 1:
        names = ", ".join(f"{d.index} '{d.name}'" for d in matches)
        raise AudioDeviceError(
            f"'{device}' matches several audio input devices ({names}); "
            "give more of the name or the device number"
        )
    return matches[0]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _open_failure(info: DeviceInfo, rate: int, channels: int, reason: object) -> AudioDeviceError:
    return AudioDeviceError(
        f"Cannot open audio input device '{info.name}' at {rate} Hz with "
        f"{_plural(channels, 'channel')} ({reason}); close other programs using it "
        "or choose another device with --device"
    )


def _choose_rate(sd: Any, info: DeviceInfo, channels: int, rates: list[int]) -> int:
    """The first rate the device accepts, trying them in order."""
    reason: object = "no rate to try"
    for r in dict.fromkeys(rates):
        try:
            sd.check_input_settings(
                device=info.index, channels=channels, dtype="int16", samplerate=r
            )
            return r
        except (sd.PortAudioError, ValueError) as exc:
            reason = exc
    raise _open_failure(info, rates[-1], channels, reason)


def _print_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


_Held = tuple[Int16Array, float, bool]  # one callback: its frames, capture time, overflow flag


class MicSource:
    """Blocks from a microphone at ``rate`` (resampled if the device cannot record at it)."""

    live = True  # audio that is not taken now is lost

    def __init__(
        self,
        device: int | str | None = None,
        *,
        channels: int = 1,
        rate: int = 16000,
        block_ms: int = 20,
        queue_blocks: int = 200,
        device_rate: int | None = None,
        on_overflow: Callable[[str], None] | None = _print_stderr,
    ) -> None:
        if channels < 1 or rate <= 0 or block_ms <= 0 or queue_blocks < 1:
            raise ValueError("channels, rate, block_ms and queue_blocks must be positive")
        sd = _sounddevice()
        self.device = find_input_device(device)
        if channels > self.device.max_input_channels:
            raise AudioDeviceError(
                f"Audio input device '{self.device.name}' has only "
                f"{_plural(self.device.max_input_channels, 'input channel')}, but {channels} "
                f"were asked for; use --channels {self.device.max_input_channels} or less"
            )
        # Record at the pipeline rate when the device allows it; else at its own rate.
        rates = [device_rate] if device_rate else [rate, round(self.device.default_samplerate)]
        self.device_rate = _choose_rate(sd, self.device, channels, rates)
        self.sample_rate = rate
        self.channels = channels
        self.block_ms = block_ms
        self.queue_blocks = queue_blocks
        self.on_overflow = on_overflow
        self.overflows_portaudio = 0  # callbacks whose status flagged input overflow
        self.overflows_queue = 0  # blocks dropped because the consumer fell behind
        self.hold = 0  # frames (pipeline rate) to gather before the loop is woken; see AudioSource
        self._block_frames = max(1, rate * block_ms // 1000)  # one block at the pipeline rate
        self._held: deque[_Held] = deque()  # callbacks captured, not yet handed to the loop
        self._unflushed = 0  # callback thread only: device frames appended since it woke the loop
        self._batch = 0  # queued blocks the consumer may still take before other tasks run
        self._device_frames = 0  # frames captured at the device rate, dropped ones included
        self._next_start = 0  # pipeline-rate index of the next frame the resampler emits
        self._stopping = False
        self._failure: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[AudioBlock | None] | None = None
        self._resampler: StreamResampler | None = None
        self._reported = (0, 0)
        self._reported_at = -REPORT_EVERY_S

    def stop(self) -> None:
        """End ``blocks()`` after the blocks already captured; safe from any thread; final."""
        self._stopping = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._queue is not None and not self._queue.full():
            self._queue.put_nowait(None)  # if full, the consumer is busy and will see the flag

    def _hold_reached(self) -> bool:
        """Callback thread: enough frames were appended since the loop was last woken."""
        hold = self.hold  # set by the loop thread at any time; read once
        return (
            hold <= self._block_frames
            or self._unflushed * self.sample_rate >= hold * self.device_rate
        )

    def _flush(self) -> int:
        """Loop thread: deliver every held callback, in order; return how many there were."""
        count = 0
        while self._held:
            data, at, overflow = self._held.popleft()
            self._deliver(data, at, overflow)
            count += 1
        return count

    def _deliver(self, data: Int16Array, at: float, overflow: bool) -> None:
        """Loop thread: number, resample and queue one callback's frames (drop if full)."""
        if overflow:
            self.overflows_portaudio += 1
        first = self._device_frames
        self._device_frames += len(data)
        if self._queue is None:
            return
        if self._queue.full():
            self.overflows_queue += 1
            self._resampler = None  # restart after the gap
            return
        samples = self._to_pipeline_rate(data, first)
        if len(samples):
            self._queue.put_nowait(AudioBlock(samples, self._next_start, at))
            self._next_start += len(samples)

    def _to_pipeline_rate(self, data: Int16Array, first: int) -> Int16Array:
        """Frames at the pipeline rate; sets ``_next_start`` where a (re)started stream begins."""
        if self.device_rate == self.sample_rate:
            self._next_start = first
            return data
        if self._resampler is None:
            self._resampler = StreamResampler(self.device_rate, self.sample_rate, self.channels)
            self._next_start = output_length(first, self.device_rate, self.sample_rate)
        return self._resampler.process(data)

    def _finished(self) -> None:
        """Loop thread: the PortAudio stream ended; unexpected unless we are stopping."""
        self._flush()  # what it captured last goes out before the end
        if not self._stopping:
            self._failure = "the stream stopped unexpectedly (was the device unplugged?)"
            self._wake()

    def _report(self, force: bool = False) -> None:
        counts = (self.overflows_portaudio, self.overflows_queue)
        now = time.monotonic()
        if counts == self._reported or (not force and now - self._reported_at < REPORT_EVERY_S):
            return
        self._reported, self._reported_at = counts, now
        if self.on_overflow is not None:
            self.on_overflow(
                f"audio: some input was lost ({_plural(counts[0], 'PortAudio overflow')}, "
                f"{_plural(counts[1], 'block')} dropped because processing fell behind)"
            )

    def _open(self, sd: Any) -> Any:
        loop = self._loop
        assert loop is not None

        def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            if loop.is_closed():  # nobody is listening any more
                raise sd.CallbackAbort
            held = (indata.copy(), time.monotonic(), bool(status.input_overflow))
            self._held.append(held)
            self._unflushed += len(held[0])
            if not self._hold_reached():
                return
            self._unflushed = 0
            try:
                loop.call_soon_threadsafe(self._flush)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                raise sd.CallbackAbort from None

        def finished() -> None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(self._finished)

        try:
            stream = sd.InputStream(
                device=self.device.index,
                channels=self.channels,
                samplerate=self.device_rate,
                dtype="int16",
                blocksize=max(1, self.device_rate * self.block_ms // 1000),
                callback=callback,
                finished_callback=finished,
            )
            stream.start()
        except sd.PortAudioError as exc:
            raise _open_failure(self.device, self.device_rate, self.channels, exc) from exc
        return stream

    async def _next(self, queue: asyncio.Queue[AudioBlock | None]) -> AudioBlock | None:
        """The next block, None once stopped and drained; raises if the device failed."""
        while True:
            if self._stopping or self._failure is not None:
                self._flush()  # held audio goes out before the end
            if self._failure is not None and queue.empty():
                raise AudioDeviceError(
                    f"Audio input from '{self.device.name}' failed: {self._failure}; "
                    "check the microphone and start again"
                )
            if self._stopping and queue.empty():
                return None
            if self._batch > 0 and not queue.empty():  # the rest of a batch: no turn
                self._batch -= 1
                item = queue.get_nowait()
            else:
                try:  # a turn of the loop: other tasks run at least once per batch
                    item = await asyncio.wait_for(queue.get(), STALL_TIMEOUT_S)
                except TimeoutError:
                    if not self._flush():  # audio held below ``hold`` is no stall
                        self._failure = f"no audio arrived for {STALL_TIMEOUT_S:g} s"
                    continue
                per_batch = -(-self.hold // self._block_frames)  # blocks ``hold`` covers
                self._batch = min(queue.qsize(), per_batch - 1)
            if item is not None:
                return item

    def reset(self) -> None:
        """Allow ``blocks()`` to open the device again after a failure."""
        self._stopping = False
        self._failure = None

    def release(self) -> None:
        """Hand what the callback holds to the queue now (event loop thread)."""
        self._flush()

    async def blocks(self) -> AsyncIterator[AudioBlock]:
        """Open the device and yield blocks until ``stop()``; raise AudioDeviceError on failure."""
        sd = _sounddevice()
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[AudioBlock | None] = asyncio.Queue(self.queue_blocks)
        self._queue = queue
        self._held.clear()  # what an earlier opening held when it was closed is gone
        self._unflushed = 0
        self._batch = 0
        stream = self._open(sd)
        try:
            while (block := await self._next(queue)) is not None:
                self._report()
                if self._stopping:
                    stream.abort(ignore_errors=True)  # no new audio; drain what was captured
                yield block
        finally:
            self._stopping = True
            stream.abort(ignore_errors=True)
            stream.close(ignore_errors=True)
            self._report(force=True)
