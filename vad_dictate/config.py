"""Configuration: defaults < config file < environment < CLI flags.

Every key is declared once in ``FIELDS`` with its type, default and valid range;
``config.example.toml`` documents the same keys (a test keeps them in step).
Environment overrides are ``VAD_DICTATE_<SECTION>_<KEY>`` (e.g.
``VAD_DICTATE_VAD_SILENCE_MS=600``); the API key comes from ``DEEPGRAM_API_KEY``.
Every invalid value raises :class:`ConfigError` with one sentence naming the key,
the bad value and what is allowed.
"""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vad_dictate import paths
from vad_dictate.deepgram.protocol import DEFAULT_URL
from vad_dictate.errors import ConfigError

Value = bool | int | float | str | list[str]


@dataclass(frozen=True, slots=True)
class Field:
    """One configuration key."""

    section: str
    key: str
    default: Value
    check: Callable[[Value], str | None] = lambda _v: None  # returns the problem, or None

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


def _range(lo: float, hi: float, unit: str = "") -> Callable[[Value], str | None]:
    def check(v: Value) -> str | None:
        assert isinstance(v, int | float)
        return None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}{unit}"

    return check


def _choice(*options: str) -> Callable[[Value], str | None]:
    def check(v: Value) -> str | None:
        return None if v in options else "must be one of " + ", ".join(repr(o) for o in options)

    return check


def _url(v: Value) -> str | None:
    text = str(v)
    if not text.startswith(("ws://", "wss://")):
        return "must be a ws:// or wss:// URL"
    return None


def _each(allowed: tuple[str, ...]) -> Callable[[Value], str | None]:
    def check(v: Value) -> str | None:
        assert isinstance(v, list)
        bad = [t for t in v if t not in allowed]
        return f"may only hold {', '.join(repr(a) for a in allowed)}" if bad else None

    return check


def _keys(v: Value) -> str | None:
    from vad_dictate.ui.keys import KEY_NAMES

    assert isinstance(v, list)
    bad = [k for k in v if k.lower() not in KEY_NAMES and not (len(k) == 1 and k.isprintable())]
    names = ", ".join(KEY_NAMES)
    return f"must list single characters or key names ({names})" if bad else None


FIELDS: tuple[Field, ...] = (
    Field("deepgram", "url", DEFAULT_URL, _url),
    Field("deepgram", "model", "nova-3"),
    Field("deepgram", "language", "en"),
    Field("deepgram", "punctuate", True),
    Field("deepgram", "smart_format", False),
    Field("deepgram", "keyterms", []),
    Field("deepgram", "endpointing", 300, _range(0, 60000, " ms (0 turns it off)")),
    Field("deepgram", "utterance_end_ms", 0, _range(0, 60000, " ms (0 turns it off)")),
    Field("deepgram", "ack_timeout_s", 2.0, _range(0.2, 30, " s")),
    Field("deepgram", "offline", False),
    Field("vad", "engine", "webrtcvad", _choice("webrtcvad", "silero")),
    Field("vad", "aggressiveness", 2, _range(0, 3)),
    Field("vad", "frame_ms", 30, lambda v: None if v in (10, 20, 30) else "must be 10, 20 or 30"),
    Field("vad", "onset_ms", 90, _range(10, 1000, " ms")),
    Field("vad", "silence_ms", 700, _range(100, 5000, " ms")),
    Field("vad", "preroll_ms", 400, _range(0, 2000, " ms")),
    Field("vad", "min_utterance_ms", 250, _range(0, 5000, " ms")),
    Field("vad", "max_utterance_ms", 30000, _range(1000, 600000, " ms")),
    Field("vad", "snr_db", 4, _range(0, 30, " dB (0 turns it off)")),
    Field("vad", "drop_db", 30, _range(0, 60, " dB (0 turns it off)")),
    Field("stream", "policy", "speech", _choice("speech", "always")),
    Field("stream", "chunk_ms", 50, _range(20, 100, " ms")),
    Field("stream", "keepalive_s", 4.0, _range(1, 8, " s")),
    Field("stream", "close_timeout_s", 5.0, _range(0.5, 60, " s")),
    Field("stream", "reconnect_give_up_s", 60.0, _range(1, 86400, " s")),
    Field("stream", "retain_s", 120.0, _range(5, 3600, " s")),
    Field("stream", "replay_speed", 1.25, _range(0, 100, " (0 = unpaced)")),
    Field("audio", "device", ""),
    Field("audio", "channels", 1, _range(1, 32)),
    Field("audio", "reopen_s", 30.0, _range(0, 3600, " s")),
    Field("audio", "device_rate", 0, _range(0, 384000, " Hz (0 = automatic)")),
    Field("output", "format", "text", _choice("text", "jsonl")),
    Field("output", "targets", [], _each(("type", "clipboard"))),
    Field("output", "type_delay_ms", 150, _range(0, 10000, " ms")),
    Field("output", "append", ""),
    Field("controls", "terminal_keys", True),
    Field("controls", "finalize_keys", ["space", "enter"], _keys),
    Field("controls", "pause_keys", ["p"], _keys),
    Field("controls", "less_sensitive_keys", ["["], _keys),
    Field("controls", "more_sensitive_keys", ["]"], _keys),
    Field("controls", "quit_keys", ["q"], _keys),
    Field("controls", "socket", True),
    Field("controls", "hotkey", ""),
    Field("controls", "push_to_talk", ""),
)
_BY_NAME = {f.name: f for f in FIELDS}


@dataclass(frozen=True, slots=True)
class Settings:
    """The merged configuration plus the API key (never printed)."""

    values: Mapping[str, Value]
    api_key: str | None
    source: str  # where the config file came from, for messages

    def get(self, name: str) -> Value:
        return self.values[name]

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


def default_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The per-user config file: config.toml in the per-user config directory."""
    return paths.config_dir(environ) / "config.toml"


def _coerce(field: Field, raw: Any, origin: str) -> Value:
    """Convert ``raw`` to the field's type or raise ConfigError naming ``origin``."""
    want = field.default
    bad = f"{field.name} {origin} is {raw!r}, but it"
    try:
        if isinstance(want, bool):
            if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "on", "false", "0"):
                raw = raw.lower() in ("true", "1", "yes", "on")
            if isinstance(raw, str) and raw.lower() in ("no", "off"):
                raw = False
            if not isinstance(raw, bool):
                raise ConfigError(f"{bad} must be true or false.")
            value: Value = raw
        elif isinstance(want, int):
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ConfigError(f"{bad} must be a whole number.")
            value = int(raw)
        elif isinstance(want, float):
            if isinstance(raw, bool):
                raise ConfigError(f"{bad} must be a number.")
            value = float(raw)
        elif isinstance(want, list):
            if isinstance(raw, str):
                raw = [t.strip() for t in raw.split(",") if t.strip()]
            if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
                raise ConfigError(f"{bad} must be a list of strings.")
            value = list(raw)
        else:
            if not isinstance(raw, str):
                raise ConfigError(f"{bad} must be a string.")
            value = raw
    except ValueError as exc:
        raise ConfigError(f"{bad} must be a number.") from exc
    problem = field.check(value)
    if problem:
        raise ConfigError(f"{bad} {problem}.")
    return value


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"Config file '{path}' does not exist; check the --config path.")
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file '{path}' is not valid TOML ({exc}); fix it.") from exc
    except OSError as exc:
        raise ConfigError(
            f"Cannot read config file '{path}' ({exc.strerror}); point --config at a readable "
            "TOML file."
        ) from exc
    flat: dict[str, Any] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"'{section}' in '{path}' must be a [section]; see config.example.toml."
            )
        for key, value in table.items():
            flat[f"{section}.{key}"] = value
    return flat


def _warn_if_readable(path: Path, warn: Callable[[str], None]) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warn(
            f"warning: '{path}' holds an API key and other users can read it; "
            f"run: chmod 600 '{path}'"
        )


def load_settings(
    config_path: str | None,
    overrides: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
    warn: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
) -> Settings:
    """Merge defaults, the config file, the environment and ``overrides`` (CLI flags)."""
    path = Path(config_path).expanduser() if config_path else default_config_path(environ)
    from_file = _read_file(path, explicit=config_path is not None)
    values: dict[str, Value] = {f.name: f.default for f in _BY_NAME.values()}
    api_key = from_file.pop("deepgram.api_key", None)
    if api_key is not None and not isinstance(api_key, str):
        raise ConfigError(f"deepgram.api_key in '{path}' must be a string.")
    if api_key:
        _warn_if_readable(path, warn)
    layers: list[tuple[str, Mapping[str, Any]]] = [(f"in '{path}'", from_file)]
    env = {
        f.name: environ[var]
        for f in _BY_NAME.values()
        if (var := f"VAD_DICTATE_{f.section}_{f.key}".upper()) in environ
    }
    layers += [("in the environment", env), ("on the command line", overrides)]
    for origin, layer in layers:
        for name, raw in layer.items():
            if raw is None:
                continue
            field = _BY_NAME.get(name)
            if field is None:
                raise ConfigError(f"Unknown setting '{name}' {origin}; see config.example.toml.")
            values[name] = _coerce(field, raw, origin)
    api_key = environ.get("DEEPGRAM_API_KEY") or api_key or None
    return Settings(values, api_key, str(path))
