"""When to reconnect, how long to wait first, and when to give up.

Pure: no sockets, no clock; time comes in as ``now``. The rules:

1. A failed first handshake ends the session at once: a wrong URL or key should fail fast.
2. A failure that is not retryable (rejected key, rejected request, undecodable audio)
   ends the session.
3. Every other failure is followed by a wait of ``retry.backoff_delay(attempt)``, also
   after a lost connection, and ``attempt`` grows with each failure in a row. After a
   connection that opened, the wait is at most ``LOST_CAP_S``: the server is reachable,
   and a replay that a flaky link keeps cutting short should not idle for long.
4. A connection is a success only once it proved useful: the server confirmed an
   utterance on it, or it stayed up ``HEALTHY_S``. One that opens and then dies before
   that is a failure like a refused handshake, so a server that accepts and closes at
   once cannot make the client spin.
5. The outage clock starts at the first failure after a success; once it has run for
   ``give_up_s`` the session gives up. Once the input has ended, a server that cannot
   even be reached is given ``close_timeout`` only: nothing new is waiting to be said.
"""

from __future__ import annotations

from dataclasses import dataclass

from vad_dictate.client.actions import Connect
from vad_dictate.deepgram import retry

HEALTHY_S = 30.0  # a connection that lived this long was no failure, whatever ended it
BACKOFF_CAP_S = 10.0  # the longest wait between attempts to reach the server
LOST_CAP_S = 2.0  # the longest wait after a connection that opened: the server is there


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop reconnecting; ``outage_s`` is how long the server has been failing."""

    outage_s: float


Verdict = Connect | GiveUp  # Connect: reconnect after its ``delay``


class ConnectionPolicy:
    """Backoff and give-up across the connections of one session."""

    def __init__(self, give_up_s: float, close_timeout: float) -> None:
        self.give_up_s, self.close_timeout = give_up_s, close_timeout
        self.connections = 0  # handshakes that succeeded
        self.attempt = 0  # failures in a row
        self.down_since: float | None = None
        self._opened_at = 0.0
        self._useful = False

    def opened(self, now: float) -> None:
        """A handshake succeeded."""
        self.connections += 1
        self._opened_at, self._useful = now, False

    def confirmed(self) -> None:
        """The server confirmed an utterance on the current connection."""
        self._useful = True
        self.attempt, self.down_since = 0, None

    def handshake_failed(self, retryable: bool, now: float, jitter: float, ended: bool) -> Verdict:
        """A handshake failed; ``ended``: the input has ended (nothing new will come)."""
        if self.connections == 0 or not retryable:
            return GiveUp(0.0)
        return self._failure(now, jitter, ended)

    def lost(self, now: float, jitter: float) -> Verdict:
        """An open connection ended before the session was done."""
        if self._useful or now - self._opened_at >= HEALTHY_S:
            self.attempt, self.down_since = 0, now
            return self._next(jitter, LOST_CAP_S)
        return self._failure(now, jitter, False, LOST_CAP_S)

    def _failure(
        self, now: float, jitter: float, ended: bool, cap: float = BACKOFF_CAP_S
    ) -> Verdict:
        if self.down_since is None:
            self.down_since = now
        limit = self.close_timeout if ended and self.close_timeout > 0 else self.give_up_s
        if now - self.down_since >= limit:
            return GiveUp(now - self.down_since)
        return self._next(jitter, cap)

    def _next(self, jitter: float, cap: float = BACKOFF_CAP_S) -> Connect:
        delay = retry.backoff_delay(self.attempt, jitter, cap)
        self.attempt += 1
        return Connect(delay)
