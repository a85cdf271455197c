"""[ui] The desktop: notifications and sounds."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section

HELP = ""
FIELDS = (
    Field(
        "ui",
        "notify",
        True,
        "Desktop notifications (freedesktop D-Bus) for what you must not miss without a "
        "terminal: paused/resumed by shortcut, connection lost and back, microphone lost, typing "
        "failed, and why the session stopped. Only on a desktop (a session bus or a display).",
    ),
    Field(
        "ui",
        "sounds",
        False,
        "Short start/stop cues through the default output device when listening starts or stops.",
    ),
)
SECTION = Section("ui", HELP, FIELDS)
