"""Word error rate for tests and benchmarks, computed by jiwer.

Text is compared as lowercase words split on anything but letters, digits and in-word
apostrophes (typographic ones count as ASCII), so punctuation and quotation marks never
count as errors. Word lists go to jiwer joined by spaces with its default transform,
which only splits them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import jiwer

_NORMALIZE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.SubstituteRegexes(
            {
                "\u2019": "'",
                r"[^\w']+|_": " ",
                r"(?<!\w)'+|'+(?!\w)": " ",  # a quotation mark, not part of a word
            }
        ),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def normalize(text: str) -> list[str]:
    """The words of ``text`` as they are compared."""
    sentences: list[list[str]] = _NORMALIZE(text)
    return [w for sentence in sentences for w in sentence]


def _process(
    pairs: Iterable[tuple[Sequence[str], Sequence[str]]],
) -> jiwer.WordOutput:
    refs, hyps = zip(*pairs, strict=True) if pairs else ((), ())
    if not any(refs):
        raise ValueError("word error rate is undefined for an empty reference")
    return jiwer.process_words([" ".join(r) for r in refs], [" ".join(h) for h in hyps])


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """The fewest word substitutions, insertions and deletions turning one into the other."""
    if not reference:
        return len(hypothesis)
    out = _process([(reference, hypothesis)])
    return int(out.substitutions + out.deletions + out.insertions)


def word_error_rate(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """Edits divided by reference length; ValueError if the reference is empty."""
    return float(_process([(reference, hypothesis)]).wer)


def corpus_wer(pairs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> float:
    """Total edits over total reference words of (reference, hypothesis) pairs."""
    return float(_process(list(pairs)).wer)


def matches(reference: Sequence[str], hypothesis: Sequence[str]) -> list[tuple[int, int]]:
    """(reference index, hypothesis index) of the words a minimal-edit alignment keeps."""
    if not reference or not hypothesis:
        return []
    chunks = _process([(reference, hypothesis)]).alignments[0]
    return [
        (c.ref_start_idx + k, c.hyp_start_idx + k)
        for c in chunks
        if c.type == "equal"
        for k in range(c.ref_end_idx - c.ref_start_idx)
    ]
