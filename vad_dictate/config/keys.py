"""Every configuration key, declared once, in one module per [section] under sections/.

To add a key, add one ``Field`` to its section's tuple: section, key, default (its type is
the key's type: 5.0, not 5, for seconds that may be fractional), help (the comment in
config.example.toml and the ``--help`` text), a check
(``between``, ``one_of``, ...) and, if it has one, the ``vad-dictate`` flag. A new section
is a new module there, listed below. Then run
``vad-dictate config --example > config.example.toml``; tests/cli/test_config.py fails
until the example, the flags and the table agree. Read a value with
``Settings.integer("section.key")`` (or ``number``, ``text``, ``flag``, ``strings``).
"""

from __future__ import annotations

from vad_dictate.config.field import Field, Section
from vad_dictate.config.sections import (
    audio,
    controls,
    deepgram,
    engine,
    history,
    output,
    stream,
    ui,
    vad,
)

# In the order config.example.toml shows them.
SECTIONS: tuple[Section, ...] = (
    deepgram.SECTION,
    engine.SECTION,
    vad.SECTION,
    stream.SECTION,
    audio.SECTION,
    output.SECTION,
    controls.SECTION,
    history.SECTION,
    ui.SECTION,
)
FIELDS: tuple[Field, ...] = tuple(f for s in SECTIONS for f in s.fields)
