"""The words tests compare (our normalisation in front of jiwer), and jiwer used as a corpus
total and an alignment."""

from __future__ import annotations

import pytest

from tests.words import corpus_wer, edit_distance, matches, normalize, word_error_rate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("Mr. Dashwood's  ill-disposed son", ["mr", "dashwood's", "ill", "disposed", "son"]),
        ("'Tis the sailors' song", ["tis", "the", "sailors", "song"]),
        ("don\u2019t STOP", ["don't", "stop"]),
        ("  ...  ", []),
        ("", []),
        ("room 101; 3.5", ["room", "101", "3", "5"]),
        ("\u00c9t\u00e9 na\u00efve", ["\u00e9t\u00e9", "na\u00efve"]),
    ],
)
def test_normalize(text: str, expected: list[str]) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("reference", "hypothesis", "edits"),
    [
        ("a b c", "a b c", 0),
        ("a b c", "a x c", 1),  # substitution
        ("a b c", "a c", 1),  # deletion
        ("a b c", "a b c d", 1),  # insertion
        ("a b c", "", 3),
        ("", "a b", 2),
        ("a b c d", "b c d a", 2),
        ("he was not an ill disposed young man", "he was not an illness those young man", 2),
    ],
)
def test_edit_distance(reference: str, hypothesis: str, edits: int) -> None:
    assert edit_distance(reference.split(), hypothesis.split()) == edits


def test_word_error_rate_exact_values() -> None:
    assert word_error_rate(["a", "b", "c", "d"], ["a", "b", "c", "d"]) == 0.0
    assert word_error_rate(["a", "b", "c", "d"], ["a", "x", "c"]) == 0.5
    assert word_error_rate(["a"], ["b", "c", "d"]) == 3.0  # insertions can exceed 1
    assert word_error_rate(["a", "b", "c"], []) == 1.0


def test_word_error_rate_rejects_empty_reference() -> None:
    with pytest.raises(ValueError, match="empty reference"):
        word_error_rate([], ["a"])


def test_corpus_wer_weights_by_reference_length() -> None:
    pairs = [(["a", "b", "c", "d"], ["a", "b", "c", "d"]), (["x"], ["y"])]
    # Mean of per-pair rates would be 0.5; the corpus rate is 1 edit over 5 words.
    assert corpus_wer(pairs) == 0.2
    assert corpus_wer([(["a", "b"], ["b"]), (["c", "d"], ["c", "d", "e"])]) == 0.5
    with pytest.raises(ValueError, match="empty reference"):
        corpus_wer([])


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("a b c", "a b c", [(0, 0), (1, 1), (2, 2)]),
        ("a b c", "a x c", [(0, 0), (2, 2)]),
        ("a b c", "x a b c", [(0, 1), (1, 2), (2, 3)]),
        ("a b c", "b", [(1, 0)]),
        ("a b", "", []),
        (
            "he was not an ill disposed young man",
            "he was not an illness those young man",
            [(0, 0), (1, 1), (2, 2), (3, 3), (6, 6), (7, 7)],
        ),
    ],
)
def test_matches(reference: str, hypothesis: str, expected: list[tuple[int, int]]) -> None:
    assert matches(reference.split(), hypothesis.split()) == expected
