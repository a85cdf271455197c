"""Shared fixtures: one tone-engine server for the whole run, and a scrubbed app environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apprun import app_env
from tests.serverproc import running_server


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """``vad-dictate serve --engine tone`` on a free port of 127.0.0.1 (no key), for every test."""
    with running_server() as url:
        yield url


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user with no config, no key and a private runtime dir."""
    return app_env(tmp_path)


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variables (the Deepgram SDK connects with websockets' defaults, which use them)."""
    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy"):
            monkeypatch.delenv(name)
