"""Test helpers: run the app in a tmux pane (a real terminal) or as a plain subprocess."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.wavs import utterances, write_wav

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# One long utterance (about 7 s): a finalize sent after 2 s always lands inside it.
LONG = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"] * 2
TWO = [["alpha", "bravo"], ["charlie", "delta", "echo"]]


def clean_env() -> dict[str, str]:
    """This process's environment without a developer's own key or vad-dictate settings, with
    the silence timer ending utterances."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPGRAM", "VAD_DICTATE"))}
    # The app tests are built on the timer: tone words with 1.0-1.5 s pauses, whose ends must not
    # hang on when a loaded machine gets the model's answer or the server's words to the client
    # (the ceiling, 1.3 s, would merge them). Smart turn taking, the default, has its own app
    # tests (tests/cli/test_turn_app.py), which take this setting out (default_env).
    env["VAD_DICTATE_VAD_TURN"] = "silence"
    return env


def app_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with no config, no key and a private runtime dir."""
    env = clean_env()
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "TMUX"):
        env.pop(var, None)
    runtime = tmp / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(XDG_CONFIG_HOME=str(tmp), XDG_RUNTIME_DIR=str(runtime), PYTHONPATH=str(ROOT))
    env.update(XDG_STATE_HOME=str(tmp / "state"))  # the history file stays in the test
    env.update(extra)
    return env


def default_env(tmp: Path, **extra: str) -> dict[str, str]:
    """app_env with every setting at its default: vad.turn too (see clean_env)."""
    env = app_env(tmp, **extra)
    del env["VAD_DICTATE_VAD_TURN"]
    return env


def long_wav(tmp: Path) -> Path:
    """One long utterance after 0.5 s of silence."""
    return write_wav(tmp / "long.wav", utterances([LONG], lead=0.5, tail=1.5))


def two_wav(tmp: Path) -> Path:
    """Two short utterances (about 4.5 s)."""
    return write_wav(tmp / "two.wav", utterances(TWO, pause=1.2, tail=1.2))


def app_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "vad_dictate", *args]


def start_cli(args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """``vad-dictate ARGS`` started from the checkout, no stdin, stdout and stderr piped."""
    return subprocess.Popen(
        app_cmd(*args),
        env=dict(env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def run_cli(
    args: Sequence[str], env: Mapping[str, str], timeout: float = 60, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """``vad-dictate ARGS`` to completion from the checkout, no stdin, output captured."""
    return subprocess.run(
        app_cmd(*args),
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=ROOT,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **popen,
    )


def control(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A control command (``status``, ``finalize``, ``toggle``, ...) to a running instance."""
    return run_cli(args, env, timeout=30)


def status(env: Mapping[str, str]) -> dict[str, Any]:
    """The running instance's ``vad-dictate status`` ({} while none answers)."""
    done = control(env, "status")
    answer: dict[str, Any] = json.loads(done.stdout) if done.returncode == 0 else {}
    return answer


def file_args(wav: Path, url: str, speed: str = "0", *more: str) -> list[str]:
    """Dictate ``wav`` against ``url`` at ``speed``, JSONL on stdout, then ``more``."""
    return ["--input", str(wav), "--url", url, "--output", "jsonl", "--speed", speed, *more]


def jsonl(stdout: str) -> list[dict[str, Any]]:
    """The records of JSONL output."""
    return [json.loads(line) for line in stdout.splitlines()]


def finish(proc: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]], str]:
    """Wait for a started app (killed if it takes over a minute): exit code, JSONL, stderr."""
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode, jsonl(out), err


def spoken(lines: list[dict[str, Any]]) -> list[str]:
    """The words of the printed utterances, lower case, without punctuation."""
    return " ".join(u["text"] for u in lines).lower().replace(".", "").replace(",", "").split()


def wait_for(check: Callable[[], bool], timeout: float = 20.0, every: float = 0.05) -> bool:
    """Poll ``check`` until it is true or ``timeout`` passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(every)
    return check()


class Pane:
    """A tmux server of our own with one pane running a shell command."""

    def __init__(self, tmp: Path, env: Mapping[str, str]) -> None:
        self.sock = f"vdtest-{os.getpid()}-{time.monotonic_ns()}"
        self.env = dict(env)
        self.conf = tmp / "tmux.conf"
        self.conf.write_text("set -g remain-on-exit on\nset -g status off\n")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.sock, "-f", str(self.conf), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=10,
            check=True,
        )
        return done.stdout

    def start(self, command: str, width: int = 150, height: int = 40) -> None:
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), command)

    def screen(self, escapes: bool = False) -> str:
        """The visible text (``escapes``: with the colour escape sequences)."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", *(["-e"] if escapes else []))

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def dead(self) -> bool:
        return self.tmux("display", "-p", "#{pane_dead}").strip() == "1"

    def exit_status(self) -> int:
        return int(self.tmux("display", "-p", "#{pane_dead_status}").strip())

    def stop(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, check=False)


@contextmanager
def tmux_pane(tmp: Path, env: Mapping[str, str]) -> Iterator[Pane]:
    """A tmux pane; the tmux server is killed at exit."""
    pane = Pane(tmp, env)
    try:
        yield pane
    finally:
        pane.stop()


def in_shell(argv: list[str], after: str = "") -> str:
    """A shell command running ``argv`` in the project directory, then ``after``."""
    # The shell outlives a Ctrl-C sent to the app (the trap is reset for the app itself).
    cmd = f"trap : INT; cd {shlex.quote(str(ROOT))} && {shlex.join(argv)}"
    return f"sh -c {shlex.quote(cmd + (f'; {after}' if after else ''))}"


@contextmanager
def xvfb() -> Iterator[str]:
    """A private X server (Xvfb); yields its DISPLAY value and stops it at exit."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=[write],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as fd:
            number = fd.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# A tiny X client: a Tk text box that takes the focus and saves its text to a file.
TEXT_BOX = r"""
import os, sys, tkinter as tk
out = sys.argv[1]
root = tk.Tk()
root.geometry("800x200+0+0")
box = tk.Text(root)
box.pack(fill="both", expand=True)

def save():
    with open(out + ".tmp", "w") as f:
        f.write(box.get("1.0", "end-1c"))
    os.replace(out + ".tmp", out)
    root.after(50, save)

def ready():
    root.focus_force()
    box.focus_set()
    open(out + ".ready", "w").close()

root.after(500, ready)
root.after(50, save)
root.mainloop()
"""


@contextmanager
def text_box(display: str, out: Path) -> Iterator[Path]:
    """A focused Tk text box on ``display``; yields the file that mirrors its text."""
    env = {**os.environ, "DISPLAY": display}
    proc = subprocess.Popen([sys.executable, "-c", TEXT_BOX, str(out)], env=env)
    try:
        if not wait_for(lambda: Path(str(out) + ".ready").exists(), timeout=20):
            raise RuntimeError("the Tk text box did not start")
        yield out
    finally:
        proc.terminate()
        proc.wait(timeout=10)
