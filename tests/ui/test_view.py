"""The live status line: pure rendering, the view's redraws, and the app in a real terminal."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import ANSI, app_cmd, app_env, in_shell, tmux_pane, two_wav, wait_for
from vad_dictate.ui.desktop import DesktopOptions, DesktopView
from vad_dictate.ui.sinks import StatusView
from vad_dictate.ui.view import (
    DIM,
    LiveView,
    ViewState,
    level_db,
    make_status_view,
    meter,
    render_status,
)


def plain(text: str) -> str:
    return ANSI.sub("", text)


def test_meter_and_level() -> None:
    assert meter(0.0) == "██████████"
    assert meter(-60.0) == "░░░░░░░░░░"
    assert meter(-30.0) == "█████░░░░░"
    full_scale = np.full((320, 1), 32767, dtype=np.int16)
    assert level_db(full_scale) == pytest.approx(0.0, abs=0.01)
    assert level_db(np.zeros((320, 1), dtype=np.int16)) == -60.0
    assert level_db((full_scale // 10).astype(np.int16)) == pytest.approx(-20.0, abs=0.01)


def test_render_status_shows_every_part() -> None:
    view = ViewState("speech", -30.0, True, {0: "alpha bravo"}, 812.4)
    line = render_status(view, 120)
    assert plain(line) == "speech       │ mic █████░░░░░ speech │ last 812 ms │ alpha bravo"
    assert f"{DIM} │ alpha bravo" in line  # interim text is dimmed
    quiet = ViewState("listening", -60.0, False, {}, None)
    assert plain(render_status(quiet, 120)) == "listening    │ mic ░░░░░░░░░░ quiet "


def test_render_status_never_wraps_and_keeps_the_end_of_long_interim() -> None:
    words = " ".join(["word"] * 40) + " last"
    view = ViewState("speech", -20.0, True, {0: words}, None)
    for width in (20, 45, 60, 80):
        assert len(plain(render_status(view, width))) <= width - 1
    assert plain(render_status(view, 60)).endswith("word word last")
    assert "…" in plain(render_status(view, 60))


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_view_redraws_in_place_and_prints_messages_above() -> None:
    out = FakeTty()
    view = LiveView(out)
    view.state("listening")
    view.interim(0, "alpha")
    view.message("warning: something")
    view.committed(0, 500.0)
    view.close()
    text = out.getvalue()
    frames = text.split("\r\x1b[2K")
    assert plain(frames[1]) == "listening    │ mic ░░░░░░░░░░ quiet "
    assert plain(frames[2]).endswith("│ alpha")
    assert frames[3] == "warning: something\n"
    assert plain(frames[4]).endswith("│ alpha")  # redrawn below the message
    assert plain(frames[5]).endswith("last 500 ms")  # interim gone, latency shown
    assert frames[-1] == ""  # close() leaves an empty line
    view.message("after close")
    assert out.getvalue().endswith("after close\n")


def test_status_view_choice() -> None:
    assert type(make_status_view(False, io.StringIO())) is StatusView  # not a terminal
    assert type(make_status_view(True, FakeTty())) is StatusView  # --quiet
    assert type(make_status_view(False, FakeTty())) is LiveView


def test_a_view_says_whether_a_person_watches_it_live() -> None:
    assert not StatusView(FakeTty()).live and LiveView(FakeTty()).live
    assert DesktopView(LiveView(FakeTty()), DesktopOptions()).live
    assert not DesktopView(StatusView(io.StringIO()), DesktopOptions()).live


def test_app_in_a_terminal_shows_the_status_line_and_words(server_url: str, tmp_path: Path) -> None:
    wav = two_wav(tmp_path)
    argv = app_cmd("--input", str(wav), "--url", server_url, "--speed", "1")
    with tmux_pane(tmp_path, app_env(tmp_path)) as pane:
        pane.start(in_shell(argv, 'echo "EXIT=$?"'))
        seen: list[str] = []

        def status_with(*parts: str) -> bool:
            seen.append(pane.screen(escapes=True))
            return any(all(p in plain(line) for p in parts) for line in seen[-1].splitlines())

        assert wait_for(lambda: status_with("speech", "mic █", "speech")), seen[-1]
        assert wait_for(lambda: status_with("listening", "last ", " ms")), seen[-1]
        assert wait_for(lambda: "EXIT=0" in pane.screen(), timeout=30), pane.screen()
        lines = pane.screen().splitlines()
        # Utterances are whole lines at column 0; the status line is gone at the end.
        shown = [ln for ln in lines if ln.strip() and not ln.startswith("Pane is dead")]
        assert shown == ["Alpha bravo.", "Charlie delta echo.", "EXIT=0"]
        dimmed = [s for s in seen if "\x1b[2m" in s]  # interim text while words come in
        assert any("Alpha" in plain(s) or "Charlie" in plain(s) for s in dimmed)


def test_no_view_when_quiet_or_stderr_is_not_a_terminal(server_url: str, tmp_path: Path) -> None:
    wav = two_wav(tmp_path)
    argv = app_cmd("--input", str(wav), "--url", server_url, "--speed", "0")
    with tmux_pane(tmp_path, app_env(tmp_path)) as pane:
        pane.start(in_shell([*argv, "--quiet"], 'echo "EXIT=$?"'))
        assert wait_for(lambda: "EXIT=0" in pane.screen(), timeout=30), pane.screen()
        assert "mic" not in pane.screen() and "Charlie delta echo." in pane.screen()
    done = subprocess.run(
        argv,
        env=app_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0 and done.stdout == "Alpha bravo.\nCharlie delta echo.\n"
    assert "\x1b[" not in done.stderr and "mic" not in done.stderr
