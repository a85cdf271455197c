"""The client end of the control socket: what ``vad-dictate toggle`` and friends run.

Standard library only, so a command bound to a desktop shortcut starts in tens of
milliseconds instead of loading the audio stack it only talks to.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vad_dictate.errors import VadDictateError
from vad_dictate.paths import runtime_dir

COMMANDS = ("finalize", "pause", "resume", "toggle", "stop", "status", "undo")
SOCKET_NAME = "vad-dictate.sock"
REQUEST_TIMEOUT_S = 5.0


def socket_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the running instance listens."""
    return runtime_dir(environ) / SOCKET_NAME


def send_command(command: str, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Send one command to the running instance and return its reply."""
    path = socket_path(environ)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(REQUEST_TIMEOUT_S)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise VadDictateError(
                f"No vad-dictate is running (nothing listens on '{path}'); start one with: "
                "vad-dictate"
            ) from exc
        except OSError as exc:
            raise VadDictateError(f"Cannot reach vad-dictate at '{path}' ({exc}).") from exc
        try:
            sock.sendall(command.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise VadDictateError(f"vad-dictate did not answer on '{path}' ({exc}).") from exc
    try:
        reply: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise VadDictateError(f"vad-dictate sent a reply that is not JSON: {data!r}.") from exc
    return reply


def run_client(command: str) -> int:
    """``vad-dictate <command>``: print the reply (status: the snapshot as JSON)."""
    reply = send_command(command)
    if not reply.get("ok"):
        raise VadDictateError(f"vad-dictate refused '{command}': {reply.get('error')}.")
    if command == "status":
        reply.pop("ok")
        print(json.dumps(reply))
    elif command == "undo":
        took = reply.get("retracted")
        print(f"undo: took back utterance {took}" if took else "undo: nothing left to take back")
    else:
        print(f"{command}: done; state is now {reply.get('state')}")
    return 0
