"""No word dropped as a blip: every aligned word of the LibriVox clips, cut out alone, is sent.

Each word is cut from its clip with 30 ms either side (the alignment's times), put between 1 s
and 1.5 s of silence, and run through the default endpointer: in digital silence and in white,
pink and brown noise at 10 dB below the word. It must come out as exactly one utterance whose
streamed span holds the whole word. Before the word rule (endpointer module docstring), 25 of
these 71 words were shorter than min_utterance_ms of speech and were dropped.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.clips import DATA, RATE, clips, colored_noise, load, to_int16
from vad_dictate.vad.endpointer import Endpointer
from vad_dictate.vad.events import EndpointerSettings, SpeechEnd

MARGIN = RATE * 30 // 1000


def single_words() -> list[tuple[str, np.ndarray[tuple[int], np.dtype[np.int16]]]]:
    """(word, audio) for every aligned word of every clip."""
    out = []
    for stem in clips():
        audio = load(stem)
        for w in json.loads((DATA / f"{stem}.json").read_text())["w"]:
            if w["t"].startswith("<"):
                continue
            b, e = round(w["b"] * RATE), round((w["b"] + w["d"]) * RATE)
            out.append((w["t"], audio[max(0, b - MARGIN) : e + MARGIN]))
    return out


WORDS = single_words()


@pytest.mark.parametrize("noise", [None, "white", "pink", "brown"])
def test_every_single_word_is_one_utterance(noise: str | None) -> None:
    lost = []
    for i, (text, word) in enumerate(WORDS):
        lead, tail = np.zeros(RATE, np.int16), np.zeros(RATE * 3 // 2, np.int16)
        audio = np.concatenate([lead, word, tail]).astype(np.float64)
        if noise is not None:
            rms = np.sqrt(np.mean(word.astype(np.float64) ** 2))
            audio += colored_noise(noise, len(audio), seed=i) * rms / 10 ** (10 / 20)
        ep = Endpointer(EndpointerSettings())
        events = ep.process(to_int16(audio)) + ep.force_end()
        ends = [ev for ev in events if isinstance(ev, SpeechEnd)]
        first, last = RATE + MARGIN, RATE + len(word) - MARGIN
        if len(ends) != 1 or not ends[0].start <= first < last <= ends[0].end:
            lost.append(text)
    assert lost == []
    assert len(WORDS) == 71
