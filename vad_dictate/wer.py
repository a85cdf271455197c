"""Word error rate: word-level Levenshtein distance over normalised text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_APOSTROPHES = "'\u2019"  # ASCII and typographic


def normalize(text: str) -> list[str]:
    """Lowercase, split on anything but letters, digits and in-word apostrophes."""
    cleaned = "".join(
        "'" if ch in _APOSTROPHES else ch if ch.isalnum() else " " for ch in text.lower()
    )
    # An apostrophe at a word's edge is a quotation mark, not part of the word.
    return [token for token in (raw.strip("'") for raw in cleaned.split()) if token]


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Return the fewest word substitutions, insertions and deletions turning one into the other."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            substitution = previous[j - 1] + (ref_word != hyp_word)
            current.append(min(substitution, previous[j] + 1, current[j - 1] + 1))
        previous = current
    return previous[-1]


def matches(reference: Sequence[str], hypothesis: Sequence[str]) -> list[tuple[int, int]]:
    """Return (reference index, hypothesis index) of words a minimal-edit alignment keeps."""
    rows = [list(range(len(hypothesis) + 1))]
    for i, ref_word in enumerate(reference, start=1):
        row = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            substitution = rows[i - 1][j - 1] + (ref_word != hyp_word)
            row.append(min(substitution, rows[i - 1][j] + 1, row[j - 1] + 1))
        rows.append(row)
    # Walk back from the corner, preferring the diagonal so equal words pair up.
    pairs: list[tuple[int, int]] = []
    i, j = len(reference), len(hypothesis)
    while i > 0 and j > 0:
        same = reference[i - 1] == hypothesis[j - 1]
        if rows[i][j] == rows[i - 1][j - 1] + (not same):
            if same:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif rows[i][j] == rows[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def word_error_rate(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """Return edits divided by reference length; ValueError if the reference is empty."""
    if not reference:
        raise ValueError("word error rate is undefined for an empty reference")
    return edit_distance(reference, hypothesis) / len(reference)


def corpus_wer(pairs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> float:
    """Return total edits over total reference words of (reference, hypothesis) pairs."""
    edits = 0
    words = 0
    for reference, hypothesis in pairs:
        edits += edit_distance(reference, hypothesis)
        words += len(reference)
    if words == 0:
        raise ValueError("word error rate is undefined for an empty reference")
    return edits / words
