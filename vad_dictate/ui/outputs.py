"""Building the outputs of a dictation session from the settings: composer, history, targets."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from vad_dictate.config import Settings
from vad_dictate.ui.composer import DEFAULT_COMMANDS, Command, Composer, parse_command
from vad_dictate.ui.history import History, default_path
from vad_dictate.ui.sinks import AppendTarget, TextTarget, UtteranceSink


def make_composer(s: Settings) -> Composer:
    """The default spoken commands plus ``[commands]``, and the ``[replacements]``."""
    table = {**DEFAULT_COMMANDS, **(s.tables or {}).get("commands", {})}
    commands: dict[str, Command] = {p: parse_command(p, a) for p, a in table.items()}
    replacements = {str(k): str(v) for k, v in (s.tables or {}).get("replacements", {}).items()}
    return Composer(commands, replacements)


def make_history(s: Settings, warn: Callable[[str], None]) -> History | None:
    """The history file (None when ``history.enabled`` is false)."""
    if not s.flag("history.enabled"):
        return None
    path = Path(s.text("history.file")).expanduser() if s.text("history.file") else default_path()
    return History(path, s.integer("history.max_kb") * 1024, warn)


def make_sink(
    s: Settings,
    channels: int,
    warn: Callable[[str], None],
    notify: Callable[[str], None],
    before_write: Callable[[], None],
) -> UtteranceSink:
    """stdout plus the extra targets (--append, type, clipboard), the composer and history.

    ``warn`` reports on the event loop's thread; ``notify`` is safe from the typing threads.
    """
    from vad_dictate.ui.typist import Typist

    history = make_history(s, warn)
    kept = "printed on stdout" + (" and kept in 'vad-dictate history'" if history else "")
    targets: list[TextTarget] = []
    if s.text("output.append"):
        targets.append(AppendTarget(s.text("output.append")))
    for mode in s.strings("output.targets"):
        targets.append(Typist(mode, s.integer("output.type_delay_ms"), notify, kept=kept))
    return UtteranceSink(
        s.text("output.format"),
        channels,
        targets=targets,
        before_write=before_write,
        composer=make_composer(s),
        history=history,
        session_id=uuid.uuid4().hex[:12],
    )
