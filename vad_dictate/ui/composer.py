"""The composer: committed utterances in, edits of the user's document out.

Pure: no I/O, no clock. Every text target (typing, clipboard, ``--append``, JSONL) is
driven by the same edits, so they all end up holding the same document.

Rules, in the order they apply to one utterance:

1. Commands. An utterance that is nothing but a command phrase (compared lower-cased
   with punctuation stripped, so Deepgram's "New line." matches and "type a new line"
   does not) runs the command and is never inserted as words. ``new_line`` inserts one
   line break, ``new_paragraph`` two, ``insert`` its fixed text, ``undo`` erases exactly
   what the latest still-present entry inserted (repeated, it goes further back, never
   past the start of the session).
2. Replacements: each configured phrase, matched case-insensitively on word boundaries,
   becomes its text.
3. Joining: one space before the text, except at the start of the document, after a
   line break, or before text that begins with closing punctuation. The first letter
   is upper-cased at the start, after a line break and after ``.``, ``?`` or ``!``;
   elsewhere the server's casing is kept.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ActionName = Literal["new_line", "new_paragraph", "undo", "insert"]
ACTIONS: tuple[ActionName, ...] = ("new_line", "new_paragraph", "undo", "insert")
DEFAULT_COMMANDS: dict[str, str] = {
    "new line": "new_line",
    "new paragraph": "new_paragraph",
    "scratch that": "undo",
    "undo that": "undo",
    "delete that": "undo",
}
MAX_UNDO = 1000  # entries that can still be taken back: bounds memory in a long session
_SENTENCE_END = ".?!"
_NO_SPACE_BEFORE = ("Po", "Pe", "Pf")  # closing punctuation: "," ")" "»"
_OPENERS = "\"'([{¿¡"


@dataclass(frozen=True, slots=True)
class Command:
    """What a spoken phrase does; ``text`` is what an ``insert`` command inserts."""

    action: ActionName
    text: str = ""


@dataclass(frozen=True, slots=True)
class Edit:
    """One change at the cursor: delete ``erase``, which sits just before it (one backspace
    per character), then type ``insert`` (it may hold line breaks). Either may be empty."""

    erase: str = ""
    insert: str = ""


@dataclass(frozen=True, slots=True)
class Composed:
    """The outcome of one utterance or undo request.

    ``seq`` numbers entries from 1 in the session (0 for an undo with nothing left);
    ``command`` is the command name (e.g. ``new_line``, ``undo``, a user phrase's action)
    or "" for dictated text; ``text`` is what was inserted; ``retracted`` is the ``seq``
    an undo took back.
    """

    seq: int
    command: str
    phrase: str
    text: str
    edit: Edit | None  # None: nothing changes (an undo with nothing left)
    retracted: int | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    inserted: str
    before: str  # the document's last character before this entry ("" at the start)


def normalise(text: str) -> str:
    """Lower-case, punctuation removed, single spaces: how command phrases are compared."""
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text.lower())
    return " ".join(kept.split())


def parse_command(phrase: str, action: object) -> Command:
    """A ``[commands]`` entry: an action name, or ``{insert = "text"}``; ValueError if bad."""
    if isinstance(action, str) and action in ("new_line", "new_paragraph", "undo"):
        return Command(action)  # type: ignore[arg-type]
    if isinstance(action, dict) and set(action) == {"insert"} and isinstance(action["insert"], str):
        return Command("insert", action["insert"])
    raise ValueError(
        f"command '{phrase}' has the unknown action {action!r}; use \"new_line\", "
        '"new_paragraph", "undo" or { insert = "text" }'
    )


class Composer:
    """Turns committed utterances into document edits, keeping what can be undone."""

    def __init__(
        self,
        commands: Mapping[str, Command] | None = None,
        replacements: Mapping[str, str] | None = None,
    ) -> None:
        table = commands if commands is not None else _defaults()
        self._commands = {normalise(p): (p, c) for p, c in table.items() if normalise(p)}
        self._replacements = [
            (re.compile(_phrase_pattern(k), re.IGNORECASE), v)
            for k, v in (replacements or {}).items()
        ]
        self._entries: deque[_Entry] = deque(maxlen=MAX_UNDO)
        self._last = ""  # the document's last character
        self._seq = 0

    def utterance(self, text: str) -> Composed | None:
        """Compose one committed utterance; None when it adds nothing (empty text)."""
        found = self._commands.get(normalise(text))
        if found is not None:
            phrase, command = found
            if command.action == "undo":
                return self.undo(phrase)
            if command.action == "insert":
                return self._insert(
                    self._join(command.text) if command.text else "", phrase, phrase
                )
            breaks = "\n" if command.action == "new_line" else "\n\n"
            return self._insert(breaks, command.action, phrase)
        if not text.strip() and "\n" in text:  # a server that turned "new line" into a break
            count = min(text.count("\n"), 2)
            return self._insert("\n" * count, ("new_line", "new_paragraph")[count - 1], "")
        for pattern, value in self._replacements:
            text = pattern.sub(value.replace("\\", "\\\\"), text)  # literal, not a template
        text = text.strip()
        if not text:
            return None
        return self._insert(self._join(text), "", "")

    def undo(self, phrase: str = "") -> Composed:
        """Erase the latest entry still in the document (nothing when none is left)."""
        if not self._entries:
            return Composed(0, "undo", phrase, "", None)
        entry = self._entries.pop()
        self._last = entry.before
        return Composed(0, "undo", phrase, "", Edit(erase=entry.inserted), retracted=entry.seq)

    def _insert(self, text: str, command: str, phrase: str) -> Composed | None:
        if not text:
            return None
        self._seq += 1
        self._entries.append(_Entry(self._seq, text, self._last))
        self._last = text[-1]
        return Composed(self._seq, command, phrase, text, Edit(insert=text))

    def _join(self, text: str) -> str:
        last = self._last
        if last in ("", "\n") or last in _SENTENCE_END:
            text = _capitalise(text)
        if last in ("", "\n") or last.isspace():
            return text
        if unicodedata.category(text[0]) in _NO_SPACE_BEFORE and text[0] not in _OPENERS:
            return text
        return " " + text


def apply_edit(document: str, edit: Edit) -> str:
    """The document after ``edit`` (what a text box shows once it is typed); text to erase
    that is no longer at the end stays."""
    if edit.erase and document.endswith(edit.erase):
        document = document[: len(document) - len(edit.erase)]
    return document + edit.insert


def _capitalise(text: str) -> str:
    for i, c in enumerate(text):
        if c.isalpha():
            return text[:i] + c.upper() + text[i + 1 :]
        if c not in _OPENERS and c not in string.whitespace:
            return text
    return text


def _phrase_pattern(phrase: str) -> str:
    words = [re.escape(w) for w in phrase.split()]
    return r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"


def _defaults() -> dict[str, Command]:
    return {p: parse_command(p, a) for p, a in DEFAULT_COMMANDS.items()}
