"""The connection policy, event by event: when to reconnect, after how long, when to give up."""

from __future__ import annotations

import pytest

from vad_dictate.client.actions import Connect
from vad_dictate.client.link import HEALTHY_S, LOST_CAP_S, ConnectionPolicy, GiveUp
from vad_dictate.deepgram.retry import backoff_delay

J = 0.5  # jitter

# (event, time) -> expected verdict; events: open, confirm, lost, refused, refused-ended, fatal
Script = list[tuple[str, float, Connect | GiveUp | None]]

SCRIPTS: dict[str, Script] = {
    "a failed first handshake ends at once": [("refused", 0.0, GiveUp(0.0))],
    "a non-retryable refusal ends at once": [
        ("open", 0.0, None),
        ("lost", 40.0, Connect(backoff_delay(0, J, LOST_CAP_S))),
        ("fatal", 40.1, GiveUp(0.0)),
    ],
    "opened then closed at once, forever: backoff grows, then give up": [
        ("open", 0.0, None),
        ("lost", 0.1, Connect(backoff_delay(0, J, LOST_CAP_S))),
        ("open", 0.3, None),
        ("lost", 0.3, Connect(backoff_delay(1, J, LOST_CAP_S))),
        ("open", 1.0, None),
        ("lost", 1.0, Connect(backoff_delay(2, J, LOST_CAP_S))),
        ("open", 2.0, None),
        ("lost", 2.0, Connect(backoff_delay(3, J, LOST_CAP_S))),
        ("open", 60.0, None),
        ("lost", 60.1, GiveUp(60.0)),
    ],
    "a confirmation makes the connection a success": [
        ("open", 0.0, None),
        ("lost", 0.1, Connect(backoff_delay(0, J, LOST_CAP_S))),
        ("open", 0.2, None),
        ("lost", 0.3, Connect(backoff_delay(1, J, LOST_CAP_S))),
        ("open", 0.9, None),
        ("confirm", 1.5, None),
        ("lost", 2.0, Connect(backoff_delay(0, J, LOST_CAP_S))),
        ("open", 2.1, None),
        ("lost", 61.0, Connect(backoff_delay(0, J, LOST_CAP_S))),  # lived HEALTHY_S
    ],
    "the outage clock starts at the loss after a success": [
        ("open", 0.0, None),
        ("confirm", 1.0, None),
        ("lost", 10.0, Connect(backoff_delay(0, J, LOST_CAP_S))),
        ("refused", 30.0, Connect(backoff_delay(1, J))),
        ("refused", 69.9, Connect(backoff_delay(2, J))),
        ("refused", 70.0, GiveUp(60.0)),
    ],
    "once the input ended, an unreachable server gets close_timeout": [
        ("open", 0.0, None),
        ("confirm", 1.0, None),
        ("lost", 10.0, Connect(backoff_delay(0, J, LOST_CAP_S))),
        ("refused-ended", 14.0, Connect(backoff_delay(1, J))),
        ("refused-ended", 15.0, GiveUp(5.0)),
    ],
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_policy(name: str) -> None:
    policy = ConnectionPolicy(give_up_s=60.0, close_timeout=5.0)
    for event, now, expected in SCRIPTS[name]:
        verdict: Connect | GiveUp | None = None
        if event == "open":
            policy.opened(now)
        elif event == "confirm":
            policy.confirmed()
        elif event == "lost":
            verdict = policy.lost(now, J)
        else:
            retryable = event != "fatal"
            verdict = policy.handshake_failed(retryable, now, J, event == "refused-ended")
        assert verdict == expected, (event, now)


def test_waits_after_a_connection_that_opened_are_capped() -> None:
    policy = ConnectionPolicy(give_up_s=1e9, close_timeout=5.0)
    delays = []
    for i in range(12):
        policy.opened(float(i))
        verdict = policy.lost(float(i), 0.999)
        assert isinstance(verdict, Connect)
        delays.append(verdict.delay)
    assert delays == sorted(delays) and 1.9 < max(delays) <= LOST_CAP_S
    assert HEALTHY_S > LOST_CAP_S
