"""[audio] The microphone."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section, between

HELP = ""
FIELDS = (
    Field(
        "audio",
        "device",
        "",
        'Input device: "" for the default, an index, or part of a device name '
        "(see `vad-dictate devices`).",
        flag="--device",
        metavar="DEVICE",
    ),
    Field(
        "audio",
        "channels",
        1,
        "Microphone channels; with more than one, each channel is transcribed separately.",
        between(1, 32),
        "--channels",
    ),
    Field(
        "audio",
        "reopen_s",
        30.0,
        "If the microphone fails mid-session, what was said is finalized and the device is "
        "reopened for up to this many seconds; then vad-dictate exits with code 4.",
        between(0, 3600, " s"),
    ),
    Field(
        "audio",
        "device_rate",
        0,
        "Sample rate to open the device at (0 = 16 kHz when the device allows it, else its own "
        "rate); audio is resampled to 16 kHz either way.",
        between(0, 384000, " Hz (0 = automatic)"),
    ),
)
SECTION = Section("audio", HELP, FIELDS)
