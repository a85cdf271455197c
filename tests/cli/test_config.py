"""Configuration layering, validation messages, and the documented example file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from vad_dictate.config import FIELDS, load_settings
from vad_dictate.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_example_documents_every_key_with_its_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    flat = {f"{s}.{k}": v for s, table in data.items() for k, v in table.items()}
    assert flat == {f.name: f.default for f in FIELDS}


def test_example_loads_to_defaults(tmp_path: Path) -> None:
    s = load_settings(str(EXAMPLE), {}, environ={})
    assert s.values == {f.name: f.default for f in FIELDS}
    assert s.api_key is None


def test_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[vad]\nsilence_ms = 800\naggressiveness = 1\n[output]\nformat = 'jsonl'\n")
    env = {"VAD_DICTATE_VAD_SILENCE_MS": "600", "DEEPGRAM_API_KEY": "k-env"}
    s = load_settings(str(cfg), {"vad.silence_ms": 500}, environ=env)
    assert s.integer("vad.silence_ms") == 500
    s = load_settings(str(cfg), {}, environ=env)
    assert s.integer("vad.silence_ms") == 600
    assert s.integer("vad.aggressiveness") == 1
    assert s.text("output.format") == "jsonl"
    assert s.api_key == "k-env"


def test_default_path_is_optional(tmp_path: Path) -> None:
    s = load_settings(None, {}, environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert s.source == str(tmp_path / "vad-dictate" / "config.toml")


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist; check the --config path"):
        load_settings(str(tmp_path / "nope.toml"), {}, environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[vad]\nsilence_ms = 50\n", "vad.silence_ms in '.*' is 50, but it must be between 100"),
        ("[vad]\naggressiveness = 7\n", "vad.aggressiveness .* must be between 0 and 3"),
        ("[vad]\nframe_ms = 25\n", "vad.frame_ms .* must be 10, 20 or 30"),
        ("[vad]\nsilence_ms = 'long'\n", "vad.silence_ms .* must be a number"),
        ("[vad]\nsilence_ms = 1.5\n", "must be a whole number"),
        ("[stream]\npolicy = 'sometimes'\n", "stream.policy .* must be one of 'speech', 'always'"),
        ("[deepgram]\nurl = 'http://x'\n", "must be a ws:// or wss:// URL"),
        ("[deepgram]\npunctuate = 'maybe'\n", "must be true or false"),
        ("[vad]\nsilense_ms = 700\n", "Unknown setting 'vad.silense_ms'"),
        ("vad = 3\n", "'vad' in '.*' must be a \\[section\\]"),
        ("[vad\n", "is not valid TOML"),
    ],
)
def test_bad_file_values(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(str(cfg), {}, environ={})
    assert "\n" not in str(info.value)


def test_bad_env_and_cli_values_name_their_origin() -> None:
    with pytest.raises(ConfigError, match="in the environment is 'x'"):
        load_settings(None, {}, environ={"VAD_DICTATE_VAD_SILENCE_MS": "x", "HOME": "/nonexistent"})
    with pytest.raises(ConfigError, match="on the command line is 9"):
        load_settings(None, {"vad.aggressiveness": 9}, environ={"HOME": "/nonexistent"})


def test_key_in_world_readable_file_warns(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[deepgram]\napi_key = "file-key-123"\n')
    os.chmod(cfg, 0o644)
    warnings: list[str] = []
    s = load_settings(str(cfg), {}, environ={}, warn=warnings.append)
    assert s.api_key == "file-key-123"
    assert len(warnings) == 1 and "chmod 600" in warnings[0]
    assert "file-key-123" not in warnings[0]
    os.chmod(cfg, 0o600)
    warnings.clear()
    load_settings(str(cfg), {}, environ={}, warn=warnings.append)
    assert warnings == []
