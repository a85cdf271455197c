"""[stream] What is streamed, and how connections are kept alive, closed and recovered."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section, between, one_of

HELP = ""
FIELDS = (
    Field(
        "stream",
        "policy",
        "speech",
        '"speech": send only pre-roll, speech and hangover (silence is not billed); '
        '"always": stream everything.',
        one_of("speech", "always"),
        "--policy",
    ),
    Field(
        "stream",
        "chunk_ms",
        50,
        "Length of each audio message in ms (20-100): shorter reaches the server sooner.",
        between(20, 100, " ms"),
    ),
    Field(
        "stream",
        "keepalive_s",
        4.0,
        "Seconds between KeepAlive messages while nothing is sent (1-8).",
        between(1, 8, " s"),
    ),
    Field(
        "stream",
        "close_timeout_s",
        5.0,
        "Seconds to wait at exit for the server to flush and close.",
        between(0.5, 60, " s"),
    ),
    Field(
        "stream",
        "reconnect_give_up_s",
        60.0,
        "After a dropped connection, keep reconnecting (with backoff) for this many seconds, "
        "then exit 5.",
        between(1, 86400, " s"),
    ),
    Field(
        "stream",
        "retain_s",
        120.0,
        "Audio of utterances not yet printed is kept this many seconds for replay after a "
        "reconnect.",
        between(5, 3600, " s"),
    ),
    Field(
        "stream",
        "replay_speed",
        1.25,
        "Replay speed after a reconnect, in multiples of real time (Deepgram accepts at most "
        "about 1.25); 0 replays unpaced (fine for a local server).",
        between(0, 100, " (0 = unpaced)"),
    ),
)
SECTION = Section("stream", HELP, FIELDS)
