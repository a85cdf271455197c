"""What goes on the wire next, in what order and how fast, on one connection.

Pure: time comes in as ``now``. Every connection opens with a burst of silence and the
latest Configure; control messages (Configure, KeepAlive) go before queued audio; then
the outbox's items in order, audio no faster than ``replay_speed`` x real time on a
connection that replays a backlog; CloseStream last, once the input has ended.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping

from vad_dictate.client.actions import Transmit
from vad_dictate.client.outbox import Outbox
from vad_dictate.client.pipeline import SendAudio
from vad_dictate.deepgram import protocol as proto


class Wire:
    """The send order and pacing of the current connection."""

    def __init__(self, rate: int, replay_speed: float, keepalive_s: float) -> None:
        self.rate, self.replay_speed, self.keepalive_s = rate, replay_speed, keepalive_s
        self.connection = 0
        self.last_send = 0.0
        self._control: deque[Transmit] = deque()
        self._configure: str | None = None
        self._paced, self._start, self._audio_s = False, 0.0, 0.0

    def open(self, connection: int, silence: SendAudio, replaying: bool, now: float) -> None:
        """A new connection: silence first, then the latest Configure."""
        self.connection = connection
        self._control = deque([Transmit(silence.pcm, "silence", connection, silence.frames)])
        if self._configure is not None:
            self._control.append(Transmit(self._configure, "configure", connection))
        self._paced = replaying and self.replay_speed > 0
        self._start, self._audio_s, self.last_send = now, 0.0, now

    def close(self) -> None:
        """The connection is gone: what was queued for it is dropped."""
        self._control.clear()

    def configure(self, fields: Mapping[str, object], is_open: bool) -> None:
        """Send a Configure now (when a connection is open) and on every new connection."""
        self._configure = json.dumps({"type": "Configure", **fields}, separators=(",", ":"))
        if is_open:
            self._control.append(Transmit(self._configure, "configure", self.connection))

    def tick(self, now: float) -> None:
        """Queue a KeepAlive when nothing was sent for ``keepalive_s``."""
        due = now - self.last_send >= self.keepalive_s
        if due and not any(t.kind == "keepalive" for t in self._control):
            keepalive = proto.keepalive_message()
            self._control.append(Transmit(keepalive, "keepalive", self.connection))

    def next(self, outbox: Outbox, input_done: bool, now: float) -> Transmit | float | None:
        """The next message, the time to ask again (pacing), or None (nothing yet)."""
        if self._control:
            return self._control[0]
        item, conn = outbox.peek(), self.connection
        if item is None:
            return Transmit(proto.close_stream_message(), "close", conn) if input_done else None
        if isinstance(item, SendAudio):
            due = self._start + self._audio_s / (self.replay_speed or 1.0)
            if self._paced and now < due:
                return due
            return Transmit(item.pcm, "audio", conn, item.frames, item)
        return Transmit(proto.finalize_message(item.channel), "finalize", conn, 0, item)

    def sent(self, message: Transmit, now: float) -> bool:
        """``message`` left at ``now``; False when it is not this connection's."""
        if message.connection != self.connection:
            return False
        self.last_send = now
        if self._control and self._control[0] is message:
            self._control.popleft()
            if message.kind == "silence":
                self._start = now  # the replay's pace counts from when the stream began
        elif message.kind == "audio":
            self._audio_s += message.frames / self.rate
        return True
