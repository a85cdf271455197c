"""What goes on the wire next, in what order and how fast, on one connection.

Pure: time comes in as ``now``. Every connection opens with a burst of silence and the
latest Configure; control messages (Configure, KeepAlive, pings) go before queued audio;
then the outbox's items in order, audio no faster than ``replay_speed`` x real time on a
connection that replays a backlog; CloseStream last, once the input has ended.

In flight: audio is sent only while less than ``max_in_flight_s`` of it is unread by the
server, as its pongs show (a pong answers a ping only once the server has read everything
sent before it). A fast sender (a file) against a slow reader then parks a few seconds of
audio in the socket buffers, not minutes, and a ping never queues behind minutes of audio.
A ping goes out whenever half the bound is unread and none is outstanding, and with every
KeepAlive, so an idle connection is probed too (the core decides when a missing pong means
the server is gone).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping

from vad_dictate.client.actions import Transmit
from vad_dictate.client.outbox import Outbox
from vad_dictate.client.pipeline import SendAudio
from vad_dictate.deepgram import protocol as proto

MAX_IN_FLIGHT_S = 5.0  # audio sent that the server has not been seen to read


class Wire:
    """The send order and pacing of the current connection."""

    def __init__(
        self,
        rate: int,
        replay_speed: float,
        keepalive_s: float,
        max_in_flight_s: float = MAX_IN_FLIGHT_S,
    ) -> None:
        self.rate, self.replay_speed, self.keepalive_s = rate, replay_speed, keepalive_s
        self.max_in_flight = round(max_in_flight_s * rate)  # frames
        self.connection = 0
        self.last_send = 0.0
        self.sent_frames = 0  # audio frames sent on this connection, silence included
        self.read_frames = 0  # of which the server has read (its last pong says so)
        self.ping_at: float | None = None  # when the ping awaiting its pong left
        self._control: deque[Transmit] = deque()
        self._configure: str | None = None
        self._configured: dict[str, object] = {}  # every field set so far, merged
        self._paced, self._start, self._audio_s = False, 0.0, 0.0

    def open(self, connection: int, silence: SendAudio, replaying: bool, now: float) -> None:
        """A new connection: silence first, then the latest Configure."""
        self.connection = connection
        self._control = deque([Transmit(silence.pcm, "silence", connection, silence.frames)])
        if self._configure is not None:
            self._control.append(Transmit(self._configure, "configure", connection))
        self._paced = replaying and self.replay_speed > 0
        self._start, self._audio_s, self.last_send = now, 0.0, now
        self.sent_frames = self.read_frames = 0
        self.ping_at = None

    def close(self) -> None:
        """The connection is gone: what was queued for it is dropped."""
        self._control.clear()
        self.ping_at = None

    @property
    def unread_frames(self) -> int:
        """Audio frames sent on this connection that the server has not been seen to read."""
        return self.sent_frames - self.read_frames

    def configure(self, fields: Mapping[str, object], is_open: bool) -> None:
        """Send a Configure now (when a connection is open); every new connection gets one
        with all fields set so far, so a features change never drops a keyterm update."""
        now = json.dumps({"type": "Configure", **fields}, separators=(",", ":"))
        self._configured = _merged(self._configured, fields)
        self._configure = json.dumps(
            {"type": "Configure", **self._configured}, separators=(",", ":")
        )
        if is_open:
            self._control.append(Transmit(now, "configure", self.connection))

    def tick(self, now: float) -> None:
        """Queue a KeepAlive (and a ping) when nothing was sent for ``keepalive_s``."""
        due = now - self.last_send >= self.keepalive_s
        if due and not self._queued("keepalive"):
            keepalive = proto.keepalive_message()
            self._control.append(Transmit(keepalive, "keepalive", self.connection))
            self._ping()

    def next(self, outbox: Outbox, input_done: bool, now: float) -> Transmit | float | None:
        """The next message, the time to ask again (pacing), or None (nothing yet)."""
        if self._control:
            return self._control[0]
        item, conn = outbox.peek(), self.connection
        if item is None:
            return Transmit(proto.close_stream_message(), "close", conn) if input_done else None
        if isinstance(item, SendAudio):
            if self.unread_frames >= self.max_in_flight:
                return None  # until a pong says the server has read on
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
            elif message.kind == "ping":
                self.ping_at = now
        elif message.kind == "audio":
            self._audio_s += message.frames / self.rate
        if message.kind in ("silence", "audio"):
            self.sent_frames += message.frames
            if self.unread_frames >= self.max_in_flight // 2:
                self._ping()
        return True

    def pong(self, ping: Transmit) -> bool:
        """The server answered ``ping``: it has read what was sent before it. False when the
        ping is not this connection's."""
        if ping.connection != self.connection or ping.kind != "ping":
            return False
        self.read_frames = max(self.read_frames, ping.frames)
        self.ping_at = None
        if self.unread_frames >= self.max_in_flight // 2:
            self._ping()
        return True

    def _ping(self) -> None:
        """Queue a ping unless one is queued or awaits its pong."""
        if self.ping_at is None and not self._queued("ping"):
            self._control.append(Transmit(b"", "ping", self.connection, self.sent_frames))

    def _queued(self, kind: str) -> bool:
        return any(t.kind == kind for t in self._control)


def _merged(old: Mapping[str, object], new: Mapping[str, object]) -> dict[str, object]:
    """``new`` over ``old``; ``features`` objects are merged key by key (newer wins)."""
    out = {**old, **new}
    was, now = old.get("features"), new.get("features")
    if isinstance(was, Mapping) and isinstance(now, Mapping):
        out["features"] = {**was, **now}
    return out
