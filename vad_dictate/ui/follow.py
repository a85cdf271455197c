"""``vad-dictate status [--follow] [--format json|waybar|text]``: the session's state for bars.

``--follow`` subscribes over the control socket and prints one line per state change,
as the session reports it. When no session runs it prints ``stopped`` once and waits
for one to start (trying the socket again every second), so a bar module started
before vad-dictate (or outliving it) keeps working. An ``error`` line stays until a
new session starts: a bar keeps saying why dictation stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TextIO

from vad_dictate.errors import VadDictateError
from vad_dictate.ui.feed import FORMATS, STOPPED, FeedRecord, Format, parse_record, render
from vad_dictate.ui.remote import run_client, socket_path

RETRY_S = 1.0
CONNECT_TIMEOUT_S = 5.0
LINE_MAX = 65536


def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``vad-dictate status``."""
    parser.add_argument(
        "--follow", action="store_true", help="print a line at every state change, for bars"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="json (default with --follow), waybar (custom-module JSON) or text (i3blocks, "
        "polybar); without --follow: one line, then exit",
    )


def run_status(args: argparse.Namespace) -> int:
    """``vad-dictate status``: the counters (as before), one feed line, or the feed."""
    if not args.follow and args.format is None:
        return run_client("status")
    fmt: Format = args.format or "json"
    out = _Printer(sys.stdout, fmt)
    try:
        if args.follow:
            follow(out)
        else:
            out(next(records(), None) or STOPPED)
    except BrokenPipeError:  # the bar went away: nothing left to do
        _silence_stdout()
    return 0


class _Printer:
    """Prints a record as one flushed line, skipping a repeat of the line before."""

    def __init__(self, stream: TextIO, fmt: Format) -> None:
        self.stream, self.fmt = stream, fmt
        self.last: FeedRecord | None = None

    def __call__(self, record: FeedRecord) -> None:
        if record != self.last:
            self.stream.write(render(record, self.fmt) + "\n")
            self.stream.flush()
            self.last = record


def follow(
    out: _Printer,
    environ: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Print the running session's states, across sessions, until interrupted."""
    while True:
        for record in records(environ):
            out(record)
        if out.last is None or out.last.state not in ("error", "stopped"):
            out(STOPPED)
        sleep(RETRY_S)


def records(environ: Mapping[str, str] = os.environ) -> Iterator[FeedRecord]:
    """The records of one subscription; nothing when no session runs."""
    path = socket_path(environ)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(str(path))
            sock.sendall(b"subscribe\n")
        except OSError:
            return  # none runs (or it just ended)
        sock.settimeout(None)  # lines come when the state changes, however long that takes
        with sock.makefile("rb") as lines:
            while line := lines.readline(LINE_MAX):
                record = parse_record(line)
                if record is None:
                    _refused(line)
                    return
                yield record


def _refused(line: bytes) -> None:
    """A reply that is not a record: the session said why, or sent garbage."""
    try:
        reply = json.loads(line)
    except ValueError:
        reply = None
    if isinstance(reply, dict) and reply.get("ok") is False:
        raise VadDictateError(
            f"the running vad-dictate refused the status feed ({reply.get('error')}); "
            "restart it with this version."
        )
    raise VadDictateError(f"the running vad-dictate sent a status line that is not one: {line!r}.")


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush does not fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
