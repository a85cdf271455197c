"""``vad-dictate service install | uninstall | status``: run at login as a systemd user unit.

The unit starts this installation (this interpreter, ``-m vad_dictate``) paused, so
nothing is heard until the user's shortcut runs ``vad-dictate toggle``. It restarts
on failure with a growing delay, but not on a configuration or credentials error
(exit 2, 3) or a second instance (6): those do not mend by trying again.

The unit records a checksum of what vad-dictate wrote; a unit the user has edited
since is never overwritten or removed without ``--force``. When no user manager is
reachable (a container, an ssh session) the commands to run later are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import vad_dictate
from vad_dictate.errors import VadDictateError

UNIT = "vad-dictate.service"
NO_RESTART_CODES = (2, 3, 6)  # configuration, credentials, already running
STEPS_SINCE = 254  # systemd version with RestartSteps/RestartMaxDelaySec
SYSTEMCTL_TIMEOUT_S = 30.0
_MARK = "# Written by 'vad-dictate service install' (checksum {}); "
_MARK_RE = re.compile(r"^# Written by 'vad-dictate service install' \(checksum ([0-9a-f]{16})\)")


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """What the unit runs and where, for :func:`render_unit`."""

    argv: tuple[str, ...]  # ExecStart
    environment: tuple[tuple[str, str], ...] = ()
    systemd_version: int = 0  # 0: unknown (the keys every version knows)


def render_unit(spec: UnitSpec) -> str:
    """The unit file text, its first line carrying the checksum of the rest."""
    service = [
        "Type=exec",
        f"ExecStart={' '.join(_quote(a) for a in spec.argv)}",
        *(f'Environment="{k}={_escape(v)}"' for k, v in spec.environment),
        "Restart=on-failure",
        "RestartSec=2",
    ]
    if spec.systemd_version >= STEPS_SINCE:  # the delay grows 2 s -> 2 min over 6 failures
        service += ["RestartSteps=6", "RestartMaxDelaySec=120"]
    service += [
        "RestartPreventExitStatus=" + " ".join(str(c) for c in NO_RESTART_CODES),
        # Dictated text is not for the journal; warnings on stderr are.
        "StandardOutput=null",
    ]
    body = "\n".join(
        [
            "[Unit]",
            "Description=vad-dictate dictation (starts paused: run 'vad-dictate toggle')",
            "PartOf=graphical-session.target",
            "After=graphical-session.target",
            # With the growing delay above, five failures in ten minutes mean it is broken.
            "StartLimitIntervalSec=600",
            "StartLimitBurst=5",
            "",
            "[Service]",
            *service,
            "",
            "[Install]",
            "WantedBy=graphical-session.target",
            "",
        ]
    )
    header = _MARK.format(_digest(body)) + "edits need 'install --force' to be replaced.\n"
    return header + body


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def edited(text: str) -> bool:
    """True if ``text`` is not a unit as vad-dictate wrote it (the user changed it)."""
    first, _, body = text.partition("\n")
    found = _MARK_RE.match(first)
    return found is None or found.group(1) != _digest(body)


def _quote(arg: str) -> str:
    """One ExecStart word: quoted when it has spaces or quotes, % doubled."""
    arg = arg.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_./:=@+,-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _escape(value: str) -> str:
    return value.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')


def unit_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where user units live: ``$XDG_CONFIG_HOME/systemd/user``."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user" / UNIT


def this_installation(
    config: str | None, environ: Mapping[str, str] = os.environ, version: int = 0
) -> UnitSpec:
    """The unit for this interpreter and this copy of vad-dictate."""
    argv = [sys.executable, "-m", "vad_dictate", "--paused"]
    if config:
        argv += ["--config", str(Path(config).expanduser().resolve())]
    root = str(Path(vad_dictate.__file__).resolve().parent.parent)
    env: list[tuple[str, str]] = []
    if root in environ.get("PYTHONPATH", "").split(os.pathsep):  # run from a checkout
        env.append(("PYTHONPATH", root))
    return UnitSpec(tuple(argv), tuple(env), version)


def _systemctl(*args: str) -> subprocess.CompletedProcess[str] | None:
    """``systemctl --user ARGS``; None when systemd or a user manager is not there."""
    if shutil.which("systemctl") is None:
        return None
    try:
        return subprocess.run(
            ["systemctl", "--user", *args],
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def manager_reachable() -> bool:
    """A user manager answers (there is a ``systemd --user`` for this login)."""
    done = _systemctl("show-environment")
    return done is not None and done.returncode == 0


def systemd_version() -> int:
    """The installed systemd's version number, 0 if unknown."""
    try:
        done = subprocess.run(
            ["systemctl", "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = re.match(r"systemd (\d+)", done.stdout)
    return int(found.group(1)) if found else 0


def _run_or_tell(steps: Sequence[tuple[str, ...]], what: str) -> None:
    """Run the systemctl steps, or print them when no user manager is reachable."""
    if not manager_reachable():
        print(f"No systemd user manager is reachable here; {what}, run:")
        for step in steps:
            print("  systemctl --user " + shlex.join(step))
        return
    for step in steps:
        done = _systemctl(*step)
        if done is None or done.returncode != 0:
            err = (done.stderr.strip() if done else "") or "no answer"
            raise VadDictateError(
                f"'systemctl --user {shlex.join(step)}' failed ({err}); run it yourself to see why."
            )


def install(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> int:
    """Write the unit (refusing to replace a user's edits), then enable and start it."""
    path = unit_path(environ)
    text = render_unit(this_installation(args.config, environ, systemd_version()))
    _check_ours(path, args.force, "install")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    print(f"wrote {path}")
    if environ.get("DEEPGRAM_API_KEY"):
        print(
            "note: the service does not see DEEPGRAM_API_KEY from this shell; put the key in "
            "the config file (deepgram.api_key, chmod 600) for it to use Deepgram."
        )
    _run_or_tell([("daemon-reload",), ("enable", "--now", UNIT)], "to start it now and at login")
    return 0


def uninstall(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> int:
    """Stop and disable the unit, then remove it (not a user's edited one without --force)."""
    path = unit_path(environ)
    if not path.exists():
        print(f"not installed ({path} does not exist)")
        return 0
    _check_ours(path, args.force, "uninstall")
    if manager_reachable():
        _systemctl("disable", "--now", UNIT)  # fails harmlessly when it never ran
    path.unlink()
    print(f"removed {path}")
    _run_or_tell([("daemon-reload",)], "to forget it")
    return 0


def status(environ: Mapping[str, str] = os.environ) -> int:
    """Say whether the unit is installed, edited, enabled and running."""
    path = unit_path(environ)
    if not path.exists():
        print(f"not installed ({path} does not exist); install with: vad-dictate service install")
        return 0
    state = "edited since vad-dictate wrote it" if edited(path.read_text()) else "as written"
    print(f"installed: {path} ({state})")
    if not manager_reachable():
        print("No systemd user manager is reachable here, so it is not running from this login.")
        return 0
    for query in ("is-enabled", "is-active"):
        done = _systemctl(query, UNIT)
        print(f"{query.removeprefix('is-')}: {(done.stdout.strip() if done else '') or 'unknown'}")
    return 0


def _check_ours(path: Path, force: bool, command: str) -> None:
    verb = "replace" if command == "install" else "remove"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise VadDictateError(f"Cannot read '{path}' ({exc}); fix or remove it.") from exc
    if edited(text) and not force:
        raise VadDictateError(
            f"'{path}' was changed since vad-dictate wrote it, so it was left alone; "
            f"to {verb} it anyway run: vad-dictate service {command} --force"
        )


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """``service install|uninstall|status [--force] [--config PATH]``."""
    parser.add_argument("action", choices=["install", "uninstall", "status"])
    parser.add_argument("--force", action="store_true", help="replace or remove an edited unit")
    parser.add_argument("--config", metavar="PATH", help="config file the service uses")


def run_service(args: argparse.Namespace) -> int:
    """Carry out ``vad-dictate service ACTION``."""
    if args.action == "install":
        return install(args)
    if args.action == "uninstall":
        return uninstall(args)
    return status()
