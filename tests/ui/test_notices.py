"""The notification policy, exactly: what is shown, when, and what is never shown twice."""

from __future__ import annotations

import pytest

from vad_dictate.ui.notices import CRITICAL, LOW, NORMAL, EventKind, Notice, NoticePolicy, describe

Step = tuple[str, float, EventKind | None, list[str]]  # (call, now, kind, summaries shown)

LOST, BACK = "Dictation: connection lost", "Dictation: connection back"
PAUSED, RESUMED, STOPPED = "Dictation paused", "Dictation resumed", "Dictation stopped"


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(
            [
                ("event", 0.0, "connection_lost", [LOST]),
                ("event", 0.5, "connection_back", []),
                ("event", 1.0, "connection_lost", []),
                ("event", 1.5, "connection_back", []),
                ("tick", 2.9, None, []),
                ("tick", 3.0, None, [BACK]),  # the storm ends as how things stand
                ("tick", 9.0, None, []),
            ],
            id="reconnect storm: first and last",
        ),
        pytest.param(
            [
                ("event", 0.0, "connection_lost", [LOST]),
                ("event", 1.0, "connection_back", []),
                ("event", 2.0, "connection_lost", []),
                ("tick", 3.0, None, []),  # the same as on screen: not again
            ],
            id="no duplicate",
        ),
        pytest.param(
            [
                ("event", 0.0, "connection_lost", [LOST]),
                ("event", 0.1, "paused", [PAUSED]),  # what the user did: at once
                ("event", 0.2, "resumed", [RESUMED]),
                ("event", 0.3, "resumed", []),
                ("event", 0.4, "connection_back", []),
                ("tick", 3.2, None, [BACK]),  # the gap counts from the last shown
            ],
            id="shortcuts at once",
        ),
        pytest.param(
            [
                ("event", 0.0, "mic_lost", ["Dictation: microphone lost"]),
                ("event", 1.0, "connection_lost", []),
                ("event", 2.0, "gave_up", [STOPPED]),
                ("tick", 5.0, None, []),  # the held one died with the session
                ("event", 6.0, "resumed", []),
            ],
            id="gave up ends it",
        ),
        pytest.param(
            [
                ("event", 0.0, "typing_failed", ["Dictation: typing failed"]),
                ("event", 3.0, "connection_lost", [LOST]),
                ("event", 6.5, "connection_back", [BACK]),
            ],
            id="spaced out: each at once",
        ),
    ],
)
def test_policy(steps: list[Step]) -> None:
    policy = NoticePolicy(min_gap=3.0)
    for call, now, kind, shown in steps:
        got = policy.event(kind, "", now) if kind is not None else policy.tick(now)
        assert [n.summary for n in got] == shown, (call, now, kind)


def test_due_says_when_to_tick() -> None:
    policy = NoticePolicy(min_gap=3.0)
    assert policy.due() is None
    policy.event("connection_lost", "", 10.0)
    assert policy.due() is None
    policy.event("connection_back", "", 11.0)
    assert policy.due() == 13.0
    assert policy.tick(13.0)[0].summary == BACK
    assert policy.due() is None


@pytest.mark.parametrize(
    ("kind", "detail", "notice"),
    [
        ("paused", "", Notice("paused", PAUSED, "Nothing is heard or sent until you resume.", LOW)),
        ("resumed", "", Notice("resumed", RESUMED, "Listening.", LOW)),
        (
            "connection_lost",
            "The server stopped answering.",
            Notice(
                "connection_lost",
                LOST,
                "The server stopped answering. Reconnecting; what you say meanwhile is kept and "
                "sent when it is back.",
                NORMAL,
            ),
        ),
        (
            "gave_up",
            "Cannot reach the server (exit code 5)",
            Notice("gave_up", STOPPED, "Cannot reach the server (exit code 5).", CRITICAL),
        ),
        (
            "mic_lost",
            "The microphone stopped delivering audio.",
            Notice(
                "mic_lost",
                "Dictation: microphone lost",
                "The microphone stopped delivering audio. Waiting for it to come back.",
                CRITICAL,
            ),
        ),
        (
            "typing_failed",
            "type: no typing tool worked",
            Notice(
                "typing_failed",
                "Dictation: typing failed",
                "type: no typing tool worked. The text was not lost: it is printed and kept in "
                "the history.",
                CRITICAL,
            ),
        ),
    ],
)
def test_describe(kind: EventKind, detail: str, notice: Notice) -> None:
    assert describe(kind, detail) == notice
