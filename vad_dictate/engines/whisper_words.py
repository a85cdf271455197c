"""Whisper's words as the server reports them: faster-whisper's word pieces joined into words,
their plain and punctuated forms, and the sign of a decoding loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vad_dictate.engines.base import RecognizedWord

_EDGE_PUNCTUATION = "\"“”‘’'.,;:!?()[]{}…-–—«»¿¡"  # noqa: RUF001 (typographic quotes are meant)
LOOP = 3  # a phrase said this many times in a row is taken for a decoding loop
# Words whose starts follow each other this closely, three or more in a row at the end of a
# decode, are not speech: tiny.en crams invented text ("...we'll see you in the next video")
# into the last 100 ms of an utterance's trailing silence. Nobody says three words that fast.
SQUEEZED_S = 0.1
SQUEEZED_RUN = 3


def plain_word(text: str) -> str:
    """A word as Deepgram prints it without punctuate: lower case, no edge punctuation."""
    return text.strip().strip(_EDGE_PUNCTUATION).lower()


def words_from_segments(segments: Any, offset: float) -> list[RecognizedWord]:
    """Join faster-whisper's word pieces into words shifted by ``offset`` seconds.

    A piece without a leading space continues the previous word ("old" + "-sposed").
    Pieces that are only punctuation stay attached to their word and never stand alone.
    """
    merged: list[list[Any]] = []  # [text, start, end, probability]
    for segment in segments:
        for w in segment.words or ():
            if merged and not w.word.startswith(" "):
                last = merged[-1]
                last[0] += w.word
                last[2] = w.end
                last[3] = min(last[3], w.probability)
            else:
                merged.append([w.word, w.start, w.end, w.probability])
    words: list[RecognizedWord] = []
    for text, start, end, prob in merged:
        plain = plain_word(text)
        if not plain:
            continue
        words.append(
            RecognizedWord(
                text=plain,
                start=round(offset + float(start), 3),
                end=round(offset + float(max(end, start)), 3),
                confidence=round(float(prob), 4),
                punctuated=text.strip(),
            )
        )
    return words


def looped(words: Sequence[str]) -> bool:
    """True when a phrase of 1-4 words comes ``LOOP`` times in a row (a decoding loop). The
    parts of a hyphenated word count as words: tiny.en also loops inside one ("f-d-d-d-d")."""
    words = [part for word in words for part in word.split("-") if part]
    for n in range(1, 5):
        for i in range(len(words) - LOOP * n + 1):
            phrase = words[i : i + n]
            if all(words[i + k * n : i + (k + 1) * n] == phrase for k in range(1, LOOP)):
                return True
    return False


def drop_squeezed_tail(words: list[RecognizedWord]) -> list[RecognizedWord]:
    """``words`` without a trailing run of SQUEEZED_RUN or more words that start within
    SQUEEZED_S of each other (an invented ending, see SQUEEZED_S)."""
    first = len(words) - 1  # the first word of the trailing run
    while first > 0 and words[first].start - words[first - 1].start < SQUEEZED_S:
        first -= 1
    return words[:first] if len(words) - first >= SQUEEZED_RUN else words
