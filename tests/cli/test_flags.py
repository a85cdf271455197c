"""The `vad-dictate` flags derive from the config table: every declared flag exists and sets
its key, and no value given on the command line is ever dropped (0 and false included)."""

from __future__ import annotations

import argparse

import pytest

from vad_dictate.cli.parser import config_parser, dictate_parser, setting_overrides
from vad_dictate.config import FIELDS, Field, Origin, Settings, load_settings
from vad_dictate.errors import ConfigError

NO_ENV = {"HOME": "/nonexistent"}
FLAGGED = [f for f in FIELDS if f.flag]
NUMERIC = [
    f for f in FIELDS if isinstance(f.default, int | float) and not isinstance(f.default, bool)
]
# Flags of `vad-dictate` before they were derived from the table: all must still exist.
PUBLIC = [
    "--version",
    "--config",
    "--input",
    "--speed",
    "--url",
    "--offline",
    "--output",
    "--append",
    "--record",
    "--hotkey",
    "--push-to-talk",
    "--device",
    "--channels",
    "--policy",
    "--vad",
    "--aggressiveness",
    "--silence-ms",
    "--preroll-ms",
    "--min-utterance-ms",
    "--max-utterance-ms",
    "--model",
    "--language",
    "--keyterm",
    "--quiet",
]


def _options(p: argparse.ArgumentParser) -> set[str]:
    return {s for action in p._actions for s in action.option_strings}


def _sample(f: Field) -> list[str]:
    """Command-line words that set ``f`` to a valid value other than its default."""
    assert f.flag is not None
    if isinstance(f.default, bool):
        return [f.flag] if not f.default else [f"--no-{f.flag[2:]}"]
    if isinstance(f.default, list):
        one, two = f.choices[-2:] if f.choices else ("one", "two")
        return [f.flag, one, f.flag, two]
    if f.choices:
        return [f.flag, next(c for c in f.choices if c != f.default)]
    if isinstance(f.default, str):
        return [f.flag, "ws://127.0.0.1:1/v1/listen" if f.name == "deepgram.url" else "3"]
    candidates = [f.default + 1, f.default - 1, f.default * 2]
    return [f.flag, str(next(v for v in candidates if f.check(v) is None))]


def _settings(argv: list[str], parser: argparse.ArgumentParser | None = None) -> Settings:
    overrides, flags = setting_overrides((parser or dictate_parser()).parse_args(argv))
    return load_settings(None, overrides, environ=NO_ENV, flags=flags)


def test_public_flags_are_kept() -> None:
    assert set(PUBLIC) <= _options(dictate_parser())


@pytest.mark.parametrize("f", FLAGGED, ids=lambda f: f.flag)
@pytest.mark.parametrize("parser", [dictate_parser, config_parser], ids=["dictate", "config"])
def test_every_declared_flag_sets_its_key(f: Field, parser: type[argparse.ArgumentParser]) -> None:
    s = _settings(_sample(f), parser())
    assert s.get(f.name) != f.default
    assert s.origin(f.name) == Origin("flag", f.flag or "")
    others = [g.name for g in FIELDS if g.name != f.name and s.origin(g.name).source != "default"]
    assert others == []


def test_only_declared_flags_set_keys() -> None:
    dests = {a.dest for a in dictate_parser()._actions}
    assert {f.name for f in FIELDS} & dests == {f.name for f in FLAGGED}


def test_the_two_reported_flags_are_covered() -> None:
    assert {"--min-utterance-ms", "--max-utterance-ms"} <= {f.flag for f in NUMERIC}


@pytest.mark.parametrize("f", [f for f in NUMERIC if f.flag], ids=lambda f: f.flag)
def test_numeric_flag_zero_is_applied_or_refused_never_ignored(f: Field) -> None:
    assert f.flag is not None
    argv = [f.flag, "0"]
    if f.check(0) is None:
        s = _settings(argv)
        assert s.get(f.name) == 0
        assert s.origin(f.name) == Origin("flag", f.flag)
    else:
        with pytest.raises(ConfigError) as info:
            _settings(argv)
        message = str(info.value)
        assert f"{f.name} given as {f.flag} is '0', but it must be between" in message
        assert "\n" not in message


@pytest.mark.parametrize("f", NUMERIC, ids=lambda f: f.name)
def test_numeric_environment_zero_is_applied_or_refused_never_ignored(f: Field) -> None:
    env = {**NO_ENV, f.env_var: "0"}
    if f.check(0) is None:
        s = load_settings(None, {}, environ=env)
        assert s.get(f.name) == 0
        assert s.origin(f.name) == Origin("environment", f.env_var)
    else:
        with pytest.raises(ConfigError, match=f"{f.name} in the environment .* is '0', but it"):
            load_settings(None, {}, environ=env)


@pytest.mark.parametrize(
    "f", [f for f in FLAGGED if isinstance(f.default, bool)], ids=lambda f: f.flag
)
def test_bool_flag_false_overrides_true_from_the_environment(f: Field) -> None:
    assert f.flag is not None
    overrides, flags = setting_overrides(dictate_parser().parse_args([f"--no-{f.flag[2:]}"]))
    s = load_settings(None, overrides, environ={**NO_ENV, f.env_var: "true"}, flags=flags)
    assert s.get(f.name) is False
    assert s.origin(f.name).source == "flag"
    s = _settings([f.flag])
    assert s.get(f.name) is True


def test_output_flag_sets_format_and_targets() -> None:
    s = _settings(["--output", "jsonl,type", "--output", "clipboard"])
    assert s.get("output.format") == "jsonl"
    assert s.get("output.targets") == ["type", "clipboard"]
    assert s.origin("output.targets") == Origin("flag", "--output")
    with pytest.raises(ConfigError, match="one of text or jsonl"):
        _settings(["--output", "text,jsonl"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--silence-ms", "1.5"],
            "vad.silence_ms given as --silence-ms is '1.5', but it must be a whole number.",
        ),
        (
            ["--channels", "many"],
            "audio.channels given as --channels is 'many', but it must be a whole number.",
        ),
        (
            ["--url", "http://x"],
            "deepgram.url given as --url is 'http://x', but it must be a ws:// or wss:// URL.",
        ),
    ],
)
def test_bad_flag_values_name_key_and_flag(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _settings(argv)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "f", [f for f in FLAGGED if isinstance(f.default, list) and f.choices], ids=lambda f: f.flag
)
def test_list_flag_outside_its_vocabulary_names_the_key(f: Field) -> None:
    assert f.flag is not None
    with pytest.raises(ConfigError, match=f"{f.name} given as {f.flag} is .* may only hold"):
        _settings([f.flag, "nonsense"])
