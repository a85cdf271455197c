"""The engine behind offline dictation: Whisper as configured, else PocketSphinx."""

from __future__ import annotations

from collections.abc import Callable

from vad_dictate.engines.base import Engine
from vad_dictate.errors import ConfigError


def offline_engine(
    name: str, model: str, threads: int, warn: Callable[[str], None]
) -> tuple[Engine, str]:
    """Load the engine and say which it is; a Whisper that cannot load falls back, with a warning.

    Dictation never fails for want of a model: PocketSphinx ships inside its wheel.
    """
    from vad_dictate.engines.sphinx import SphinxEngine

    if name == "whisper":
        from vad_dictate.engines.whisper import WhisperEngine

        try:
            engine = WhisperEngine(model, threads)
            return engine, engine.describe() + " engine"
        except ConfigError as exc:
            warn(f"warning: {exc} Using PocketSphinx instead, which is less accurate.")
    return SphinxEngine(), "PocketSphinx engine"
