"""config.example.toml, written from the declared keys: each key's help as its comment and
its default as its value."""

from __future__ import annotations

import json
import textwrap

from vad_dictate.config.field import Value
from vad_dictate.config.keys import SECTIONS

WIDTH = 98
HEADER = (
    "vad-dictate configuration. Copy to ~/.config/vad-dictate/config.toml (or pass --config "
    "PATH). Every key is shown with its default. Precedence: CLI flag > environment > this "
    "file > default. Any key can also be set in the environment as "
    "VAD_DICTATE_<SECTION>_<KEY>, e.g. VAD_DICTATE_VAD_SILENCE_MS=600. "
    "`vad-dictate config` shows the settings in effect and where each came from. "
    "This file is written by `vad-dictate config --example`."
)


def _tables_example() -> list[str]:
    from vad_dictate.ui.composer import DEFAULT_COMMANDS

    lines = ["", "[commands]"]
    lines += comment(
        "Spoken commands, recognised only when an utterance is nothing but the phrase (compared "
        'lower-case without punctuation). Actions: "new_line", "new_paragraph", "undo" (takes '
        "back the latest utterance still in the text; say it again to go further back), or "
        '{ insert = "text" }. Entries here are added to (or replace) these defaults.'
    )
    lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in DEFAULT_COMMANDS.items()]
    lines += ['# "sign off" = { insert = "Best regards,\\nAlice" }', "", "[replacements]"]
    lines += comment("Whole phrases (case-insensitive) replaced before output, e.g.")
    lines += ['# "vad dictate" = "vad-dictate"']
    return lines


def toml_value(value: Value) -> str:
    """``value`` as a TOML literal (JSON's strings and arrays are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def comment(text: str) -> list[str]:
    """``text`` wrapped into ``# `` comment lines."""
    return ["# " + line for line in textwrap.wrap(text, WIDTH - 2, break_on_hyphens=False)]


def render_example() -> str:
    """The text of config.example.toml."""
    lines = comment(HEADER)
    for section in SECTIONS:
        lines += ["", f"[{section.name}]"]
        if section.help:
            lines += [*comment(section.help), ""]
        for f in section.fields:
            text = f"{f.help} Flag: {f.flag}." if f.flag else f.help
            lines += [*comment(text), f"{f.key} = {toml_value(f.default)}"]
    return "\n".join(lines + _tables_example()) + "\n"
