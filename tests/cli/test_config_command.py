"""`vad-dictate config` and bad settings, end to end: the real command in a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import ROOT, default_env, run_cli
from tests.wavs import silence, write_wav
from vad_dictate.config import FIELDS
from vad_dictate.engines.tone import synth_word

KEY = "cfg-secret-key-5b2e91"
URL_SECRET = "url-pass-77d1"


def run(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(args, default_env(tmp, **env))


def assert_one_sentence(res: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    for part in parts:
        assert part in res.stderr


@pytest.fixture
def layered(tmp_path: Path) -> tuple[Path, list[str], dict[str, str]]:
    """A config file, environment and flags that each set some keys (and the API key)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[deepgram]\napi_key = "{KEY}-file"\n[vad]\nsilence_ms = 800\naggressiveness = 1\n'
    )
    cfg.chmod(0o600)
    env = {"VAD_DICTATE_VAD_SILENCE_MS": "600", "VAD_DICTATE_VAD_ONSET_MS": "120"}
    env["DEEPGRAM_API_KEY"] = KEY
    flags = ["--config", str(cfg), "--min-utterance-ms", "0", "--vad", "silero"]
    flags += ["--url", f"wss://me:{URL_SECRET}@example.test/v1/listen", "--no-offline"]
    return cfg, flags, env


def test_config_json_shows_each_value_and_its_origin(
    tmp_path: Path, layered: tuple[Path, list[str], dict[str, str]]
) -> None:
    cfg, flags, env = layered
    res = run(tmp_path, "config", "--json", *flags, **env)
    assert res.returncode == 0, res.stderr
    assert KEY not in res.stdout + res.stderr and URL_SECRET not in res.stdout + res.stderr
    report = json.loads(res.stdout)
    got = {name: (v["value"], v["source"], v["where"]) for name, v in report["settings"].items()}
    assert list(got) == [f.name for f in FIELDS]
    assert got["vad.aggressiveness"] == (1, "file", str(cfg))
    assert got["vad.silence_ms"] == (600, "environment", "VAD_DICTATE_VAD_SILENCE_MS")
    assert got["vad.onset_ms"] == (120, "environment", "VAD_DICTATE_VAD_ONSET_MS")
    assert got["vad.min_utterance_ms"] == (0, "flag", "--min-utterance-ms")
    assert got["vad.engine"] == ("silero", "flag", "--vad")
    assert got["deepgram.offline"] == (False, "flag", "--offline")
    assert got["deepgram.url"] == ("wss://***@example.test/v1/listen", "flag", "--url")
    assert got["vad.preroll_ms"] == (400, "default", "")
    assert report["api_key"] == {
        "set": True,
        "source": "environment",
        "where": "DEEPGRAM_API_KEY",
    }
    assert report["config_file"] == {"path": str(cfg), "exists": True}


def test_config_table_shows_origins_and_never_the_key(
    tmp_path: Path, layered: tuple[Path, list[str], dict[str, str]]
) -> None:
    cfg, flags, env = layered
    del env["DEEPGRAM_API_KEY"]
    res = run(tmp_path, "config", *flags, **env)
    assert res.returncode == 0, res.stderr
    assert KEY not in res.stdout + res.stderr and URL_SECRET not in res.stdout
    rows = {line.split()[0]: line.split()[1:] for line in res.stdout.splitlines()[3:]}
    assert rows["vad.aggressiveness"] == ["1", "file", str(cfg)]
    assert rows["vad.silence_ms"] == ["600", "environment", "VAD_DICTATE_VAD_SILENCE_MS"]
    assert rows["vad.min_utterance_ms"] == ["0", "flag", "--min-utterance-ms"]
    assert rows["vad.frame_ms"] == ["20", "default"]
    assert res.stdout.splitlines()[1] == f"API key: set, from file {cfg}"


def test_config_without_a_key_or_file(tmp_path: Path) -> None:
    res = run(tmp_path, "config", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["api_key"] == {"set": False, "source": None, "where": None}
    assert report["config_file"]["exists"] is False
    assert {v["source"] for v in report["settings"].values()} == {"default"}


def test_config_example_prints_the_example_file(tmp_path: Path) -> None:
    res = run(tmp_path, "config", "--example")
    assert res.returncode == 0, res.stderr
    assert res.stdout == (ROOT / "config.example.toml").read_text()


def test_a_short_word_is_printed_not_dropped_as_a_blip(server_url: str, tmp_path: Path) -> None:
    # A 200 ms word: less speech than the default min_utterance_ms (250), which once dropped it
    # as a blip; it stands far above the noise floor, so it is a word and is printed, with the
    # default and with --min-utterance-ms 0 alike.
    audio = np.concatenate([silence(0.5), synth_word("alpha", 0.2, 16000), silence(1.5)])
    wav = write_wav(tmp_path / "short.wav", audio)
    args = ["--input", str(wav), "--url", server_url, "--speed", "0", "--quiet"]
    for extra in ([], ["--min-utterance-ms", "0"]):
        res = run(tmp_path, *args, *extra)
        assert res.returncode == 0, res.stderr
        assert res.stdout.rstrip(".\n").lower() == "alpha"


def test_max_utterance_ms_zero_is_refused_naming_the_key(tmp_path: Path) -> None:
    for command in ([], ["config"]):
        res = run(tmp_path, *command, "--max-utterance-ms", "0")
        assert_one_sentence(
            res, "vad.max_utterance_ms given as --max-utterance-ms is '0'", "between 1000"
        )


@pytest.mark.parametrize(
    ("args", "env", "parts"),
    [
        (
            ["--min-utterance-ms", "3000", "--max-utterance-ms", "2000"],
            {},
            ["vad.max_utterance_ms must be greater than vad.min_utterance_ms"],
        ),
        ([], {"VAD_DICTATE_CONTROLS_PAUSE_KEYS": "q"}, ["'q' is bound to both"]),
    ],
    ids=["min-over-max", "one-key-two-actions"],
)
def test_config_refuses_keys_that_disagree(
    tmp_path: Path, args: list[str], env: dict[str, str], parts: list[str]
) -> None:
    assert_one_sentence(run(tmp_path, "config", *args, **env), *parts)


@pytest.mark.parametrize(
    ("content", "parts"),
    [
        (b"[vad]\nsilence_ms = [1, 2]\n", ["vad.silence_ms in '", "is a list", "whole number"]),
        (b"[stream]\nretain_s = {a = 1}\n", ["stream.retain_s in '", "is a table", "number"]),
        (b"[vad]\nsilence_ms = 1979-05-27\n", ["vad.silence_ms in '", "is a date"]),
        (b"[vad]\nsilence_ms = 700 # caf\xe9\n", ["is not UTF-8 text", "save it as UTF-8"]),
    ],
    ids=["list", "table", "date", "latin1"],
)
def test_type_confusion_in_the_file_is_one_sentence(
    tmp_path: Path, content: bytes, parts: list[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_bytes(content)
    for command in ([], ["config"]):
        assert_one_sentence(run(tmp_path, *command, "--config", str(cfg)), str(cfg), *parts)


def test_endless_config_file_is_refused(tmp_path: Path) -> None:
    assert_one_sentence(run(tmp_path, "config", "--config", "/dev/zero"), "larger than 1 MB")


def test_speed_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "s.wav", silence(0.5))
    res = run(
        tmp_path, "--input", str(wav), "--speed", "nan", "--url", "ws://127.0.0.1:9/v1/listen"
    )
    assert_one_sentence(res, "--speed is nan, but it must be 0 (no pacing) or more.")


def test_key_with_a_newline_inside_is_refused_before_connecting(tmp_path: Path) -> None:
    # It used to reach the handshake and come back in the error message, key and all.
    wav = write_wav(tmp_path / "s.wav", silence(0.5))
    secret = f"{KEY}\r\nX-Injected: 1"
    res = run(
        tmp_path,
        "--input",
        str(wav),
        "--url",
        "ws://127.0.0.1:9/v1/listen",
        DEEPGRAM_API_KEY=secret,
    )
    assert_one_sentence(res, "DEEPGRAM_API_KEY", "copy the key again")
    assert KEY not in res.stderr + res.stdout
