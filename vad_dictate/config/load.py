"""Merging the layers: defaults < config file < environment < CLI flags, remembering where
each value came from (for ``vad-dictate config`` and for messages)."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vad_dictate import paths
from vad_dictate.config.field import ENV_PREFIX, Field, Value, coerce
from vad_dictate.config.keys import FIELDS
from vad_dictate.errors import ConfigError

API_KEY_VAR = "DEEPGRAM_API_KEY"
MAX_FILE_BYTES = 1 << 20  # a config file is a few kB; this stops --config /dev/zero
_BY_NAME = {f.name: f for f in FIELDS}
# Free-form tables: spoken command phrase -> action, and phrase -> replacement text.
TABLES = ("commands", "replacements")

Source = Literal["default", "file", "environment", "flag"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from: the layer, and the file, variable or flag within it."""

    source: Source
    where: str = ""

    def __str__(self) -> str:
        return f"{self.source} {self.where}".rstrip()


@dataclass(frozen=True, slots=True)
class Settings:
    """The merged configuration plus the API key (never printed)."""

    values: Mapping[str, Value]
    api_key: str | None
    source: str  # where the config file came from, for messages
    origins: Mapping[str, Origin] | None = None
    api_key_origin: Origin | None = None
    tables: Mapping[str, Mapping[str, Any]] | None = None  # see TABLES

    def get(self, name: str) -> Value:
        return self.values[name]

    def origin(self, name: str) -> Origin:
        return (self.origins or {}).get(name, Origin("default"))

    def integer(self, name: str) -> int:
        v = self.values[name]
        assert isinstance(v, int) and not isinstance(v, bool)
        return v

    def number(self, name: str) -> float:
        v = self.values[name]
        assert isinstance(v, int | float) and not isinstance(v, bool)
        return float(v)

    def text(self, name: str) -> str:
        return str(self.values[name])

    def flag(self, name: str) -> bool:
        return bool(self.values[name])

    def strings(self, name: str) -> list[str]:
        v = self.values[name]
        assert isinstance(v, list)
        return list(v)


def field(name: str) -> Field:
    """The declared key ``name`` ("section.key")."""
    return _BY_NAME[name]


def default_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The per-user config file: config.toml in the per-user config directory."""
    return paths.config_dir(environ) / "config.toml"


def _parse_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"Cannot read config file '{path}' ({exc.strerror}); point --config at a readable "
            "TOML file."
        ) from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            f"Config file '{path}' is larger than {MAX_FILE_BYTES >> 20} MB; point --config at "
            "a TOML file like config.example.toml."
        )
    try:
        return tomllib.loads(data.decode("utf-8-sig"))  # some editors start UTF-8 with a BOM
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Config file '{path}' is not UTF-8 text (byte {exc.start} is invalid); save it as "
            "UTF-8."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file '{path}' is not valid TOML ({exc}); fix it.") from exc


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"Config file '{path}' does not exist; check the --config path.")
        return {}
    flat: dict[str, Any] = {}
    for section, table in _parse_file(path).items():
        if section in TABLES and isinstance(table, dict):
            flat[section] = _check_table(section, table, path)
            continue
        if not isinstance(table, dict):
            raise ConfigError(
                f"'{section}' in '{path}' must be a [section]; see config.example.toml."
            )
        for key, value in table.items():
            flat[f"{section}.{key}"] = value
    return flat


def _check_table(name: str, table: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """A [commands] or [replacements] table, checked entry by entry."""
    from vad_dictate.ui.composer import normalise, parse_command

    for key, value in table.items():
        if not normalise(key):
            raise ConfigError(
                f"[{name}] in '{path}' has an entry with an empty phrase ({key!r} = {value!r}); "
                "give it a phrase or remove it."
            )
        if name == "commands":
            try:
                parse_command(key, value)
            except ValueError as exc:
                raise ConfigError(f"In '{path}', {exc}.") from exc
        elif not isinstance(value, str):
            raise ConfigError(
                f"[replacements] in '{path}': '{key}' must map to a string, not {value!r}."
            )
    return dict(table)


def _warn_if_readable(path: Path, warn: Callable[[str], None]) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warn(
            f"warning: '{path}' holds an API key and other users can read it; "
            f"run: chmod 600 '{path}'"
        )


def _warn_unknown_variables(environ: Mapping[str, str], warn: Callable[[str], None]) -> None:
    """A misspelt VAD_DICTATE_ variable would otherwise be ignored without a word."""
    known = {f.env_var for f in FIELDS}
    for var in sorted(v for v in environ if v.startswith(ENV_PREFIX) and v not in known):
        warn(f"warning: {var} is not a setting, so it is ignored; see config.example.toml.")


def _api_key(
    in_file: Any, path: Path, environ: Mapping[str, str], warn: Callable[[str], None]
) -> tuple[str | None, Origin | None]:
    """The key (the environment's over the file's) and where it came from.

    Surrounding whitespace (a newline pasted with it) is dropped; a key with any other
    character an HTTP header cannot carry is refused, without echoing it.
    """
    if in_file is not None and not isinstance(in_file, str):
        raise ConfigError(f"deepgram.api_key in '{path}' must be a string.")
    if in_file and in_file.strip():
        _warn_if_readable(path, warn)
    key, origin = in_file, Origin("file", str(path))
    if environ.get(API_KEY_VAR, "").strip():
        key, origin = environ[API_KEY_VAR], Origin("environment", API_KEY_VAR)
    key = (key or "").strip()
    if not key:
        return None, None
    if not all(" " < c < "\x7f" for c in key):
        where = API_KEY_VAR if origin.source == "environment" else f"deepgram.api_key in '{path}'"
        raise ConfigError(
            f"The API key in {where} holds a space, control or non-ASCII character, which no "
            "API key has; copy the key again."
        )
    return key, origin


def _said(origin: Origin) -> str:
    """How a message names the place a bad value came from."""
    if origin.source == "file":
        return f"in '{origin.where}'"
    if origin.source == "environment":
        return f"in the environment ({origin.where})"
    return f"given as {origin.where}" if origin.where else "on the command line"


def load_settings(
    config_path: str | None,
    overrides: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
    warn: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
    flags: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults, the config file, the environment and ``overrides`` (CLI flags).

    An override of None means "not given"; every other value, 0 and false included, is
    applied. ``flags`` names the flag that gave each override, for messages.
    """
    path = Path(config_path).expanduser() if config_path else default_config_path(environ)
    from_file = _read_file(path, explicit=config_path is not None)
    tables = {name: from_file.pop(name, {}) for name in TABLES}
    api_key, key_origin = _api_key(from_file.pop("deepgram.api_key", None), path, environ, warn)
    layers: list[tuple[Mapping[str, Any], Callable[[str], Origin]]] = [
        (from_file, lambda _n: Origin("file", str(path))),
        (
            {f.name: environ[f.env_var] for f in FIELDS if f.env_var in environ},
            lambda n: Origin("environment", _BY_NAME[n].env_var),
        ),
        (
            overrides,
            lambda n: Origin("flag", (flags or {}).get(n) or (_BY_NAME[n].flag or "")),
        ),
    ]
    _warn_unknown_variables(environ, warn)
    values: dict[str, Value] = {f.name: f.default for f in FIELDS}
    origins: dict[str, Origin] = {}
    for layer, origin_of in layers:
        for name, raw in layer.items():
            if raw is None:
                continue
            if name not in _BY_NAME:
                where = f"in '{path}'" if layer is from_file else "on the command line"
                raise ConfigError(f"Unknown setting '{name}' {where}; see config.example.toml.")
            origin = origin_of(name)
            values[name] = coerce(_BY_NAME[name], raw, _said(origin))
            origins[name] = origin
    return Settings(values, api_key, str(path), origins, key_origin, tables)
