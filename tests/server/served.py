"""Test helper: ``vad-dictate serve --engine tone`` in its own process with its log kept."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.serverproc import ROOT

KEY = "hardening-key-7c41d2"
SERVE = [sys.executable, "-m", "vad_dictate", "serve", "--port", "0", "--engine", "tone"]
PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


@dataclass
class Served:
    """A running server: its URL, process and log file."""

    url: str
    proc: subprocess.Popen[str]
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DEEPGRAM_API_KEY"}
    return {**env, **(extra or {}), "PYTHONPATH": str(ROOT)}


@contextlib.contextmanager
def serving(*args: str, env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """``vad-dictate serve --engine tone`` on a free port of 127.0.0.1, its log kept."""
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "serve.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [*SERVE, *args],
                cwd=ROOT,
                env=_env(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("ws://127.0.0.1:"), log_path.read_text()
            yield Served(url, proc, log_path)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def serve_fails(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SERVE, *args],
        cwd=ROOT,
        env=_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )


def raw_request(port: int, target: bytes, headers: bytes = b"") -> tuple[int, dict[str, str]]:
    """Send an upgrade request with a raw target; return the status and headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n" + headers + b"\r\n"
        )
        data = b""
        while b"\r\n\r\n" not in data:
            piece = sock.recv(4096)
            assert piece, f"connection closed after {data!r}"
            data += piece
    head = data.split(b"\r\n\r\n")[0].decode("ascii").split("\r\n")
    fields = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), fields
