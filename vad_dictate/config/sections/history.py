"""[history] The file that keeps every utterance and command."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section, between

HELP = (
    "Every committed utterance and command is appended as a JSON line to a private (0600) "
    "history file, written before it is printed or typed, so nothing said is lost when typing "
    "goes to the wrong window. Read it with: vad-dictate history [-n N] [--json]"
)
FIELDS = (
    Field("history", "enabled", True, "Keep the history (false: no file is written)."),
    Field(
        "history",
        "file",
        "",
        'The history file ("" = history.jsonl in the per-user state directory).',
    ),
    Field(
        "history",
        "max_kb",
        4096,
        "Past this size (KiB) the file is rotated to history.jsonl.1 (one old file is kept).",
        between(16, 1048576, " KiB"),
    ),
)
SECTION = Section("history", HELP, FIELDS)
