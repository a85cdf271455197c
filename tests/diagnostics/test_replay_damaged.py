"""`vad-dictate replay` on a damaged recording: one sentence naming the damage, exit 2, no
traceback; the same recording undamaged replays."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.apprun import app_cmd, app_env
from tests.wavs import utterances, write_wav
from vad_dictate.diagnostics.record import load_recording
from vad_dictate.errors import InputFileError

GOOD_META: dict[str, Any] = {
    "version": 1,
    "rate": 16000,
    "channels": 1,
    "block_frames": 480,
    "endpointer": {"silence_ms": 700, "frame_ms": 30},
}
FINALIZE = {"type": "finalize", "channel": 0, "trigger": "vad", "onset": 1, "last_speech": 2}


def recording(tmp: Path, meta: object = GOOD_META, events: str = "") -> Path:
    rec = tmp / "rec"
    rec.mkdir()
    write_wav(rec / "audio.wav", utterances([["alpha", "bravo"]], pause=1.0))
    (rec / "session.json").write_text(json.dumps(meta))
    (rec / "events.jsonl").write_text(events)
    return rec


def with_meta(**change: object) -> dict[str, Any]:
    return {**GOOD_META, **change}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD_META.items() if k != key}


# (what the recording gets, the words the sentence must contain)
DAMAGE: list[tuple[str, Callable[[Path], Path], str]] = [
    ("no rate", lambda t: recording(t, without("rate")), "session.json has no 'rate'"),
    ("no channels", lambda t: recording(t, without("channels")), "has no 'channels'"),
    ("no endpointer", lambda t: recording(t, without("endpointer")), "has no 'endpointer'"),
    ("zero rate", lambda t: recording(t, with_meta(rate=0)), "says rate is 0, not a sample"),
    ("rate as text", lambda t: recording(t, with_meta(rate="16k")), "says rate is '16k'"),
    ("rate as bool", lambda t: recording(t, with_meta(rate=True)), "says rate is True"),
    ("channels 0", lambda t: recording(t, with_meta(channels=0)), "channels is 0, not 1 to 32"),
    ("block 0", lambda t: recording(t, with_meta(block_frames=0)), "block_frames is 0"),
    ("meta a list", lambda t: recording(t, [1, 2]), "session.json is not a JSON object"),
    (
        "endpointer a list",
        lambda t: recording(t, with_meta(endpointer=[700])),
        "'endpointer' settings that are not a JSON object",
    ),
    (
        "endpointer value",
        lambda t: recording(t, with_meta(endpointer={"silence_ms": "long"})),
        "its endpointer settings are invalid (vad.silence_ms",
    ),
    ("event not JSON", lambda t: recording(t, events="{\n"), "events.jsonl line 1 is not JSON"),
    ("event a list", lambda t: recording(t, events="[]\n"), "line 1 is not a JSON object"),
    (
        "finalize without end",
        lambda t: recording(t, events=json.dumps(FINALIZE) + "\n"),
        "line 1 is a finalize with a missing or wrong 'end'",
    ),
]


@pytest.mark.parametrize(
    ("make", "said"), [(m, s) for _, m, s in DAMAGE], ids=[d[0] for d in DAMAGE]
)
def test_damaged_session_is_one_sentence(
    tmp_path: Path, make: Callable[[Path], Path], said: str
) -> None:
    rec = make(tmp_path)
    with pytest.raises(InputFileError) as info:
        load_recording(rec)
    text = str(info.value)
    assert text.startswith(f"The recording in '{rec}' is damaged: ")
    assert said in text and text.count("; ") == 1 and "\n" not in text
    assert text.endswith("; record the session again with --record")
    assert info.value.exit_code == 2


def replay(tmp: Path, rec: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        app_cmd("replay", str(rec), "--engine", "tone", "--output", "jsonl"),
        env=app_env(tmp),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def truncated_audio(tmp: Path) -> Path:
    rec = recording(tmp)
    wav = rec / "audio.wav"
    wav.write_bytes(wav.read_bytes()[:30])
    return rec


def empty_audio(tmp: Path) -> Path:
    rec = recording(tmp)
    (rec / "audio.wav").write_bytes(b"")
    return rec


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda t: recording(t, without("rate")), "session.json has no 'rate'"),
        (lambda t: recording(t, with_meta(rate=0)), "says rate is 0, not a sample rate"),
        (lambda t: recording(t, with_meta(channels="one")), "says channels is 'one'"),
        (truncated_audio, "its WAV header is damaged or truncated"),
        (empty_audio, "the file is empty"),
    ],
    ids=["missing key", "zero rate", "wrong type", "truncated audio", "empty audio"],
)
def test_replay_of_a_damaged_recording_exits_2_in_one_line(
    tmp_path: Path, make: Callable[[Path], Path], said: str
) -> None:
    res = replay(tmp_path, make(tmp_path))
    assert res.returncode == 2, res.stderr
    assert res.stdout == "" and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], res.stderr


def test_the_undamaged_recording_replays(tmp_path: Path) -> None:
    res = replay(tmp_path, recording(tmp_path))
    assert res.returncode == 0, res.stderr
    assert [json.loads(line)["text"] for line in res.stdout.splitlines()] == ["Alpha bravo."]
