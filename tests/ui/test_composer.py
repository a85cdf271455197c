"""The composer: joining, capitalisation, spoken commands, undo, replacements (exact, pure)."""

from __future__ import annotations

import pytest

from vad_dictate.ui.composer import (
    MAX_UNDO,
    Command,
    Composed,
    Composer,
    Edit,
    apply_edit,
    normalise,
    parse_command,
)


def run(utterances: list[str], composer: Composer | None = None) -> tuple[str, list[Composed]]:
    c = composer or Composer()
    doc, out = "", []
    for text in utterances:
        result = c.undo() if text == "<undo>" else c.utterance(text)
        if result is not None:
            out.append(result)
            doc = apply_edit(doc, result.edit) if result.edit else doc
    return doc, out


@pytest.mark.parametrize(
    ("utterances", "document"),
    [
        (["hello world", "this is a test"], "Hello world this is a test"),
        (["Hello world.", "this is a test."], "Hello world. This is a test."),
        (["Really?", "yes!", "ok"], "Really? Yes! Ok"),
        (["one", ", two", ". three"], "One, two. three"),
        (["one", ") two"], "One) two"),
        (["one", "(two)"], "One (two)"),
        (["Hello world.", "new line", "this is a test."], "Hello world.\nThis is a test."),
        (["a.", "New paragraph.", "b"], "A.\n\nB"),
        (["a", "NEW LINE!", "NEW LINE"], "A\n\n"),
        (["type a new line"], "Type a new line"),
        (["new line", "new line"], "\n\n"),
        (["I said", "iPhone"], "I said iPhone"),
        (['"quoted" text'], '"Quoted" text'),
        (["  padded  "], "Padded"),
        (["", "  ", "x"], "X"),
        (["Hello world.", "scratch that"], ""),
        (
            ["Hello world.", "new line", "this is a test.", "scratch that", "good bye."],
            "Hello world.\nGood bye.",
        ),
        (["a.", "b.", "c.", "Scratch that.", "Scratch that.", "d."], "A. D."),
        (["a.", "scratch that", "scratch that", "scratch that", "b."], "B."),
        (["a.", "Undo that.", "b."], "B."),
        (["a.", "delete that", "b."], "B."),
        (["a.", "new line", "scratch that", "b."], "A. B."),
        (["a.", "<undo>", "b."], "B."),
        (["a", "\n", "b"], "A\nB"),
        (["a", "\n\n\n", "b"], "A\n\nB"),
    ],
)
def test_documents(utterances: list[str], document: str) -> None:
    assert run(utterances)[0] == document


def test_edits_and_what_undo_retracts() -> None:
    doc, out = run(["Hello world.", "New line.", "this is a test.", "scratch that", "scratch that"])
    assert [(o.seq, o.command, o.phrase, o.edit, o.retracted) for o in out] == [
        (1, "", "", Edit(insert="Hello world."), None),
        (2, "new_line", "new line", Edit(insert="\n"), None),
        (3, "", "", Edit(insert="This is a test."), None),
        (0, "undo", "scratch that", Edit(erase="This is a test."), 3),
        (0, "undo", "scratch that", Edit(erase="\n"), 2),
    ]
    assert doc == "Hello world."


def test_undo_never_goes_past_the_start() -> None:
    c = Composer()
    assert c.undo() == Composed(0, "undo", "", "", None)
    c.utterance("a")
    assert c.undo().retracted == 1
    assert c.undo().edit is None
    assert c.utterance("b") == Composed(2, "", "", "B", Edit(insert="B"))


def test_undo_depth_is_bounded() -> None:
    c = Composer()
    for i in range(MAX_UNDO + 5):
        c.utterance(f"w{i}")
    taken = [c.undo().retracted for _ in range(MAX_UNDO + 2)]
    assert taken[0] == MAX_UNDO + 5 and taken[MAX_UNDO - 1] == 6
    assert taken[MAX_UNDO:] == [None, None]


def test_user_phrases_and_replacements() -> None:
    commands = {
        "sign off": Command("insert", "Best regards,\nAlice"),
        "new line": Command("new_line"),
        "oops": Command("undo"),
    }
    replacements = {"vad dictate": "vad-dictate", "Deep Gram": "Deepgram", "c": "C#"}
    c = Composer(commands, replacements)
    doc, out = run(
        ["I use VAD  dictate with deep gram.", "Sign off.", "scratch that", "oops"],
        c,
    )
    # "scratch that" is not a command here (the table replaces the defaults), so it is text
    assert doc == "I use vad-dictate with Deepgram. Best regards,\nAlice"
    assert [o.command for o in out] == ["", "sign off", "", "undo"]
    c2 = Composer(commands, replacements)
    assert run(["c and cat."], c2)[0] == "C# and cat."


def test_capitalisation_follows_the_document_after_undo() -> None:
    assert run(["a.", "b", "scratch that", "c"])[0] == "A. C"
    assert run(["a", "new line", "scratch that", "c"])[0] == "A c"


@pytest.mark.parametrize(
    ("text", "norm"),
    [("New line.", "new line"), ("  NEW,   line!", "new line"), ("Scratch that…", "scratch that")],
)
def test_normalise(text: str, norm: str) -> None:
    assert normalise(text) == norm


def test_parse_command() -> None:
    assert parse_command("x", "undo") == Command("undo")
    assert parse_command("x", {"insert": "Hi"}) == Command("insert", "Hi")
    for bad in ("jump", {"insert": 3}, {"type": "x"}, 5):
        with pytest.raises(ValueError, match="command 'x' has the unknown action"):
            parse_command("x", bad)
