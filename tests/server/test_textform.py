"""The local server's dictation and numerals shaping (pure), and both end to end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.apprun import app_cmd, app_env
from tests.wavs import utterances, write_wav
from vad_dictate.engines.base import RecognizedWord
from vad_dictate.server.textform import shape, spoken_punctuation, to_digits


def words(text: str) -> list[RecognizedWord]:
    return [RecognizedWord(w, float(i), i + 0.5, 0.9) for i, w in enumerate(text.split())]


def texts(ws: list[RecognizedWord]) -> str:
    return " ".join(w.text for w in ws)


@pytest.mark.parametrize(
    ("said", "shaped"),
    [
        ("hello comma world period", "hello, world."),
        ("is it question mark", "is it?"),
        ("wow exclamation point", "wow!"),
        ("wow exclamation mark", "wow!"),
        ("end full stop", "end."),
        ("note colon a semicolon b", "note: a; b"),
        ("comma at the start", "at the start"),
        ("Comma COMMA", ""),
        ("question", "question"),
        ("a question mark mark", "a? mark"),
    ],
)
def test_spoken_punctuation(said: str, shaped: str) -> None:
    assert texts(spoken_punctuation(words(said))) == shaped


@pytest.mark.parametrize(
    ("said", "shaped"),
    [
        ("twenty one", "21"),
        ("one two three", "1 2 3"),
        ("I have twenty dogs", "I have 20 dogs"),
        ("nineteen eighty four", "19 84"),
        ("one hundred twenty three", "123"),
        ("two thousand five hundred", "2500"),
        ("hundred", "100"),
        ("one hundred thousand", "100000"),
        ("zero", "0"),
        ("twenty twenty", "20 20"),
        ("the one", "the 1"),
        ("forty two and Seven", "42 and 7"),
    ],
)
def test_number_words(said: str, shaped: str) -> None:
    assert texts(to_digits(words(said))) == shaped


def test_a_number_spans_the_times_of_its_words() -> None:
    (n,) = to_digits(words("twenty one"))
    assert (n.text, n.start, n.end, n.confidence) == ("21", 0.0, 1.5, 0.9)


def test_shape_does_only_what_is_asked() -> None:
    said = words("twenty one comma")
    assert texts(shape(said, dictation=False, numerals=False)) == "twenty one comma"
    assert texts(shape(said, dictation=True, numerals=False)) == "twenty one,"
    assert texts(shape(said, dictation=False, numerals=True)) == "21 comma"
    assert texts(shape(said, dictation=True, numerals=True)) == "21,"


@pytest.mark.parametrize(
    ("flags", "printed"),
    [
        ((), "Hotel, twenty one."),  # dictation is on by default for English
        (("--numerals",), "Hotel, 21."),
        (("--no-dictation",), "Hotel comma twenty one period."),
        (("--language", "de", "--numerals"), "Hotel comma 21 period."),  # dictation: English only
    ],
)
def test_offline_dictation_and_numerals(
    server_url: str, tmp_path: Path, flags: tuple[str, ...], printed: str
) -> None:
    said = [["hotel", "comma", "twenty", "one", "period"]]
    wav = write_wav(tmp_path / "said.wav", utterances(said, lead=0.3, tail=1.0))
    args = ("--input", str(wav), "--url", server_url, "--speed", "0", *flags)
    done = subprocess.run(
        app_cmd(*args), env=app_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed + "\n"
