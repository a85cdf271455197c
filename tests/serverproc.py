"""Test helper: run ``python -m vad_dictate.server.serve`` (tone engine) as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).parent.parent


@contextmanager
def running_server(*extra_args: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start the server on a free port of 127.0.0.1; yield its URL; stop it at exit."""
    if env is None:
        # A developer's own key must not turn the open test server into a keyed one.
        env = {k: v for k, v in os.environ.items() if k != "DEEPGRAM_API_KEY"}
    args = [sys.executable, "-m", "vad_dictate", "serve", "--host", "127.0.0.1", "--port", "0"]
    proc = subprocess.Popen(
        [*args, "--engine", "tone", *extra_args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("ws://"):
            proc.wait(timeout=10)
            raise RuntimeError(f"server did not start (exit {proc.returncode}): {url!r}")
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
