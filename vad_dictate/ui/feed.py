"""The status feed for bars: what a running session is doing, as one line per change.

``vad-dictate status --follow`` subscribes over the control socket and gets a JSON
record each time the session's state changes; this module turns a record into what
a bar wants: Waybar's custom-module JSON (``text``, ``tooltip``, ``class``, ``alt``),
or one plain line for i3blocks and polybar. Pure: records in, strings out.

States: connecting, listening, speech, finalizing, paused, reconnecting (the session
runs), error (it ended on a failure: ``detail`` says why) and stopped (none runs).
``engine`` is ``offline`` when the built-in engine transcribes, else ``deepgram``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

Format = Literal["json", "waybar", "text"]
FORMATS: tuple[Format, ...] = ("json", "waybar", "text")
STATES = (
    "connecting",
    "listening",
    "speech",
    "finalizing",
    "paused",
    "reconnecting",
    "error",
    "stopped",
)
ENGINES = ("deepgram", "offline")
_ENGINE_NAMES = {"deepgram": "Deepgram", "offline": "the offline engine"}
_MEANING = {
    "connecting": "connecting to the server",
    "listening": "listening",
    "speech": "hearing speech",
    "finalizing": "waiting for the last words",
    "paused": "paused: nothing is heard or sent",
    "reconnecting": "connection lost, reconnecting (what you say is kept)",
    "error": "stopped on an error",
    "stopped": "not running",
}
_HINT = {
    "paused": "vad-dictate toggle resumes",
    "stopped": "start it with: vad-dictate",
    "error": "start it again with: vad-dictate",
}


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One state of a session as the feed reports it."""

    state: str
    engine: str = "deepgram"
    detail: str = ""  # why it ended (error), else empty
    pid: int = 0  # the session's process (0: none runs)

    def as_dict(self) -> dict[str, object]:
        """The JSON form: one line of ``status --follow``."""
        record: dict[str, object] = {"state": self.state, "engine": self.engine, "pid": self.pid}
        if self.detail:
            record["detail"] = self.detail
        return record


STOPPED = FeedRecord("stopped", engine="", pid=0)


def parse_record(line: str | bytes) -> FeedRecord | None:
    """A record from one line of the subscription, or None if the line is not one."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    state, engine = data.get("state"), data.get("engine", "")
    detail, pid = data.get("detail", ""), data.get("pid", 0)
    if state not in STATES or engine not in (*ENGINES, ""):
        return None
    if not isinstance(detail, str) or not isinstance(pid, int) or isinstance(pid, bool):
        return None
    return FeedRecord(state, engine, detail, pid)


def waybar(record: FeedRecord) -> dict[str, object]:
    """Waybar custom-module JSON: ``alt`` picks the icon, ``class`` the CSS rules."""
    classes = [record.state]
    if record.engine == "offline":
        classes.append("offline")
    return {
        "text": text_line(record),
        "tooltip": tooltip(record),
        "class": classes,
        "alt": record.state,
    }


def text_line(record: FeedRecord) -> str:
    """The short label: the state, and ``(offline)`` for the offline engine."""
    return record.state + (" (offline)" if record.engine == "offline" else "")


def tooltip(record: FeedRecord) -> str:
    """A sentence or two for a hover: what the state means, the engine, what to do."""
    lines = [f"vad-dictate: {_MEANING.get(record.state, record.state)}"]
    if record.detail:
        lines.append(record.detail)
    if record.engine:
        lines.append(f"transcribed by {_ENGINE_NAMES.get(record.engine, record.engine)}")
    if record.pid:
        lines.append(f"pid {record.pid}")
    hint = _HINT.get(record.state, "vad-dictate toggle pauses")
    lines.append(hint)
    return "\n".join(lines)


def render(record: FeedRecord, fmt: Format) -> str:
    """One output line for ``fmt``."""
    if fmt == "waybar":
        return json.dumps(waybar(record), ensure_ascii=False)
    if fmt == "text":
        return text_line(record)
    return json.dumps(record.as_dict(), ensure_ascii=False)
