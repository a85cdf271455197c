"""Configuration layering, validation messages, and the example file written from the table."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from vad_dictate.config import FIELDS, SECTIONS, TABLES, Origin, load_settings
from vad_dictate.config.example import render_example
from vad_dictate.errors import ConfigError
from vad_dictate.ui.composer import DEFAULT_COMMANDS

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
REGENERATE = "regenerate it: vad-dictate config --example > config.example.toml"


def test_example_documents_every_key_with_its_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    flat = {f"{s}.{k}": v for s, table in data.items() for k, v in table.items() if s not in TABLES}
    assert flat == {f.name: f.default for f in FIELDS}, REGENERATE
    assert data["commands"] == DEFAULT_COMMANDS and data["replacements"] == {}


def _comments_before_keys(text: str) -> dict[str, str]:
    """Each ``key = value`` line of a TOML file, as "section.key", with the comment above it."""
    out: dict[str, str] = {}
    section, comment = "", list[str]()
    for line in text.splitlines():
        if line.startswith("["):
            section, comment = line.strip("[]"), []
        elif section in TABLES:
            continue  # free-form phrases, not keys
        elif line.startswith("# "):
            comment.append(line[2:])
        elif " = " in line:
            out[f"{section}.{line.split(' = ')[0]}"] = " ".join(comment)
            comment = []
        else:
            comment = []
    return out


def test_example_comments_are_the_declared_help_and_flag() -> None:
    documented = _comments_before_keys(EXAMPLE.read_text())
    assert list(documented) == [f.name for f in FIELDS], REGENERATE
    for f in FIELDS:
        assert f.help in documented[f.name], f"{f.name}: {REGENERATE}"
        if f.flag:
            assert documented[f.name].endswith(f"Flag: {f.flag}."), f"{f.name}: {REGENERATE}"


def test_example_is_exactly_what_the_table_writes() -> None:
    assert EXAMPLE.read_text() == render_example(), REGENERATE


def test_every_key_is_declared_once_with_help_and_valid_default() -> None:
    names = [f.name for f in FIELDS]
    assert len(names) == len(set(names))
    flags = [f.flag for f in FIELDS if f.flag]
    assert len(flags) == len(set(flags))
    assert len({f.env_var for f in FIELDS}) == len(FIELDS)
    assert [s.name for s in SECTIONS] == list(dict.fromkeys(f.section for f in FIELDS))
    for f in FIELDS:
        assert f.help.strip() and f.help.rstrip().endswith((".", ")")), f.name
        assert f.check(f.default) is None, f"{f.name}'s default fails its own check"


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
        ("[vad]\nsilence_ms = 'long'\n", "vad.silence_ms .* must be a whole number"),
        ("[vad]\nsilence_ms = 1.5\n", "must be a whole number"),
        ("[stream]\npolicy = 'sometimes'\n", "stream.policy .* must be one of 'speech', 'always'"),
        ("[deepgram]\nurl = 'http://x'\n", "must be a ws:// or wss:// URL"),
        ("[deepgram]\npunctuate = 'maybe'\n", "must be true or false"),
        ("[vad]\nsilense_ms = 700\n", "Unknown setting 'vad.silense_ms'"),
        ("vad = 3\n", "'vad' in '.*' must be a \\[section\\]"),
        ("[vad\n", "is not valid TOML"),
        ("[vad]\nsilence_ms = [700]\n", "vad.silence_ms .* is a list, but it must be a whole"),
        ("[vad]\nsilence_ms = {a = 1}\n", "vad.silence_ms .* is a table, but it must be a whole"),
        ("[vad]\nsilence_ms = nan\n", "vad.silence_ms .* is nan, but it must be a whole number"),
        ("[vad]\nsilence_ms = 1e400\n", "vad.silence_ms .* is inf, but it must be a whole number"),
        ("[vad]\nsilence_ms = 12:30:00\n", "vad.silence_ms .* is a time, but it must be a whole"),
        ("[stream]\nretain_s = nan\n", "stream.retain_s .* is nan, but it must be a finite number"),
        ("[stream]\nretain_s = [1.0]\n", "stream.retain_s .* is a list, but it must be a finite"),
        ("[stream]\nretain_s = 1" + "0" * 400 + "\n", "stream.retain_s .* must be a finite number"),
        ("[stream]\nretain_s = true\n", "stream.retain_s .* is True, but it must be a finite"),
        (
            "[deepgram]\npunctuate = [true]\n",
            "deepgram.punctuate .* is a list, but it must be true",
        ),
        ("[deepgram]\nurl = {a = 1}\n", "deepgram.url .* is a table, but it must be a string"),
        (
            "[deepgram]\nkeyterms = [1, 2]\n",
            "deepgram.keyterms .* is a list, but it must be a list",
        ),
        ("[deepgram]\napi_key = [1]\n", "deepgram.api_key in '.*' must be a string"),
        ("[vad.sub]\nx = 1\n", "Unknown setting 'vad.sub' in '.*'"),
        ("[commands]\n'jump' = 'leap'\n", "command 'jump' has the unknown action 'leap'; use"),
        ("[commands]\n'x' = {insert = 3}\n", "command 'x' has the unknown action"),
        ("[replacements]\n'' = 'x'\n", "\\[replacements\\] .* has an entry with an empty phrase"),
        ("[replacements]\n'?!' = 'x'\n", "has an entry with an empty phrase"),
        ("[replacements]\n'a' = 1\n", "'a' must map to a string, not 1"),
    ],
)
def test_bad_file_values(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(str(cfg), {}, environ={})
    assert "\n" not in str(info.value)


def test_config_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Cannot read config file '.*' \(Is a directory\)"):
        load_settings(str(tmp_path), {}, environ={})


def test_infinite_environment_number_is_refused() -> None:
    env = {"VAD_DICTATE_STREAM_RETAIN_S": "inf", "HOME": "/nonexistent"}
    with pytest.raises(ConfigError, match=r"stream.retain_s in .* is .inf., but it must be a fin"):
        load_settings(None, {}, environ=env)


def test_bad_env_and_cli_values_name_their_origin() -> None:
    with pytest.raises(
        ConfigError, match=r"in the environment \(VAD_DICTATE_VAD_SILENCE_MS\) is 'x'"
    ):
        load_settings(None, {}, environ={"VAD_DICTATE_VAD_SILENCE_MS": "x", "HOME": "/nonexistent"})
    with pytest.raises(
        ConfigError,
        match=r"vad.aggressiveness given as --aggressiveness is 9, but it must be between 0 and 3",
    ):
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


def test_each_value_remembers_where_it_came_from(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[vad]\nsilence_ms = 800\naggressiveness = 1\n")
    env = {"VAD_DICTATE_VAD_ONSET_MS": "120", "VAD_DICTATE_VAD_AGGRESSIVENESS": "3"}
    s = load_settings(str(cfg), {"vad.aggressiveness": 0}, environ=env, flags={})
    assert s.origin("vad.silence_ms") == Origin("file", str(cfg))
    assert s.origin("vad.onset_ms") == Origin("environment", "VAD_DICTATE_VAD_ONSET_MS")
    assert s.origin("vad.aggressiveness") == Origin("flag", "--aggressiveness")
    assert s.integer("vad.aggressiveness") == 0
    assert s.origin("vad.preroll_ms") == Origin("default")
    assert s.api_key is None and s.api_key_origin is None


def test_api_key_origin_env_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[deepgram]\napi_key = "file-key"\n')
    os.chmod(cfg, 0o600)
    s = load_settings(str(cfg), {}, environ={})
    assert (s.api_key, s.api_key_origin) == ("file-key", Origin("file", str(cfg)))
    s = load_settings(str(cfg), {}, environ={"DEEPGRAM_API_KEY": "env-key"})
    assert (s.api_key, s.api_key_origin) == ("env-key", Origin("environment", "DEEPGRAM_API_KEY"))


def test_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b"\xef\xbb\xbf[vad]\nsilence_ms = 900\n")
    assert load_settings(str(cfg), {}, environ={}).integer("vad.silence_ms") == 900


def test_misspelt_environment_variable_warns_and_known_ones_do_not() -> None:
    warnings: list[str] = []
    env = {"VAD_DICTATE_VAD_SILENSE_MS": "600", "VAD_DICTATE_VAD_ONSET_MS": "100"}
    s = load_settings(None, {}, environ={**env, "HOME": "/nonexistent"}, warn=warnings.append)
    assert s.integer("vad.onset_ms") == 100
    assert warnings == [
        "warning: VAD_DICTATE_VAD_SILENSE_MS is not a setting, so it is ignored; see "
        "config.example.toml."
    ]


@pytest.mark.parametrize("key", ["k-123\n", "  k-123", "k-123\r\n"])
def test_whitespace_around_the_key_is_dropped(key: str) -> None:
    s = load_settings(None, {}, environ={"DEEPGRAM_API_KEY": key, "HOME": "/nonexistent"})
    assert s.api_key == "k-123"


@pytest.mark.parametrize("key", ["k-123\nX-Evil: 1", "k 123", "clé-123", "k\x00123"])
def test_a_key_no_header_can_carry_is_refused_without_echoing_it(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match="API key in DEEPGRAM_API_KEY holds a space") as info:
        load_settings(None, {}, environ={"DEEPGRAM_API_KEY": key, "HOME": "/nonexistent"})
    assert "123" not in str(info.value)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[deepgram]\napi_key = {json.dumps(key)}\n")
    cfg.chmod(0o600)
    with pytest.raises(ConfigError, match=r"API key in deepgram.api_key in '.*' holds") as info:
        load_settings(str(cfg), {}, environ={})
    assert "123" not in str(info.value)


def test_a_whole_number_where_text_is_expected_is_that_text(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[audio]\ndevice = 2\n")
    assert load_settings(str(cfg), {}, environ={}).text("audio.device") == "2"
    cfg.write_text("[audio]\ndevice = 2.5\n")
    with pytest.raises(ConfigError, match=r"audio.device in .* is 2.5, but it must be a string"):
        load_settings(str(cfg), {}, environ={})
