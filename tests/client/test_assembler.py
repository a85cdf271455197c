"""Utterance assembler: the three Finalize outcomes, span mapping, late/duplicate/out-of-order."""

from __future__ import annotations

import pytest

from vad_dictate.client.assembler import Assembler, Committed, ShowInterim, UtteranceInfo
from vad_dictate.deepgram.protocol import FinalResult, InterimResult, Word

RATE = 16000


def words(*spec: tuple[str, float, float]) -> tuple[Word, ...]:
    return tuple(Word(w, s, e, 0.9) for w, s, e in spec)


def final(
    start: float,
    duration: float,
    *spec: tuple[str, float, float],
    channel: int = 0,
    channels: int = 1,
    speech_final: bool = False,
    from_finalize: bool = False,
) -> FinalResult:
    ws = words(*spec)
    text = " ".join(w.word for w in ws)
    return FinalResult(channel, channels, start, duration, text, ws, speech_final, from_finalize)


def info(n: int, channel: int = 0) -> UtteranceInfo:
    return UtteranceInfo(channel, float(n), n + 0.5, "vad", 100.0 + n)


def committed(events: list[Committed | ShowInterim]) -> list[tuple[str, str, float]]:
    """Committed utterances that would be printed (empty ones are not)."""
    return [
        (e.text, e.outcome, e.info.start) for e in events if isinstance(e, Committed) and e.text
    ]


def test_outcome_1_from_finalize_with_text() -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=10.0)
    assert committed(asm.on_final(final(0.0, 1.0, ("alpha", 0.2, 0.5)))) == []
    events = asm.on_final(final(1.0, 1.0, ("bravo", 1.1, 1.4), from_finalize=True))
    assert committed(events) == [("alpha bravo", "ack", 1.0)]
    assert asm.pending_count() == 0
    assert asm.tick(100.0) == []  # never committed twice


def test_outcome_2_empty_ack_after_speech_final() -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=10.0)
    events = asm.on_final(
        final(0.0, 1.9, ("alpha", 0.2, 0.5), ("bravo", 0.7, 1.0), speech_final=True)
    )
    assert committed(events) == []
    events = asm.on_final(final(1.9, 0.1, from_finalize=True))
    assert committed(events) == [("alpha bravo", "ack", 1.0)]


def test_empty_ack_with_no_words_commits_empty_text() -> None:
    asm = Assembler()
    asm.finalize_sent(RATE, info(1), now=0.0)
    out = asm.on_final(final(0.0, 1.0, from_finalize=True))
    assert [(c.text, c.outcome) for c in out if isinstance(c, Committed)] == [("", "ack")]
    assert asm.pending_count() == 0


def test_outcome_3_timeout_commits_what_finals_gave() -> None:
    asm = Assembler(ack_timeout=2.0)
    asm.finalize_sent(int(1.5 * RATE), info(1), now=10.0)
    asm.on_final(final(0.0, 1.2, ("alpha", 0.3, 0.6), speech_final=True))
    assert asm.tick(11.9) == []
    out = asm.tick(12.0)
    assert [(c.text, c.outcome) for c in out] == [("alpha", "timeout")]
    asm.finalize_sent(int(3.0 * RATE), info(2), now=20.0)
    assert [(c.text, c.outcome) for c in asm.tick(22.0)] == [("", "timeout")]
    assert asm.tick(30.0) == []


def test_results_map_by_stream_span_not_arrival_order() -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    asm.finalize_sent(int(4.0 * RATE), info(2), now=0.5)
    # utterance 2's words arrive first, then utterance 1's, then the acks
    asm.on_final(final(2.0, 1.5, ("charlie", 2.3, 2.6), ("delta", 2.8, 3.1)))
    asm.on_final(final(0.0, 1.5, ("alpha", 0.3, 0.6), ("bravo", 0.8, 1.1)))
    out = asm.on_final(final(1.5, 0.5, from_finalize=True))
    assert committed(out) == [("alpha bravo", "ack", 1.0)]
    out = asm.on_final(final(3.5, 0.5, from_finalize=True))
    assert committed(out) == [("charlie delta", "ack", 2.0)]


def test_segments_join_in_stream_clock_order() -> None:
    asm = Assembler()
    asm.finalize_sent(int(3.0 * RATE), info(1), now=0.0)
    asm.on_final(final(1.0, 1.0, ("charlie", 1.2, 1.5)))
    asm.on_final(final(0.0, 1.0, ("alpha", 0.2, 0.4), ("bravo", 0.5, 0.8)))
    out = asm.on_final(final(2.0, 1.0, ("delta", 2.1, 2.4), from_finalize=True))
    assert committed(out) == [("alpha bravo charlie delta", "ack", 1.0)]


def test_straddling_result_is_split_by_word() -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    asm.finalize_sent(int(4.0 * RATE), info(2), now=0.1)
    # one final covering both utterances (a server that ignored the first Finalize)
    out = asm.on_final(
        final(0.0, 4.0, ("alpha", 0.5, 0.9), ("bravo", 2.5, 2.9), from_finalize=True)
    )
    assert committed(out) == [("alpha", "ack", 1.0), ("bravo", "ack", 2.0)]


def test_ack_for_later_utterance_commits_earlier_ones_in_order() -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    asm.finalize_sent(int(4.0 * RATE), info(2), now=0.1)
    asm.on_final(final(0.0, 2.0, ("alpha", 0.5, 0.9)))
    out = asm.on_final(final(2.0, 2.0, ("bravo", 2.5, 2.9), from_finalize=True))
    assert committed(out) == [("alpha", "ack", 1.0), ("bravo", "ack", 2.0)]


def test_duplicate_final_is_not_printed_twice() -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    f = final(0.0, 1.0, ("alpha", 0.2, 0.5))
    asm.on_final(f)
    asm.on_final(f)
    out = asm.on_final(final(1.0, 1.0, from_finalize=True))
    assert committed(out) == [("alpha", "ack", 1.0)]
    assert committed(asm.on_final(f)) == []  # replayed after commit: dropped


def test_late_words_after_timeout_are_kept_not_lost() -> None:
    asm = Assembler(ack_timeout=1.0)
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    asm.on_final(final(0.0, 1.0, ("alpha", 0.2, 0.5)))
    assert [(c.text, c.outcome) for c in asm.tick(1.0)] == [("alpha", "timeout")]
    out = asm.on_final(final(1.0, 1.0, ("alpha", 0.2, 0.5), ("bravo", 1.2, 1.5)))
    assert committed(out) == [("bravo", "late", 1.0)]  # under utterance 1's info
    # its late acknowledgement commits nothing else and is not taken for a later utterance
    asm.finalize_sent(int(4.0 * RATE), info(2), now=2.0)
    assert committed(asm.on_final(final(2.0, 0.0, from_finalize=True))) == []
    assert asm.pending_count() == 1


def test_interim_replaces_never_appends() -> None:
    asm = Assembler()
    out = asm.on_interim(InterimResult(0, 1, 0.0, 1.0, "alpha", ()))
    assert out == [ShowInterim(0, "alpha")]
    out = asm.on_interim(InterimResult(0, 1, 0.0, 2.0, "alpha bravo", ()))
    assert out == [ShowInterim(0, "alpha bravo")]
    assert asm.on_interim(InterimResult(0, 1, 0.0, 1.5, "stale", ())) == []
    out = asm.on_final(final(0.0, 2.0, ("alpha", 0.2, 0.5), ("bravo", 1.0, 1.4)))
    assert out[-1] == ShowInterim(0, "alpha bravo")
    out = asm.on_interim(InterimResult(0, 1, 2.0, 1.0, "charlie", ()))
    assert out == [ShowInterim(0, "alpha bravo charlie")]


def test_multichannel_ack_commits_only_its_channel() -> None:
    asm = Assembler(channels=2)
    asm.finalize_sent(int(2.0 * RATE), info(1, channel=0), now=0.0)
    asm.finalize_sent(int(2.0 * RATE), info(1, channel=1), now=0.0)
    asm.on_final(final(0.0, 2.0, ("alpha", 0.5, 0.9), channel=0, channels=2))
    asm.on_final(final(0.0, 2.0, ("kilo", 0.5, 0.9), channel=1, channels=2))
    out = asm.on_final(final(2.0, 0.0, channel=1, channels=2, from_finalize=True))
    assert [(c.info.channel, c.text) for c in out if isinstance(c, Committed)] == [(1, "kilo")]
    out = asm.on_final(final(2.0, 0.0, channel=0, channels=2, from_finalize=True))
    assert [(c.info.channel, c.text) for c in out if isinstance(c, Committed)] == [(0, "alpha")]


def test_out_of_range_channel_is_ignored() -> None:
    asm = Assembler(channels=1)
    assert asm.on_final(final(0.0, 1.0, ("alpha", 0.2, 0.5), channel=3, channels=4)) == []


def test_flush_commits_pending_and_trailing_words() -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    asm.on_final(final(0.0, 1.0, ("alpha", 0.2, 0.5)))
    asm.on_final(final(2.0, 1.0, ("bravo", 2.2, 2.5)))  # after the last Finalize
    out = asm.flush(info(7))
    assert [(c.text, c.outcome, c.info.start) for c in out] == [
        ("alpha", "flush", 1.0),
        ("bravo", "flush", 7.0),
    ]
    assert asm.flush() == []


def test_boundary_going_back_is_refused_and_state_unchanged() -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    with pytest.raises(ValueError, match="goes back"):
        asm.finalize_sent(int(1.0 * RATE), info(2), now=0.1)
    assert asm.pending_count() == 1
    with pytest.raises(ValueError):
        asm.finalize_sent(RATE * 3, info(3, channel=5), now=0.2)


def test_transcript_used_verbatim_when_segment_is_whole() -> None:
    asm = Assembler()
    asm.finalize_sent(int(3.0 * RATE), info(1), now=0.0)
    ws = (Word("testing", 1.2, 1.6, 0.5, "Testing."), Word("123", 1.6, 2.1, 0.9, "123."))
    out = asm.on_final(FinalResult(0, 1, 0.7, 2.3, "Testing. 123.", ws, True, True))
    assert committed(out) == [("Testing. 123.", "ack", 1.0)]


def test_timeout_runs_from_the_previous_commit_when_later() -> None:
    asm = Assembler(ack_timeout=2.0)
    asm.finalize_sent(int(1.0 * RATE), info(1), now=0.0)
    asm.finalize_sent(int(2.0 * RATE), info(2), now=0.1)
    asm.on_final(final(0.0, 1.0, ("alpha", 0.2, 0.5), from_finalize=True), now=1.9)
    assert asm.tick(2.2) == []  # sent at 0.1, but its turn began with the commit at 1.9
    assert [c.outcome for c in asm.tick(3.9)] == ["timeout"]


def test_restated_or_rewritten_final_is_rejected() -> None:
    asm = Assembler()
    asm.finalize_sent(int(3.0 * RATE), info(1), now=0.0)
    asm.on_final(final(0.0, 1.5, ("alpha", 0.2, 0.5), ("bravo", 0.8, 1.1)))
    # a hostile server restates the same span with other words and shifted times
    asm.on_final(final(0.0, 1.5, ("zulu", 0.21, 0.52), ("bravo", 0.8, 1.1)))
    assert asm.rejected_words == 1
    out = asm.on_final(final(1.5, 1.5, ("charlie", 1.7, 2.0), from_finalize=True))
    assert committed(out) == [("alpha bravo charlie", "ack", 1.0)]


def test_words_for_audio_never_sent_are_rejected() -> None:
    asm = Assembler()
    asm.horizon = int(2.0 * RATE)
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    out = asm.on_final(
        final(0.0, 60.0, ("alpha", 0.2, 0.5), ("ghost", 50.0, 50.5), from_finalize=True)
    )
    assert committed(out) == [("alpha", "ack", 1.0)]
    assert asm.rejected_words == 1
    assert asm.flush() == []  # the ghost word is not held for a later utterance either


def test_final_split_between_late_and_open_is_not_printed_twice() -> None:
    asm = Assembler(ack_timeout=1.0)
    asm.finalize_sent(int(1.0 * RATE), info(1), now=0.0)
    asm.tick(1.0)  # committed empty by timeout
    asm.finalize_sent(int(3.0 * RATE), info(2), now=1.0)
    out = asm.on_final(final(0.0, 2.0, ("alpha", 0.2, 0.5), ("bravo", 1.2, 1.5)))
    assert committed(out) == [("alpha", "late", 1.0)]
    out = asm.on_final(final(2.0, 1.0, from_finalize=True))
    assert committed(out) == [("bravo", "ack", 2.0)]


def test_a_server_working_through_a_backlog_is_waited_for() -> None:
    asm = Assembler(ack_timeout=2.0)
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    asm.finalize_sent(int(4.0 * RATE), info(2), now=0.0)
    asm.on_interim(InterimResult(0, 1, 0.0, 1.0, "alpha", ()), now=1.5)
    asm.on_final(final(0.0, 2.0, ("alpha", 0.2, 0.5), from_finalize=True), now=3.0)
    asm.on_interim(InterimResult(0, 1, 2.0, 1.0, "bravo", ()), now=4.5)
    assert asm.tick(6.0) == []  # utterance 2: still progressing, not yet reached
    out = asm.on_final(final(2.0, 2.0, ("bravo", 2.2, 2.5), from_finalize=True), now=6.2)
    assert committed(out) == [("bravo", "ack", 2.0)]


def test_timer_runs_once_the_server_has_passed_the_boundary() -> None:
    asm = Assembler(ack_timeout=2.0)
    asm.finalize_sent(int(2.0 * RATE), info(1), now=0.0)
    asm.on_final(final(0.0, 2.0, ("alpha", 0.2, 0.5)), now=0.5)  # reached, no ack
    asm.on_interim(InterimResult(0, 1, 2.0, 3.0, "bravo", ()), now=2.4)  # later progress
    assert [(c.text, c.outcome) for c in asm.tick(2.5)] == [("alpha", "timeout")]


@pytest.mark.parametrize(
    ("first", "second", "text"),
    [
        # The server's endpointing finalized a segment at a thinking pause and punctuated it
        (("leisure", "to."), ("Consider", "it."), "leisure to consider it."),
        (("leisure", "to"), ("I", "did."), "leisure to I did."),
        # A finished sentence keeps its full stop, and the next its capital
        (("He", "left."), ("Then", "we."), "He left. Then we."),
        (("Where", "from?"), ("Paris", "hm."), "Where from? Paris hm."),
    ],
)
def test_segments_cut_at_a_thinking_pause_read_as_one_sentence(
    first: tuple[str, str], second: tuple[str, str], text: str
) -> None:
    asm = Assembler()
    asm.finalize_sent(int(2.0 * RATE), info(1), now=10.0)
    asm.on_final(final(0.0, 1.0, (first[0], 0.1, 0.3), (first[1], 0.4, 0.6), speech_final=True))
    events = asm.on_final(
        final(1.0, 1.0, (second[0], 1.1, 1.3), (second[1], 1.4, 1.6), from_finalize=True)
    )
    assert committed(events) == [(text, "ack", 1.0)]
