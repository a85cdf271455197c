"""Argument parsing. The flags that set a configuration key are derived from ``FIELDS``;
only the options that are not settings (--input, --speed, --record, ...) are written here."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from vad_dictate import __version__
from vad_dictate.config import FIELDS, Field, field
from vad_dictate.config.example import toml_value
from vad_dictate.errors import ConfigError

OUTPUTS = ("text", "jsonl", "type", "clipboard")
FORMATS = ("text", "jsonl")


class ArgParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one sentence and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message}; see '{self.prog} --help'.\n")
        raise SystemExit(2)


def _flag_help(f: Field) -> str:
    text = f"{f.help} [{f.name}, default {toml_value(f.default)}]"
    return text.replace("%", "%%")


def add_setting_flags(p: argparse.ArgumentParser) -> None:
    """One flag per key that declares one; values are validated by the config layer."""
    for f in FIELDS:
        if f.flag is None:
            continue
        metavar = f.metavar or f.flag.lstrip("-").replace("-", "_").upper()
        common: dict[str, Any] = {"dest": f.name, "default": None, "help": _flag_help(f)}
        if isinstance(f.default, bool):
            p.add_argument(f.flag, action=argparse.BooleanOptionalAction, **common)
        elif isinstance(f.default, list):
            # No argparse choices: the config layer's message names the key and what it holds.
            p.add_argument(f.flag, action="append", metavar=metavar, **common)
        elif f.choices:
            p.add_argument(f.flag, choices=f.choices, **common)
        else:
            p.add_argument(f.flag, metavar=metavar, **common)


def add_output_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output",
        action="append",
        type=_output_list,
        metavar="LIST",
        help="text or jsonl (stdout format), plus type and/or clipboard; comma-separated or "
        "repeated, e.g. --output text,type [output.format, output.targets]",
    )


def _settings_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with --config, --output and one flag per declared setting."""
    p = ArgParser(prog=prog, description=description)
    p.add_argument("--config", metavar="PATH", help="TOML config file (default: user config dir)")
    add_output_flag(p)
    add_setting_flags(p)
    return p


def dictate_parser() -> argparse.ArgumentParser:
    p = _settings_parser(
        "vad-dictate",
        "Dictate: speak, and each finished utterance is printed as a line. Other commands: "
        "serve, devices, replay DIR, config (the settings in effect), and finalize, pause, "
        "resume, toggle, stop, status (to drive a running vad-dictate).",
    )
    p.add_argument("--version", action="version", version=f"vad-dictate {__version__}")
    p.add_argument(
        "--input",
        metavar="FILE",
        help="read an audio file (WAV, FLAC, OGG/Opus, MP3) instead of the microphone",
    )
    p.add_argument("--speed", type=float, default=1.0, help="file pacing: N x real time, 0 = max")
    p.add_argument("--record", metavar="DIR", help="save audio and a log for 'vad-dictate replay'")
    p.add_argument("--quiet", action="store_true", help="no status or interim text on stderr")
    return p


def config_parser() -> argparse.ArgumentParser:
    p = _settings_parser(
        "vad-dictate config",
        "Print the settings in effect and where each came from (default, file, environment, "
        "flag); takes the same setting flags as dictation. The API key is never shown, only "
        "whether one is set and from where.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    p.add_argument(
        "--example",
        action="store_true",
        help="print config.example.toml (every key, its default and help) and exit",
    )
    return p


def _output_list(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in OUTPUTS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"invalid --output {value!r} (choose from {', '.join(OUTPUTS)})"
        )
    return names


def _output_overrides(groups: list[list[str]] | None) -> dict[str, Any]:
    """``--output`` values as config overrides: a stdout format and extra targets."""
    names = [n for group in groups or [] for n in group]
    formats = [n for n in names if n in FORMATS]
    if len(set(formats)) > 1:
        raise ConfigError("--output takes one of text or jsonl for stdout, not both.")
    overrides: dict[str, Any] = {}
    if formats:
        overrides["output.format"] = formats[0]
    targets = list(dict.fromkeys(n for n in names if n not in FORMATS))
    if targets:
        overrides["output.targets"] = targets
    return overrides


def setting_overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings given on the command line, and the flag that gave each.

    Only flags not given are left out (None): 0, "" and --no-X are overrides like any other.
    """
    given = vars(args)
    overrides = {f.name: given[f.name] for f in FIELDS if given.get(f.name) is not None}
    flags = {name: str(field(name).flag) for name in overrides}
    output = _output_overrides(given.get("output"))
    overrides.update(output)
    flags.update(dict.fromkeys(output, "--output"))
    return overrides, flags
