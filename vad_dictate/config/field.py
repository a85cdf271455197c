"""What a configuration key is: its type (the type of its default), range, help and flag.

``coerce`` turns a raw value from a file, the environment or a flag into the key's type,
or raises :class:`ConfigError` with one sentence naming the key, where the value came
from, the bad value and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vad_dictate.errors import ConfigError

ENV_PREFIX = "VAD_DICTATE_"
Value = bool | int | float | str | list[str]
Check = Callable[[Value], str | None]  # returns the problem, or None


def _no_check(_v: Value) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Field:
    """One configuration key, declared once: everything else derives from it."""

    section: str
    key: str
    default: Value
    help: str
    check: Check = _no_check
    flag: str | None = None  # the `vad-dictate` option that sets it, e.g. "--silence-ms"
    metavar: str | None = None  # the flag's value in --help (default: from the flag's name)

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env_var(self) -> str:
        return f"{ENV_PREFIX}{self.section}_{self.key}".upper()

    @property
    def choices(self) -> tuple[str, ...]:
        """The allowed values when the key is one of a few words, else ()."""
        return self.check.options if isinstance(self.check, OneOf | EachOf) else ()


def between(lo: float, hi: float, unit: str = "") -> Check:
    """A number from ``lo`` to ``hi`` inclusive; ``unit`` is said in the message."""

    def check(v: Value) -> str | None:
        assert isinstance(v, int | float)
        return None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}{unit}"

    return check


@dataclass(frozen=True, slots=True)
class OneOf:
    """One of a few words (argparse offers them as choices)."""

    options: tuple[str, ...]

    def __call__(self, v: Value) -> str | None:
        if v in self.options:
            return None
        return "must be one of " + ", ".join(repr(o) for o in self.options)


def one_of(*options: str) -> OneOf:
    return OneOf(options)


def ws_url(v: Value) -> str | None:
    return None if str(v).startswith(("ws://", "wss://")) else "must be a ws:// or wss:// URL"


@dataclass(frozen=True, slots=True)
class EachOf:
    """A list whose every item is one of a few words (argparse offers them as choices)."""

    options: tuple[str, ...]

    def __call__(self, v: Value) -> str | None:
        assert isinstance(v, list)
        if all(t in self.options for t in v):
            return None
        return f"may only hold {', '.join(repr(a) for a in self.options)}"


def each_of(*allowed: str) -> EachOf:
    return EachOf(allowed)


def key_names(v: Value) -> str | None:
    from vad_dictate.ui.keys import KEY_NAMES

    assert isinstance(v, list)
    bad = [k for k in v if k.lower() not in KEY_NAMES and not (len(k) == 1 and k.isprintable())]
    names = ", ".join(KEY_NAMES)
    return f"must list single characters or key names ({names})" if bad else None


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _as_bool(raw: Any) -> bool | None:
    if isinstance(raw, str) and raw.lower() in _TRUE + _FALSE:
        return raw.lower() in _TRUE
    return raw if isinstance(raw, bool) else None


def _as_int(raw: Any) -> int | None:
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            raw = _as_float(raw)  # "1e3" and "700.0" are whole numbers too
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return int(raw) if isinstance(raw, int) or raw.is_integer() else None


def _as_float(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _as_strings(raw: Any) -> list[str] | None:
    if isinstance(raw, str):
        return [t.strip() for t in raw.split(",") if t.strip()]
    if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        return list(raw)
    return None


_EXPECTED = {
    bool: "must be true or false",
    int: "must be a whole number",
    float: "must be a finite number",
    str: "must be a string",
    list: "must be a list of strings",
}


def coerce(field: Field, raw: Any, origin: str) -> Value:
    """``raw`` (from a TOML file, an environment variable or a flag) as the field's type."""
    want = type(field.default)
    value: Value | None
    if want is bool:
        value = _as_bool(raw)
    elif want is int:
        value = _as_int(raw)
    elif want is float:
        value = _as_float(raw)
    elif want is list:
        value = _as_strings(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        value = str(raw)  # `device = 2` in TOML means the index, as "2" would
    else:
        value = raw if isinstance(raw, str) else None
    shown = _shown(raw)
    if value is None:
        raise ConfigError(f"{field.name} {origin} is {shown}, but it {_EXPECTED[want]}.")
    problem = field.check(value)
    if problem:
        raise ConfigError(f"{field.name} {origin} is {shown}, but it {problem}.")
    return value


def _shown(raw: Any) -> str:
    """The bad value for a message: short, one line, and its TOML type when not a scalar."""
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list) and not all(isinstance(t, str) for t in raw):
        return "a list"
    if not isinstance(raw, bool | int | float | str | list):
        return f"a {type(raw).__name__}"  # TOML dates and times
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class Section:
    """A [section] of the config file: its help (printed under the header) and its keys."""

    name: str
    help: str
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        stray = [f.name for f in self.fields if f.section != self.name]
        assert not stray, f"{stray} declared in [{self.name}]"
