"""[output] Where each utterance goes besides stdout."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section, between, each_of, one_of

HELP = ""
FIELDS = (
    Field(
        "output",
        "format",
        "text",
        '"text": one line per utterance; "jsonl": one JSON object per utterance '
        "(set with --output too).",
        one_of("text", "jsonl"),
    ),
    Field(
        "output",
        "targets",
        [],
        'Also send each utterance to: "type" (typed into the focused window with wtype, ydotool, '
        'dotool or xdotool) and/or "clipboard" (pasted with Ctrl+V through the clipboard, whose '
        "previous text is put back unless you copied something else meanwhile). stdout always "
        "gets every utterance too (set with --output too).",
        each_of("type", "clipboard"),
    ),
    Field(
        "output",
        "type_delay_ms",
        150,
        "Wait this long (ms) before typing or pasting, so the keys of a hotkey are released first.",
        between(0, 10000, " ms"),
    ),
    Field(
        "output",
        "append",
        "",
        "Append the session's text to this file, as typed (joined, spoken commands applied; "
        '"" = off), flushed per utterance.',
        flag="--append",
        metavar="FILE",
    ),
)
SECTION = Section("output", HELP, FIELDS)
