"""How two pieces of a sentence the server finalized apart are joined (pure)."""

from __future__ import annotations

from vad_dictate.vad.turn import sounds_finished

_UPPER_KEEPS = frozenset(("I", "I'm", "I've", "I'll", "I'd"))


def join_text(held: str, text: str) -> str:
    """``held`` continued by ``text``. Where ``held`` cannot end a sentence (it ends on "the",
    "from", a comma, ...: :func:`~vad_dictate.vad.turn.sounds_finished`; the server finalized it
    at a thinking pause), they are one sentence: the full stop the server put after its last
    word is dropped and the capital it gave the next word is lowered (not "I", "I'm", ... nor
    a word in capitals)."""
    held, text = " ".join(held.split()), " ".join(text.split())
    if not held or not text:
        return held or text
    if sounds_finished(held) is not False:
        return held + " " + text
    held = held[:-1] if held.endswith(".") else held
    first, _, rest = text.partition(" ")
    bare = first.rstrip(".,;:?!\"')")
    if bare not in _UPPER_KEEPS and not bare.isupper():
        first = first[:1].lower() + first[1:]
    return held + " " + " ".join(w for w in (first, rest) if w)
