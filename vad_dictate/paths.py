"""Where vad-dictate keeps its files: config, state (history, recordings), cache, runtime.

platformdirs knows each platform's convention (Linux XDG, macOS ~/Library, Windows
%APPDATA%). On Linux and the BSDs the XDG variables are read from the ``environ`` passed
in, so callers and tests can point a run at a temporary home without touching the
process environment. The runtime directory holds the control socket, so it must be
private to this user: a fallback we create is 0700 and refused when anyone else could
write into it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from vad_dictate.errors import VadDictateError

APP = "vad-dictate"
PRIVATE_MODE = 0o700

_XDG = sys.platform not in ("darwin", "win32", "cygwin")


def _xdg(environ: Mapping[str, str], var: str) -> Path | None:
    """The XDG variable's directory when this platform follows XDG and it is set."""
    value = environ.get(var, "").strip() if _XDG else ""
    return Path(value) if value else None


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The per-user config directory (``$XDG_CONFIG_HOME/vad-dictate`` on Linux)."""
    base = _xdg(environ, "XDG_CONFIG_HOME")
    return base / APP if base else Path(platformdirs.user_config_dir(APP, appauthor=False))


def state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Per-user data worth keeping across runs (``$XDG_STATE_HOME/vad-dictate`` on Linux)."""
    base = _xdg(environ, "XDG_STATE_HOME")
    return base / APP if base else Path(platformdirs.user_state_dir(APP, appauthor=False))


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Per-user data that may be rebuilt (``$XDG_CACHE_HOME/vad-dictate`` on Linux)."""
    base = _xdg(environ, "XDG_CACHE_HOME")
    return base / APP if base else Path(platformdirs.user_cache_dir(APP, appauthor=False))


def runtime_dir(environ: Mapping[str, str] = os.environ, base: Path | None = None) -> Path:
    """``$XDG_RUNTIME_DIR`` if set, else a private directory of this user (created 0700, checked).

    On XDG platforms the fallback is ``/tmp/vad-dictate-<uid>`` (``base`` replaces /tmp);
    elsewhere it is platformdirs' per-user runtime directory.
    """
    xdg = _xdg(environ, "XDG_RUNTIME_DIR")
    if xdg:
        return xdg
    if base is None and not _XDG:
        path = Path(platformdirs.user_runtime_dir(APP, appauthor=False))
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        path = (base or Path("/tmp")) / f"{APP}-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=PRIVATE_MODE)
    if not _is_private(path):
        raise VadDictateError(
            f"'{path}' is not a private directory of this user, so the control socket cannot "
            "live there safely; remove it or set XDG_RUNTIME_DIR."
        )
    return path


def _is_private(path: Path) -> bool:
    """A real directory (not a symlink), owned by this user, that nobody else can enter."""
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        return False
    if sys.platform == "win32":  # no POSIX owner or mode bits; the profile is per-user
        return True
    return info.st_uid == os.getuid() and not info.st_mode & 0o077
