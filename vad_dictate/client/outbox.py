"""Session bookkeeping across connections: what was produced, sent and confirmed.

Pure: no sockets, no clock. The pipeline's ordered output goes in; the sender
takes items one by one and reports them sent; the session reports each
utterance as committed. Everything from the oldest uncommitted utterance onward
is retained (bounded), so after a dropped connection a new one can replay it:
the stream clock restarts at 0 on every connection, and each Finalize's
boundary is the number of frames sent on the current connection before it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from vad_dictate.client.pipeline import Outgoing, SendAudio, SendFinalize


@dataclass(slots=True)
class _Entry:
    item: Outgoing
    committed: bool = False


class Outbox:
    """Ordered outgoing items with a send cursor and replay retention."""

    def __init__(self, max_retained_frames: int) -> None:
        self._log: deque[_Entry] = deque()
        self._cursor = 0  # index into _log of the next item to send
        self.max_retained_frames = max_retained_frames
        self._retained = 0  # audio frames in _log
        self.unsent_frames = 0  # audio frames after the cursor
        self.conn_frames = 0  # frames sent on the current connection
        self.dropped_frames = 0  # audio never sent, given up because the bound was hit
        self.unreplayable_frames = 0  # sent, unconfirmed audio no longer kept for a replay

    @property
    def retained_frames(self) -> int:
        """Audio frames kept: unsent, or sent and not yet confirmed."""
        return self._retained

    def __len__(self) -> int:
        return len(self._log) - self._cursor

    def extend(self, items: list[Outgoing]) -> None:
        """Queue new items from the pipeline."""
        for item in items:
            self._log.append(_Entry(item))
            if isinstance(item, SendAudio):
                self._retained += item.frames
                self.unsent_frames += item.frames
        self._enforce_bound()

    def peek(self) -> Outgoing | None:
        """The next item to send, or None."""
        return self._log[self._cursor].item if self._cursor < len(self._log) else None

    def mark_sent(self) -> int:
        """Advance past the peeked item; return the connection's frame count after it."""
        item = self._log[self._cursor].item
        self._cursor += 1
        if isinstance(item, SendAudio):
            self.conn_frames += item.frames
            self.unsent_frames -= item.frames
        return self.conn_frames

    def committed(self, seq: int) -> None:
        """Utterance ``seq`` is printed: its audio and Finalize need no replay."""
        for entry in self._log:
            item = entry.item
            if isinstance(item, SendFinalize) and item.seq == seq:
                entry.committed = True
        self._trim()

    def restart(self, lead_frames: int = 0) -> None:
        """A new connection that already sent ``lead_frames``: resend everything retained."""
        self._cursor = 0
        self.conn_frames = lead_frames
        self.unsent_frames = self._retained

    def uncommitted(self) -> list[SendFinalize]:
        """Finalizes retained but not committed (for messages at give-up)."""
        return [e.item for e in self._log if isinstance(e.item, SendFinalize) and not e.committed]

    def _trim(self) -> None:
        """Drop the prefix up to the last Finalize whose predecessors are all committed."""
        cut = 0
        for i, entry in enumerate(self._log):
            if isinstance(entry.item, SendFinalize):
                if not entry.committed:
                    break
                cut = i + 1
        cut = min(cut, self._cursor)  # never drop what was not sent yet
        for _ in range(cut):
            entry = self._log.popleft()
            self._cursor -= 1
            if isinstance(entry.item, SendAudio):
                self._retained -= entry.item.frames

    def _enforce_bound(self) -> None:
        while self._retained > self.max_retained_frames and self._log:
            self._drop_first()

    def _drop_first(self) -> None:
        entry = self._log.popleft()
        unsent = self._cursor == 0
        self._cursor = max(0, self._cursor - 1)
        if isinstance(entry.item, SendAudio):
            frames = entry.item.frames
            self._retained -= frames
            if unsent:
                self.unsent_frames -= frames
                self.dropped_frames += frames
            else:
                self.unreplayable_frames += frames
