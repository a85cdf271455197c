"""Test helper: a private D-Bus session bus with a notification service that records calls.

``dbus-daemon --session --fork`` gives a real bus; a small jeepney program owns
``org.freedesktop.Notifications`` on it, answers ``Notify`` with a new id (or the
replaced one) and writes each call as a JSON line, so a test reads exactly what the
desktop would have shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.apprun import wait_for

RECORDER = r"""
import json, sys
from jeepney import HeaderFields, MessageType, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

address, out = sys.argv[1], sys.argv[2]
conn = open_dbus_connection(bus=address)
conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.Notifications", 4))
open(out + ".ready", "w").close()
next_id = 0
while True:
    msg = conn.receive()
    if msg.header.message_type != MessageType.method_call:
        continue
    member = msg.header.fields.get(HeaderFields.member)
    if member == "Notify":
        app, replaces, icon, summary, body, actions, hints, timeout = msg.body
        if replaces:
            nid = replaces
        else:
            next_id += 1
            nid = next_id
        record = {"app": app, "replaces_id": replaces, "id": nid, "summary": summary,
                  "body": body, "urgency": hints.get("urgency", ("y", None))[1]}
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")
        conn.send(new_method_return(msg, "u", (nid,)))
    elif member == "GetServerInformation":
        conn.send(new_method_return(msg, "ssss", ("recorder", "tests", "1", "1.2")))
    elif member == "GetCapabilities":
        conn.send(new_method_return(msg, "as", (["body"],)))
"""


@dataclass
class Bus:
    """A running session bus; ``calls()`` are the Notify calls recorded so far."""

    address: str
    log: Path

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def summaries(self) -> list[str]:
        return [c["summary"] for c in self.calls()]


@contextlib.contextmanager
def session_bus(tmp: Path, recorder: bool = True) -> Iterator[Bus]:
    """A private session bus (and the recording notification service); stopped by pid."""
    done = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--nopidfile", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    address, pid = done.stdout.split()[:2]
    log = tmp / "notifications.jsonl"
    service = None
    try:
        if recorder:
            service = subprocess.Popen([sys.executable, "-c", RECORDER, address, str(log)])
            if not wait_for(lambda: Path(str(log) + ".ready").exists(), timeout=20):
                raise RuntimeError("the recording notification service did not start")
        yield Bus(address, log)
    finally:
        if service is not None:
            service.terminate()
            service.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)
