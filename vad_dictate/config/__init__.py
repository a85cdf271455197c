"""Configuration: defaults < config file < environment < CLI flags.

Every key is declared once, in its section's module under config/sections/ (collected
into ``FIELDS`` by config/keys.py), with its type, default, range, help and flag. The
``vad-dictate`` flags (cli/parser.py), config.example.toml (``vad-dictate config
--example``), validation and ``vad-dictate config`` all derive from it: adding a key and
its flag is one ``Field(...)`` entry (config/keys.py says how).
Environment overrides are ``VAD_DICTATE_<SECTION>_<KEY>`` (e.g.
``VAD_DICTATE_VAD_SILENCE_MS=600``); the API key comes from ``DEEPGRAM_API_KEY``.
Every invalid value raises :class:`ConfigError` with one sentence naming the key, where
it came from, the bad value and what is allowed.
"""

from vad_dictate.config.field import Field, Section, Value
from vad_dictate.config.keys import FIELDS, SECTIONS
from vad_dictate.config.load import (
    API_KEY_VAR,
    TABLES,
    Origin,
    Settings,
    default_config_path,
    field,
    load_settings,
)

__all__ = [
    "API_KEY_VAR",
    "FIELDS",
    "SECTIONS",
    "TABLES",
    "Field",
    "Origin",
    "Section",
    "Settings",
    "Value",
    "default_config_path",
    "field",
    "load_settings",
]
