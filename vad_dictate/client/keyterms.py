"""Keyterm updates during a session (pure): when to send a Configure, what to tell the user.

Rules: a list over Deepgram's keyterm token limit is refused before anything is sent
(past the limit Deepgram silently stops transcribing). One Configure is in flight at a
time; a newer list asked for meanwhile waits for the answer, and only the newest one
goes. Deepgram answers each Configure with one ``ConfigureSuccess`` (listing the
keyterms now in effect) or ``ConfigureFailure`` (reported in one line; the stream goes
on). Where Configure cannot change keyterms (regional endpoints) the list waits for the
next pause, when the session reconnects with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from vad_dictate.client.actions import Action, Connect, Notice
from vad_dictate.client.capture import SessionOptions
from vad_dictate.client.core import ClientCore, Phase
from vad_dictate.deepgram import protocol as proto
from vad_dictate.deepgram.protocol import MAX_KEYTERM_TOKENS, ConfigureResult, keyterm_tokens


@dataclass(frozen=True, slots=True)
class KeytermStep:
    """What to do now: send this list in a Configure, reconnect with it, say this."""

    send: tuple[str, ...] | None = None
    reconnect: tuple[str, ...] | None = None
    notice: str | None = None


class KeytermUpdates:
    """Tracks the keyterms in effect, the one Configure in flight, and the newest wish."""

    def __init__(self, initial: Sequence[str], in_place: bool) -> None:
        self.in_effect = tuple(initial)
        self.in_place = in_place  # Configure can change keyterms on this endpoint
        self.in_flight: tuple[str, ...] | None = None
        self.waiting: tuple[str, ...] | None = None

    def request(self, terms: Sequence[str]) -> KeytermStep:
        """The user asked for ``terms`` (the whole new list)."""
        wanted = tuple(terms)
        tokens = keyterm_tokens(wanted)
        if tokens > MAX_KEYTERM_TOKENS:
            return KeytermStep(
                notice=f"vocabulary: not sent: {len(wanted)} terms come to about {tokens} "
                f"tokens, over Deepgram's {MAX_KEYTERM_TOKENS}-token keyterm limit; the "
                f"{len(self.in_effect)} keyterms in effect stay."
            )
        if not self.in_place:
            self.waiting = wanted
            return KeytermStep(
                notice="vocabulary: this endpoint cannot change keyterms mid-stream; the "
                "session reconnects with them at the next pause."
            )
        if self.in_flight is not None:
            self.waiting = wanted
            return KeytermStep()
        self.in_flight = wanted
        return KeytermStep(send=wanted)

    def answered(self, result: ConfigureResult) -> KeytermStep:
        """The server answered the Configure in flight."""
        if self.in_flight is None:
            return KeytermStep()  # an answer to a features-only Configure, or a stray one
        self.in_flight = None
        if result.ok:
            self.in_effect = result.keyterms
            notice = f"vocabulary: {len(result.keyterms)} keyterms in effect"
        else:
            notice = (
                f"vocabulary: the server refused the new keyterms ({result.code}: "
                f"{result.description}); the {len(self.in_effect)} in effect stay."
            )
        if self.waiting is not None:
            wanted, self.waiting = self.waiting, None
            self.in_flight = wanted
            return KeytermStep(send=wanted, notice=notice)
        return KeytermStep(notice=notice)

    def pause(self) -> KeytermStep:
        """Nothing is being said or awaited: reconnect now if a list is waiting for it."""
        if self.in_place or self.waiting is None:
            return KeytermStep()
        wanted, self.waiting = self.waiting, None
        self.in_effect = wanted
        return KeytermStep(
            reconnect=wanted, notice=f"vocabulary: reconnecting with {len(wanted)} keyterms"
        )


class KeytermCore(ClientCore):
    """A :class:`ClientCore` whose keyterms can change mid-stream (``vad-dictate vocab``).

    On Deepgram's global endpoint or a loopback server the new list goes out in a
    Configure (and again on every new connection); elsewhere the connection options take
    the list and the session reconnects at the next pause, when nothing is being said
    or awaited.
    """

    def __init__(self, options: SessionOptions, channels: int, rate: int, **kw: Any) -> None:
        super().__init__(options, channels, rate, **kw)
        in_place = proto.configure_in_place(options.url)
        self.keyterms = KeytermUpdates(options.connect.keyterms, in_place)

    def update_keyterms(self, terms: Sequence[str]) -> tuple[list[Action], str]:
        """Ask for ``terms`` (the whole new list); the actions, and a line for the asker."""
        step = self.keyterms.request(terms)
        self._keyterm_step(step)
        if step.send is not None:
            said = f"sent {len(step.send)} keyterms to the server"
        else:
            said = (step.notice or "queued: a Configure is awaiting its answer").removeprefix(
                "vocabulary: "
            )
        return self._drain(), said

    def received(self, event: proto.ServerEvent, now: float) -> list[Action]:
        """A server message; a Configure answer is reported in one line."""
        if isinstance(event, proto.ConfigureResult) and self.phase is Phase.OPEN:
            self._keyterm_step(self.keyterms.answered(event))
        return super().received(event, now)

    def tick(self, now: float) -> list[Action]:
        """Time passed; at a pause, a list waiting for a reconnect gets one."""
        quiet = not self.pipeline.speaking() and not self.assembler.pending_count()
        if self.phase is Phase.OPEN and quiet and not self.outbox.uncommitted():
            self._keyterm_step(self.keyterms.pause())
        return super().tick(now)

    def _keyterm_step(self, step: KeytermStep) -> None:
        if step.notice is not None:
            self._emit(Notice(step.notice))
        if step.send is not None:  # now, and again on every new connection
            self.wire.configure({"keyterms": list(step.send)}, self.phase is Phase.OPEN)
        if step.reconnect is not None:
            connect = replace(self.options.connect, keyterms=step.reconnect)
            self.options = replace(self.options, connect=connect)
            self.phase = Phase.DOWN
            self.wire.close()
            self._emit(Connect(0.0))
