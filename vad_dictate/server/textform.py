"""Text shaping the local server applies for ``dictation`` and ``numerals`` (pure).

With ``dictation``, spoken punctuation words become the mark, attached to the word before
("hotel comma india" -> "hotel, india"). With ``numerals``, a run of number words that
reads as one number up to the thousands becomes its digits ("twenty one" -> "21"); a word
that cannot continue the number starts a new one ("one two" -> "1 2"). Words keep the
times of the speech they came from, so the client's assembler still places them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from vad_dictate.engines.base import RecognizedWord

SPOKEN_MARKS: dict[tuple[str, ...], str] = {
    ("comma",): ",",
    ("period",): ".",
    ("full", "stop"): ".",
    ("question", "mark"): "?",
    ("exclamation", "mark"): "!",
    ("exclamation", "point"): "!",
    ("colon",): ":",
    ("semicolon",): ";",
}
_LONGEST_MARK = max(len(k) for k in SPOKEN_MARKS)
ONES = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
TENS = {
    w: 10 * i
    for i, w in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2
    )
}
SCALES = {"hundred": 100, "thousand": 1000}


def shape(
    words: Sequence[RecognizedWord], *, dictation: bool, numerals: bool
) -> list[RecognizedWord]:
    """The words with spoken punctuation and number words converted, as asked."""
    out = list(words)
    if numerals:
        out = to_digits(out)
    if dictation:
        out = spoken_punctuation(out)
    return out


def spoken_punctuation(words: Sequence[RecognizedWord]) -> list[RecognizedWord]:
    """Spoken marks attached to the word before; one at the very start is dropped."""
    out: list[RecognizedWord] = []
    i = 0
    while i < len(words):
        for size in range(_LONGEST_MARK, 0, -1):
            key = tuple(w.text.lower() for w in words[i : i + size])
            mark = SPOKEN_MARKS.get(key) if len(key) == size else None
            if mark is not None:
                if out:
                    last = out[-1]
                    # An engine that punctuates (Whisper) may have put its own mark there.
                    said = None if last.punctuated is None else last.punctuated.rstrip(".,;:!?")
                    out[-1] = replace(
                        last,
                        text=last.text + mark,
                        punctuated=None if said is None else said + mark,
                    )
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return out


def to_digits(words: Sequence[RecognizedWord]) -> list[RecognizedWord]:
    """Runs of number words that read as one number become one word of digits."""
    out: list[RecognizedWord] = []
    run: list[RecognizedWord] = []
    for w in [*words, None]:
        text = w.text.lower() if w is not None else ""
        if w is not None and _is_number_word(text) and (not run or _continues(run, text)):
            run.append(w)
            continue
        if run:
            out.append(_number(run))
            run = []
        if w is not None and _is_number_word(text):
            run.append(w)
        elif w is not None:
            out.append(w)
    return out


def _is_number_word(text: str) -> bool:
    return text in ONES or text in TENS or text in SCALES


def _continues(run: list[RecognizedWord], text: str) -> bool:
    last = run[-1].text.lower()
    if text in SCALES:
        return last in ONES or last in TENS or (last == "hundred" and text == "thousand")
    if last in TENS:
        return text in ONES and 0 < ONES[text] < 10
    return last in SCALES  # after a ones or teens word, a new number starts


def _number(run: list[RecognizedWord]) -> RecognizedWord:
    total = current = 0
    for w in run:
        text = w.text.lower()
        if text in ONES:
            current += ONES[text]
        elif text in TENS:
            current += TENS[text]
        elif text == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * 1000
            current = 0
    confidence = min(w.confidence for w in run)
    return RecognizedWord(str(total + current), run[0].start, run[-1].end, confidence)
