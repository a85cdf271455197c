"""``vad-dictate config``: the settings in effect and where each came from.

The API key is never printed: only whether one is set and where from. A URL's userinfo
(``wss://user:secret@host``) is masked for the same reason.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vad_dictate.cli.dictate import check_settings
from vad_dictate.cli.parser import config_parser, setting_overrides
from vad_dictate.config import API_KEY_VAR, FIELDS, Settings, Value, load_settings
from vad_dictate.config.example import render_example, toml_value

MASK = "***"


def mask_url(url: str) -> str:
    """``url`` with any userinfo replaced by ``***``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def _shown(name: str, value: Value) -> Value:
    return mask_url(value) if name == "deepgram.url" and isinstance(value, str) else value


def report(s: Settings) -> dict[str, Any]:
    """Every setting with its value and origin, plus where the key came from (not the key)."""
    key = s.api_key_origin
    return {
        "config_file": {"path": s.source, "exists": Path(s.source).is_file()},
        "api_key": {
            "set": s.api_key is not None,
            "source": key.source if key else None,
            "where": key.where if key else None,
        },
        "settings": {
            f.name: {
                "value": _shown(f.name, s.get(f.name)),
                "source": s.origin(f.name).source,
                "where": s.origin(f.name).where,
            }
            for f in FIELDS
        },
    }


def render_table(s: Settings) -> str:
    exists = "" if Path(s.source).is_file() else " (not found: defaults apply)"
    key = s.api_key_origin
    lines = [
        f"config file: {s.source}{exists}",
        f"API key: set, from {key}" if key else f"API key: not set ({API_KEY_VAR})",
        "",
    ]
    rows = [
        (f.name, toml_value(_shown(f.name, s.get(f.name))), str(s.origin(f.name))) for f in FIELDS
    ]
    name_w = max(len(r[0]) for r in rows)
    value_w = min(40, max(len(r[1]) for r in rows))
    lines += [f"{n:<{name_w}}  {v:<{value_w}}  {o}" for n, v, o in rows]
    return "\n".join(lines) + "\n"


def run_config(argv: Sequence[str]) -> int:
    args = config_parser().parse_args(argv)
    if args.example:
        sys.stdout.write(render_example())
        return 0
    overrides, flags = setting_overrides(args)
    settings = load_settings(args.config, overrides, flags=flags)
    check_settings(settings)
    if args.json:
        sys.stdout.write(json.dumps(report(settings), indent=2) + "\n")
    else:
        sys.stdout.write(render_table(settings))
    return 0
