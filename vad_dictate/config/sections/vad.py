"""[vad] The voice activity detector and endpointer: when an utterance starts and ends."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section, between, one_of

HELP = ""
FIELDS = (
    Field(
        "vad",
        "engine",
        "webrtcvad",
        'Voice activity detector: "webrtcvad" (built in) or "silero" (needs the optional '
        "onnxruntime and silero-vad packages; more robust in loud noise).",
        one_of("webrtcvad", "silero"),
        "--vad",
    ),
    Field(
        "vad",
        "aggressiveness",
        2,
        "VAD aggressiveness, 0 (keeps the most audio as speech) to 3 (most aggressive).",
        between(0, 3),
        "--aggressiveness",
    ),
    Field(
        "vad",
        "frame_ms",
        20,
        "VAD frame length in ms: 10, 20 or 30.",
        lambda v: None if v in (10, 20, 30) else "must be 10, 20 or 30",
    ),
    Field(
        "vad",
        "onset_ms",
        90,
        "Speech needed before an utterance starts, in ms.",
        between(10, 1000, " ms"),
    ),
    Field(
        "vad",
        "silence_ms",
        700,
        "Silence that ends an utterance, in ms (100-5000).",
        between(100, 5000, " ms"),
        "--silence-ms",
    ),
    Field(
        "vad",
        "preroll_ms",
        400,
        "Audio kept from before speech starts and sent with it, in ms (0-2000), so first words "
        "survive.",
        between(0, 2000, " ms"),
        "--preroll-ms",
    ),
    Field(
        "vad",
        "min_utterance_ms",
        250,
        "Utterances with less speech than this are dropped as blips, in ms (0 keeps them all), "
        'unless they stand well above the noise floor: a short word ("Yes.") is always sent.',
        between(0, 5000, " ms"),
        "--min-utterance-ms",
    ),
    Field(
        "vad",
        "max_utterance_ms",
        30000,
        "Speech longer than this is finalized anyway, in ms (1000-600000).",
        between(1000, 600000, " ms"),
        "--max-utterance-ms",
    ),
    Field(
        "vad",
        "snr_db",
        4,
        "A speech frame must lie this many dB above the adaptive noise floor (0-30, 0 = off): "
        "steady noise (fans, hum, traffic) between sentences then counts as silence.",
        between(0, 30, " dB (0 turns it off)"),
    ),
    Field(
        "vad",
        "drop_db",
        30,
        "Frames this many dB below the utterance's loudest are silence (0-60, 0 = off): breath "
        "and room-noise tails do not delay the end, so silence_ms counts from where speech ended.",
        between(0, 60, " dB (0 turns it off)"),
    ),
    Field(
        "vad",
        "turn",
        "smart",
        'When a pause ends an utterance: "smart" (an end-of-turn model and the interim words '
        "decide, between turn_early_ms and turn_ceiling_ms of silence; without the model, which "
        ".ci/setup installs, the words and the ceiling decide, with one warning) or "
        '"silence" (silence_ms of silence, nothing else; also files read with --speed 0 and '
        "replays, which outrun the model's answers).",
        one_of("smart", "silence"),
        "--turn",
    ),
    Field(
        "vad",
        "turn_ask_ms",
        90,
        "Smart turns: how far into a pause the end-of-turn model is asked, in ms (30-1000); its "
        "answer may end the utterance once turn_early_ms have passed.",
        between(30, 1000, " ms"),
    ),
    Field(
        "vad",
        "turn_early_ms",
        180,
        "Smart turns: the shortest pause that may end an utterance, in ms (50-1000).",
        between(50, 1000, " ms"),
    ),
    Field(
        "vad",
        "turn_ceiling_ms",
        1300,
        "Smart turns: this much silence always ends an utterance, in ms (300-5000).",
        between(300, 5000, " ms"),
    ),
    Field(
        "vad",
        "turn_threshold",
        0.6,
        "Smart turns: the model's completion probability (0-1) that ends an utterance.",
        between(0.0, 1.0),
    ),
    Field(
        "vad",
        "turn_model",
        "",
        "Smart turns: path of a smart-turn v3 ONNX model (empty: the one the pipecat-ai package "
        "ships).",
    ),
)
SECTION = Section("vad", HELP, FIELDS)
