"""A source's blocks across its openings: a device that fails is opened again when told to."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable

from vad_dictate.audio.block import AudioBlock, AudioSource
from vad_dictate.errors import AudioDeviceError


async def reopening(
    source: AudioSource, failed: Callable[[AudioDeviceError], Awaitable[bool]]
) -> AsyncGenerator[AudioBlock, None]:
    """Every block of ``source``; after each AudioDeviceError, ``await failed(error)`` says
    whether to open it again (and may wait first). Each opening is closed before the next."""
    while True:
        blocks = aiter(source.blocks())
        try:
            async for block in blocks:
                yield block
            return
        except AudioDeviceError as exc:
            failure = exc
        finally:
            if isinstance(blocks, AsyncGenerator):
                with contextlib.suppress(Exception):
                    await blocks.aclose()
        if not await failed(failure):
            return
        source.reset()
