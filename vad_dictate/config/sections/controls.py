"""[controls] Keys, the control socket and global hotkeys."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section, key_names

HELP = ""
FIELDS = (
    Field(
        "controls",
        "terminal_keys",
        True,
        "Keys in the terminal running vad-dictate (only when stdin is a terminal). Each key below "
        "is one character or a name: space, enter, tab, escape, backspace.",
    ),
    Field(
        "controls",
        "finalize_keys",
        ["space", "enter"],
        'Finalize the current utterance now (JSONL shows trigger "hotkey").',
        key_names,
    ),
    Field(
        "controls",
        "pause_keys",
        ["p"],
        "Pause/resume listening (nothing is sent while paused; the connection is kept).",
        key_names,
    ),
    Field(
        "controls",
        "less_sensitive_keys",
        ["["],
        "Make the VAD less willing to call sound speech (aggressiveness up).",
        key_names,
    ),
    Field(
        "controls",
        "more_sensitive_keys",
        ["]"],
        "Make the VAD more willing to call sound speech (aggressiveness down).",
        key_names,
    ),
    Field("controls", "quit_keys", ["q"], "Finish what was said and quit.", key_names),
    Field(
        "controls",
        "socket",
        True,
        "Listen on a control socket for "
        "`vad-dictate finalize|pause|resume|toggle|stop|status|undo`.",
    ),
    Field(
        "controls",
        "hotkey",
        "",
        "Global finalize hotkey (needs the optional pynput: pip install 'vad-dictate[hotkey]'; "
        "X11, macOS, Windows; on Wayland bind `vad-dictate finalize` to a desktop shortcut "
        'instead). pynput syntax, e.g. "<ctrl>+<alt>+d"; "" = off.',
        flag="--hotkey",
        metavar="COMBO",
    ),
    Field(
        "controls",
        "push_to_talk",
        "",
        'Push-to-talk key, held while speaking, e.g. "<f9>" ("" = off). Releasing it finalizes.',
        flag="--push-to-talk",
        metavar="KEY",
    ),
    Field(
        "controls",
        "start_paused",
        False,
        "Start paused: the microphone is captured (level meter, pre-roll) but nothing is sent, "
        "and no connection is opened, until `vad-dictate toggle`/`resume` or a key resumes.",
        flag="--paused",
    ),
    Field(
        "controls",
        "undo_keys",
        ["u"],
        'Take back the latest dictated utterance, like saying "scratch that" (also: '
        "`vad-dictate undo`).",
        key_names,
    ),
)
SECTION = Section("controls", HELP, FIELDS)
