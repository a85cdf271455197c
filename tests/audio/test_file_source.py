"""The paced file source: blocks in order at the pipeline rate, pacing, and yielding to
other tasks, on a real recording and generated files."""

from __future__ import annotations

import asyncio
import time
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
