"""LineJoiner: an utterance the turn policy cut at a thinking pause waits for the rest."""

from __future__ import annotations

import pytest

from vad_dictate.client.assembler import Committed, UtteranceInfo
from vad_dictate.client.lines import LineJoiner
from vad_dictate.client.sentences import join_text


def item(text: str, trigger: str = "turn", at: float = 1.0, channel: int = 0) -> Committed:
    info = UtteranceInfo(channel, at - 0.5, at, trigger, last_speech_at=at, seq=round(at * 10))
    return Committed(info, text, "ack")


@pytest.mark.parametrize(
    ("held", "text", "joined"),
    [
        ("I went and fetched you from.", "That ditch?", "I went and fetched you from that ditch?"),
        ("It was the", "Best of times.", "It was the best of times."),
        ("Tell me about,", "The plan.", "Tell me about, the plan."),
        ("Then", "I left.", "Then I left."),  # "I" keeps its capital
        ("She works for", "NASA now.", "She works for NASA now."),  # so does a word in capitals
        ("Because of", "I'm late.", "Because of I'm late."),
        ("Send it to", "", "Send it to"),
        ("", "Hello.", "Hello."),
        ("It was over.", "Then we left.", "It was over. Then we left."),  # a sentence ended
        ("Where are you from?", "Paris.", "Where are you from? Paris."),
        ("than he was.", "He left.", "than he was. He left."),
    ],
)
def test_join_text(held: str, text: str, joined: str) -> None:
    assert join_text(held, text) == joined


@pytest.mark.parametrize(
    ("text", "trigger", "held"),
    [
        ("I went and fetched you from.", "turn", True),
        ("It was the", "turn", True),
        ("Tell me about,", "turn", True),  # a comma does not end a sentence either
        ("That ditch?", "turn", False),
        ("Where are you from?", "turn", False),  # a question may end on one
        ("Than he was.", "turn", False),  # "was." can end a sentence
        ("So.", "turn", False),  # a one-word answer is never held
        ("The.", "turn", False),
        ("Yes.", "turn", False),
        ("maybe", "turn", False),  # no sign either way: printed
        ("I went and fetched you from.", "vad", False),  # the ceiling or the timer ended it
        ("I went and fetched you from.", "hotkey", False),  # the user ended it
        ("I went and fetched you from.", "end", False),
        ("", "turn", False),
    ],
)
def test_what_is_held(text: str, trigger: str, held: bool) -> None:
    lines = LineJoiner(1.3)
    out = lines.add(item(text, trigger))
    assert (out == []) is held
    assert lines.held_text(0) == (text if held else "")


def test_the_next_utterance_completes_the_line() -> None:
    lines = LineJoiner(1.3)
    assert lines.add(item("I went and fetched you from.", at=1.0)) == []
    assert lines.add(item("", "turn", at=1.5)) == []  # nothing said: still waiting
    assert lines.tick(9.0, busy={0}) == []  # speech under way: wait however long
    (out,) = lines.add(item("That ditch?", "vad", at=2.5))
    assert out.text == "I went and fetched you from that ditch?"
    assert (out.info.start, out.info.end, out.info.trigger) == (0.5, 2.5, "vad")
    assert out.info.seq == 25  # the line's latency is its last utterance's
    assert lines.joined == 1 and lines.held_text(0) == ""


def test_a_line_can_wait_through_several_pauses() -> None:
    lines = LineJoiner(1.3)
    assert lines.add(item("It was the", at=1.0)) == []
    assert lines.add(item("Best of", at=2.0)) == []
    (out,) = lines.add(item("Times.", at=3.0))
    assert out.text == "It was the best of times."


@pytest.mark.parametrize(
    ("now", "busy", "released"),
    [
        (2.2, set(), False),  # 1.2 s of silence: the speaker may go on
        (2.4, set(), True),  # past the ceiling: they had finished after all
        (5.0, {0}, False),  # an utterance of its channel is under way
        (5.0, {1}, True),  # another channel's is not its business
    ],
)
def test_release_after_the_ceiling(now: float, busy: set[int], released: bool) -> None:
    lines = LineJoiner(1.3)
    lines.add(item("Drive to the", at=1.0))
    out = lines.tick(now, busy)
    assert [c.text for c in out] == (["Drive to the"] if released else [])


def test_channels_are_held_apart_and_flushed_in_order() -> None:
    lines = LineJoiner(1.3)
    assert lines.add(item("Over the", channel=1)) == []
    assert lines.add(item("Under the", channel=0)) == []
    (out,) = lines.add(item("Hill.", "vad", channel=1))
    assert out.text == "Over the hill."
    assert [c.text for c in lines.flush()] == ["Under the"]
    assert lines.flush() == []
