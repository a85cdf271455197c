"""Keyterm updates mid-session (pure): one Configure in flight, newest wins, the limit
refused before sending, answers reported, regional endpoints wait for a pause."""

from __future__ import annotations

from vad_dictate.client.keyterms import KeytermStep, KeytermUpdates
from vad_dictate.deepgram.protocol import ConfigureResult

OVER = [f"term{i:04d}" for i in range(251)]  # 502 tokens


def test_send_answer_and_newest_wins() -> None:
    k = KeytermUpdates(["a"], in_place=True)
    assert k.request(["a", "b"]) == KeytermStep(send=("a", "b"))
    assert k.request(["a", "b", "c"]) == KeytermStep()  # waits: one in flight
    assert k.request(["d"]) == KeytermStep()  # replaces the one waiting
    ok = ConfigureResult(True, "", "", ("a", "b"))
    assert k.answered(ok) == KeytermStep(send=("d",), notice="vocabulary: 2 keyterms in effect")
    assert k.in_effect == ("a", "b") and k.in_flight == ("d",)
    refused = ConfigureResult(False, "CONFIGURE_INTERNAL_ERROR", "boom")
    assert k.answered(refused) == KeytermStep(
        notice="vocabulary: the server refused the new keyterms (CONFIGURE_INTERNAL_ERROR: "
        "boom); the 2 in effect stay."
    )
    assert k.in_effect == ("a", "b") and k.in_flight is None
    assert k.answered(ok) == KeytermStep()  # nothing was in flight


def test_over_the_limit_is_refused_before_sending() -> None:
    k = KeytermUpdates(["a"], in_place=True)
    step = k.request(OVER)
    assert step.send is None and step.reconnect is None
    assert step.notice == (
        "vocabulary: not sent: 251 terms come to about 502 tokens, over Deepgram's 500-token "
        "keyterm limit; the 1 keyterms in effect stay."
    )
    assert k.in_flight is None and k.waiting is None and k.in_effect == ("a",)


def test_regional_endpoints_reconnect_at_a_pause() -> None:
    k = KeytermUpdates([], in_place=False)
    step = k.request(["Dashwood"])
    assert step.send is None and step.notice and "at the next pause" in step.notice
    assert k.pause() == KeytermStep(
        reconnect=("Dashwood",), notice="vocabulary: reconnecting with 1 keyterms"
    )
    assert k.pause() == KeytermStep() and k.in_effect == ("Dashwood",)
    assert KeytermUpdates([], in_place=True).pause() == KeytermStep()
