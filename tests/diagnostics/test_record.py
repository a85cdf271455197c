"""--record DIR keeps audio and decisions; `vad-dictate replay DIR` reproduces the session."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from tests.apprun import app_env, run_cli
from tests.serverproc import running_server
from tests.wavs import utterances, write_wav
from vad_dictate.audio.files import read_wav
from vad_dictate.diagnostics.record import compare_decisions

GROUPS = [["alpha", "bravo"], ["charlie", "delta", "echo"], ["foxtrot", "golf"]]


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(args, app_env(tmp))


def texts(stdout: str) -> list[str]:
    return [json.loads(line)["text"] for line in stdout.splitlines()]


def test_record_then_replay_gives_the_same_words_and_decisions(tmp_path: Path) -> None:
    audio = utterances(GROUPS, pause=1.0)
    wav, rec = write_wav(tmp_path / "in.wav", audio), tmp_path / "rec"
    with running_server() as url:
        done = run(
            tmp_path,
            "--input",
            str(wav),
            "--url",
            url,
            "--speed",
            "0",
            "--output",
            "jsonl",
            "--record",
            str(rec),
        )
    assert done.returncode == 0, done.stderr
    said = texts(done.stdout)
    assert said == ["Alpha bravo.", "Charlie delta echo.", "Foxtrot golf."]

    assert np.array_equal(read_wav(rec / "audio.wav").samples[:, 0], audio)  # raw audio, exact
    meta = json.loads((rec / "session.json").read_text())
    assert (meta["rate"], meta["channels"], meta["endpointer"]["silence_ms"]) == (16000, 1, 700)
    assert meta["block_frames"] > 0  # the replay cuts the audio into the same blocks
    events = [json.loads(line) for line in (rec / "events.jsonl").read_text().splitlines()]
    times = [e["t"] for e in events]
    assert times == sorted(times)
    kinds = {e["type"] for e in events}
    assert {"vad", "finalize", "sent_audio", "received"} <= kinds
    vad = [e["speech"] for e in events if e["type"] == "vad"]
    assert vad == [True, False] * 3  # three utterances: on, off
    finals = [e for e in events if e["type"] == "finalize"]
    assert [f["trigger"] for f in finals] == ["vad"] * 3
    first = json.loads(done.stdout.splitlines()[0])
    assert finals[0]["onset_s"] == first["start"] and finals[0]["last_speech_s"] == first["end"]
    assert finals[0]["onset"] < finals[0]["last_speech"] < finals[0]["end"]
    got = [e["message"] for e in events if e["type"] == "received"]
    assert any(isinstance(m, dict) and m.get("type") == "Results" for m in got)

    replay = run(tmp_path, "replay", str(rec), "--engine", "tone", "--output", "jsonl")
    assert replay.returncode == 0, replay.stderr
    assert texts(replay.stdout) == said
    assert "replay: the VAD ended the same 3 utterance(s) as in the recording." in replay.stderr


def finalize(onset: int, trigger: str = "vad") -> dict[str, Any]:
    return {
        "channel": 0,
        "trigger": trigger,
        "onset": onset,
        "last_speech": onset + 10,
        "end": onset + 20,
    }


def test_compare_decisions() -> None:
    a = [finalize(100), finalize(500, "hotkey"), finalize(900)]
    assert compare_decisions(a, [finalize(100), finalize(900)]) == []  # forced ones are skipped
    assert compare_decisions(a, [finalize(160), finalize(900)]) == [
        "utterance 1: recorded channel 0 onset 100 last speech 110 end 120 (frames), "
        "replayed channel 0 onset 160 last speech 170 end 180 (frames)"
    ]
    assert compare_decisions(a, [finalize(100)]) == [
        "utterance 2: recorded channel 0 onset 900 last speech 910 end 920 (frames), replayed none"
    ]


def test_replay_of_something_else_is_one_clear_error(tmp_path: Path) -> None:
    done = run(tmp_path, "replay", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr == (
        f"vad-dictate: '{tmp_path}' is not a recording (no audio.wav and session.json); "
        f"make one with: vad-dictate --record '{tmp_path}'\n"
    )
