"""Deepgram's formatting options: config keys and flags become query parameters."""

from __future__ import annotations

import pytest

from vad_dictate.cli.dictate import _connect_options
from vad_dictate.cli.parser import dictate_parser, setting_overrides
from vad_dictate.config import load_settings
from vad_dictate.deepgram.protocol import ConnectOptions, query_params
from vad_dictate.errors import ConfigError

SHAPING = ("dictation", "numerals", "filler_words", "mip_opt_out", "redact", "smart_format")


def params(*argv: str, environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    overrides, flags = setting_overrides(dictate_parser().parse_args(list(argv)))
    s = load_settings(None, overrides, environ=environ or {"HOME": "/nonexistent"}, flags=flags)
    return [(k, v) for k, v in query_params(_connect_options(s, 1)) if k in SHAPING]


def test_defaults_send_dictation_for_english_only() -> None:
    assert params() == [("dictation", "true")]
    assert params("--language", "en-GB") == [("dictation", "true")]
    assert params("--language", "fr") == []
    assert params("--no-dictation") == []


def test_every_option_by_flag() -> None:
    argv = ("--numerals", "--smart-format", "--filler-words", "--mip-opt-out")
    got = params(*argv, "--redact", "pci", "--redact", "ssn")
    assert got == [
        ("smart_format", "true"),
        ("dictation", "true"),
        ("numerals", "true"),
        ("filler_words", "true"),
        ("mip_opt_out", "true"),
        ("redact", "pci"),
        ("redact", "ssn"),
    ]


def test_options_by_environment() -> None:
    env = {"HOME": "/nonexistent", "VAD_DICTATE_DEEPGRAM_NUMERALS": "true"}
    assert ("numerals", "true") in params(environ=env)


def test_bad_redact_value_is_one_sentence() -> None:
    with pytest.raises(ConfigError, match=r"deepgram.redact .* may only hold 'pci', 'pii'"):
        params("--redact", "everything")


def test_protocol_builds_the_parameters() -> None:
    opts = ConnectOptions(numerals=True, redact=("numbers",), filler_words=True)
    q = query_params(opts)
    assert ("numerals", "true") in q and ("redact", "numbers") in q
    assert ("filler_words", "true") in q and ("dictation", "true") not in q
