"""The paced file source: blocks in order at the pipeline rate, pacing, and yielding to
other tasks, on a real recording and generated files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.audio.test_files import CLIP, PCM, fmt_body, tone, wav_file
from vad_dictate.audio.block import AudioBlock
from vad_dictate.audio.files import FileSource, read_wav
from vad_dictate.audio.resample import resample
from vad_dictate.errors import InputFileError


def collect(source: FileSource) -> list[AudioBlock]:
    async def run() -> list[AudioBlock]:
        return [b async for b in source.blocks()]

    return asyncio.run(run())


def test_file_source_blocks_cover_the_recording_in_order() -> None:
    src = FileSource(CLIP, speed=0)
    blocks = collect(src)
    audio = read_wav(CLIP).samples
    assert (src.sample_rate, src.channels, src.duration_s) == (16000, 1, len(audio) / 16000)
    assert [b.start for b in blocks] == list(range(0, len(audio), 320))
    assert [len(b.samples) for b in blocks] == [320] * (len(audio) // 320) + [len(audio) % 320]
    assert np.array_equal(np.concatenate([b.samples for b in blocks]), audio)
    times = [b.captured_at for b in blocks]
    assert times == sorted(times)


def test_file_source_resamples_and_keeps_channels(tmp_path: Path) -> None:
    x = np.stack([tone(300, 44100, 0.5), tone(500, 44100, 0.5)], axis=1)
    p = wav_file(tmp_path / "s.wav", fmt_body(PCM, 2, 44100, 16), x.tobytes())
    src = FileSource(p, speed=0, block_ms=10)
    blocks = collect(src)
    expected = resample(x, 44100, 16000)
    assert src.channels == 2 and src.duration_s == len(expected) / 16000 == 0.5
    assert all(b.samples.shape == (160, 2) for b in blocks)
    assert np.array_equal(np.concatenate([b.samples for b in blocks]), expected)


def test_speed_zero_lets_other_tasks_run_between_blocks() -> None:
    order: list[str] = []

    async def run() -> None:
        async def other() -> None:
            while True:
                order.append("other")
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        async for _ in FileSource(CLIP, speed=0).blocks():
            order.append("block")
        task.cancel()

    asyncio.run(run())
    blocks = [i for i, what in enumerate(order) if what == "block"]
    assert all(order[i + 1] == "other" for i in blocks[:-1])


def test_speed_ten_is_paced() -> None:
    src = FileSource(CLIP, speed=10)

    async def run() -> tuple[float, list[AudioBlock]]:
        t0 = time.monotonic()
        blocks = [b async for b in src.blocks()]
        return t0, blocks

    t0, blocks = asyncio.run(run())
    for b in blocks[::25] + blocks[-1:]:
        due = (b.start + len(b.samples)) / 16000 / 10
        assert b.captured_at - t0 >= due * 0.9  # lower bound only: machines may be slow
    assert src.duration_s is not None
    assert blocks[-1].captured_at - t0 >= src.duration_s / 10 * 0.9


def test_file_source_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="speed must be 0"):
        FileSource(CLIP, speed=-1)
    with pytest.raises(InputFileError, match="the file does not exist"):
        FileSource(tmp_path / "missing.wav")


def test_empty_file_yields_no_blocks(tmp_path: Path) -> None:
    p = wav_file(tmp_path / "e.wav", fmt_body(PCM, 1, 8000, 16), b"")
    src = FileSource(p, speed=1)
    assert src.duration_s == 0 and collect(src) == []


# -- holding: paced blocks handed out in batches ---------------------------------------------

SPEED = 20  # the 3 s clip in 150 ms


def released(
    source: FileSource,
    seen: Callable[[int], None] = lambda n: None,
    release_after: float | None = None,
) -> tuple[list[list[AudioBlock]], list[float], list[float]]:
    """The blocks grouped by release (a group: blocks taken one after another with no turn of
    the event loop in between), the time each arrived, and the times of the ``release()``
    call made ``release_after`` seconds after the start. ``seen(n)`` runs after n blocks."""

    async def run() -> tuple[list[list[AudioBlock]], list[float], list[float]]:
        loop = asyncio.get_running_loop()
        turns, last = [0], 0
        loop.call_soon(turns.__setitem__, 0, 1)
        calls: list[float] = []

        def release() -> None:
            calls.append(time.monotonic())
            source.release()

        if release_after is not None:
            loop.call_later(release_after, release)
        groups: list[list[AudioBlock]] = []
        arrivals: list[float] = []
        async for block in source.blocks():
            arrivals.append(time.monotonic())
            if turns[0] != last:  # the loop ran since the previous block: a new release
                last = turns[0]
                loop.call_soon(turns.__setitem__, 0, last + 1)
                groups.append([])
            groups[-1].append(block)
            seen(len(arrivals))
        return groups, arrivals, calls

    return asyncio.run(run())


def ends(blocks: list[AudioBlock]) -> list[int]:
    return [b.start + len(b.samples) for b in blocks]


@pytest.mark.parametrize("hold", [0, 320, 1600, 1000])
def test_paced_blocks_go_out_in_batches_of_at_least_hold_frames(hold: int) -> None:
    reference = collect(FileSource(CLIP, speed=0))
    src = FileSource(CLIP, speed=SPEED)
    src.hold = hold
    began = time.monotonic()
    groups, arrivals, _ = released(src)
    blocks = [b for group in groups for b in group]
    assert [b.start for b in blocks] == [b.start for b in reference]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(blocks, reference, strict=True))
    # Each release but the last brings whole blocks holding at least ``hold`` frames (more
    # when the loop woke late: every block due by then goes too), so there are at most
    # a fifth as many releases as blocks for a hold of 5 blocks.
    per = max(1, -(-hold // 320))
    assert all(len(group) >= per for group in groups[:-1])
    assert len(groups) <= -(-len(blocks) // per)
    # captured_at is when the block's last frame was due, however long it was held.
    due = [(end - ends(blocks)[0]) / 16000 / SPEED for end in ends(blocks)]
    assert [b.captured_at - blocks[0].captured_at for b in blocks] == pytest.approx(due, abs=1e-9)
    assert blocks[0].captured_at >= began + 320 / 16000 / SPEED
    assert all(b.captured_at <= t for b, t in zip(blocks, arrivals, strict=True))


def test_release_sends_what_is_due_at_once_and_the_rest_keeps_its_pace(tmp_path: Path) -> None:
    p = wav_file(tmp_path / "t.wav", fmt_body(PCM, 1, 16000, 16), tone(440, 16000, 0.6).tobytes())
    src = FileSource(p, speed=1)
    src.hold = 10**9  # more than the file: without release() one batch at its end
    groups, arrivals, calls = released(src, release_after=0.2)
    assert [len(g) for g in groups] == [len(groups[0]), 30 - len(groups[0])]
    first, rest = groups
    assert first and rest and [b.start for b in first + rest] == list(range(0, 9600, 320))
    assert first[-1].captured_at <= arrivals[0]  # what went out was due
    assert calls[0] < rest[0].captured_at  # what was not due at release() kept its pace


def test_hold_dropped_to_zero_mid_batch(tmp_path: Path) -> None:
    p = wav_file(tmp_path / "t.wav", fmt_body(PCM, 1, 16000, 16), tone(440, 16000, 0.4).tobytes())
    src = FileSource(p, speed=1)
    src.hold = 1600

    def seen(n: int) -> None:
        if n == 2:
            src.hold = 0

    groups, _, _ = released(src, seen)
    assert [b.start for g in groups for b in g] == list(range(0, 6400, 320))
    assert len(groups[0]) >= 5  # the rest of the batch, already due, still came at once
    assert any(len(g) < 5 for g in groups[1:-1])  # later blocks one by one as they fall due
