"""Which desktop notifications to show, and when: a pure policy (events and times in).

Rules:
- What the user did by shortcut (paused, resumed) and the end of the session (gave up)
  are shown at once: the user is waiting for them.
- Everything else (connection lost/back, microphone lost/back, typing failed) is shown
  at most once per ``min_gap`` seconds. An event inside the gap waits; a later one
  inside the same gap replaces it, so a reconnect storm ends as one notification of
  how things stand, not a stack of them.
- A notification the same as the one on screen is never shown again.
- After "gave up" nothing more is shown.
The shell shows each notice replacing the previous one (one bubble, updated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventKind = Literal[
    "paused",
    "resumed",
    "connection_lost",
    "connection_back",
    "gave_up",
    "mic_lost",
    "mic_back",
    "typing_failed",
]
IMMEDIATE: frozenset[EventKind] = frozenset({"paused", "resumed", "gave_up"})
LOW, NORMAL, CRITICAL = 0, 1, 2  # the freedesktop urgency levels


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification: a short summary, a sentence of body, an urgency."""

    kind: EventKind
    summary: str
    body: str
    urgency: int = NORMAL


def describe(kind: EventKind, detail: str = "") -> Notice:
    """The notification for an event; ``detail`` is the reason, where there is one."""
    reason = (detail.rstrip(".") + ". ") if detail else ""
    if kind == "paused":
        return Notice(kind, "Dictation paused", "Nothing is heard or sent until you resume.", LOW)
    if kind == "resumed":
        return Notice(kind, "Dictation resumed", "Listening.", LOW)
    if kind == "connection_lost":
        body = reason + "Reconnecting; what you say meanwhile is kept and sent when it is back."
        return Notice(kind, "Dictation: connection lost", body)
    if kind == "connection_back":
        return Notice(kind, "Dictation: connection back", "Listening again; nothing was lost.")
    if kind == "gave_up":
        return Notice(kind, "Dictation stopped", reason.strip() or "The session ended.", CRITICAL)
    if kind == "mic_lost":
        body = reason + "Waiting for it to come back."
        return Notice(kind, "Dictation: microphone lost", body, CRITICAL)
    if kind == "mic_back":
        return Notice(kind, "Dictation: microphone back", "Listening again.")
    body = reason + "The text was not lost: it is printed and kept in the history."
    return Notice(kind, "Dictation: typing failed", body, CRITICAL)


class NoticePolicy:
    """Decides which notices to show now; call ``tick`` at ``due()`` for held ones."""

    def __init__(self, min_gap: float = 3.0) -> None:
        self.min_gap = min_gap
        self._shown: Notice | None = None
        self._shown_at = float("-inf")
        self._held: Notice | None = None
        self._over = False

    def event(self, kind: EventKind, detail: str, now: float) -> list[Notice]:
        """Something happened; return the notices to show now (zero or one)."""
        if self._over:
            return []
        notice = describe(kind, detail)
        if kind == "gave_up":
            self._over, self._held = True, None
        if kind in IMMEDIATE or now - self._shown_at >= self.min_gap:
            self._held = None
            return self._show(notice, now)
        self._held = notice
        return []

    def due(self) -> float | None:
        """When ``tick`` has a held notice to show, or None."""
        return None if self._held is None else self._shown_at + self.min_gap

    def tick(self, now: float) -> list[Notice]:
        """Show the held notice once the gap has passed."""
        due = self.due()
        if self._held is None or due is None or now < due:
            return []
        notice, self._held = self._held, None
        return self._show(notice, now)

    def _show(self, notice: Notice, now: float) -> list[Notice]:
        if notice == self._shown:
            return []
        self._shown, self._shown_at = notice, now
        return [notice]
