"""Per-user directories: XDG variables win on Linux, platformdirs supplies the rest, and the
runtime directory that holds the control socket is private or refused."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

import platformdirs
import pytest

from vad_dictate import paths
from vad_dictate.config import default_config_path
from vad_dictate.errors import VadDictateError

DirFunc = Callable[[Mapping[str, str]], Path]
LibFunc = Callable[..., str]
DIRS: list[tuple[DirFunc, str, LibFunc]] = [
    (paths.config_dir, "XDG_CONFIG_HOME", platformdirs.user_config_dir),
    (paths.state_dir, "XDG_STATE_HOME", platformdirs.user_state_dir),
    (paths.cache_dir, "XDG_CACHE_HOME", platformdirs.user_cache_dir),
]


@pytest.mark.parametrize(("func", "var", "_lib"), DIRS)
def test_xdg_variable_names_the_base(
    func: DirFunc, var: str, _lib: LibFunc, tmp_path: Path
) -> None:
    assert func({var: str(tmp_path)}) == tmp_path / "vad-dictate"


@pytest.mark.parametrize(("func", "var", "lib"), DIRS)
def test_without_xdg_platformdirs_decides(
    func: DirFunc, var: str, lib: LibFunc, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    got = func({"HOME": str(tmp_path)})
    assert got == Path(lib("vad-dictate", appauthor=False))
    assert got.is_relative_to(tmp_path) and got.name == "vad-dictate"


def test_blank_xdg_variable_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.config_dir({"XDG_CONFIG_HOME": "  "}) == tmp_path / ".config" / "vad-dictate"


def test_config_file_lives_in_the_config_dir(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert default_config_path(env) == tmp_path / "vad-dictate" / "config.toml"


def test_runtime_dir_is_xdg_runtime_dir_itself(tmp_path: Path) -> None:
    assert paths.runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path


def test_runtime_fallback_is_created_private(tmp_path: Path) -> None:
    got = paths.runtime_dir({}, base=tmp_path)
    assert got == tmp_path / f"vad-dictate-{os.getuid()}"
    info = got.lstat()
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert paths.runtime_dir({}, base=tmp_path) == got  # a second run reuses it


def test_runtime_fallback_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / f"vad-dictate-{os.getuid()}").symlink_to(elsewhere)
    with pytest.raises(VadDictateError, match="not a private directory of this user"):
        paths.runtime_dir({}, base=tmp_path)


def test_runtime_fallback_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / f"vad-dictate-{os.getuid()}").write_text("")
    with pytest.raises(VadDictateError, match="remove it or set XDG_RUNTIME_DIR"):
        paths.runtime_dir({}, base=tmp_path)


def test_runtime_fallback_group_writable_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / f"vad-dictate-{os.getuid()}"
    shared.mkdir()
    os.chmod(shared, 0o770)
    with pytest.raises(VadDictateError, match="not a private directory of this user"):
        paths.runtime_dir({}, base=tmp_path)
