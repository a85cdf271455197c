"""``vad-dictate service``: the systemd user unit, checked by systemd and run for real."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apprun import ROOT, app_cmd, app_env, status, wait_for
from tests.fakemic import fake_mic
from tests.wavs import silence
from vad_dictate.ui.service import UnitSpec, edited, render_unit

SPEC = UnitSpec(("/opt/py dir/bin/python3", "-m", "vad_dictate", "--paused"), (("A", "b%c"),))


def service(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        app_cmd("service", *args), env=env, capture_output=True, text=True, timeout=60
    )


def unit_lines(text: str) -> list[str]:
    return text.splitlines()[1:]  # after the checksum line


def test_unit_text_for_old_and_new_systemd() -> None:
    old = unit_lines(render_unit(SPEC))
    assert 'ExecStart="/opt/py dir/bin/python3" -m vad_dictate --paused' in old
    assert 'Environment="A=b%%c"' in old
    assert "Restart=on-failure" in old and "RestartSec=2" in old
    assert "RestartPreventExitStatus=2 3 6" in old  # config, credentials, already running
    assert not any(line.startswith("RestartSteps") for line in old)  # unknown before 254
    new = unit_lines(render_unit(UnitSpec(SPEC.argv, SPEC.environment, 254)))
    assert [line for line in new if line not in old] == [
        "RestartSteps=6",
        "RestartMaxDelaySec=120",
    ]


def test_edited_units_are_recognised() -> None:
    text = render_unit(SPEC)
    assert not edited(text)
    assert edited(text.replace("RestartSec=2", "RestartSec=9"))
    assert edited(text.replace("# Written by", "# written by"))
    assert edited("[Service]\nExecStart=/bin/true\n")


def exec_start(unit: str) -> tuple[list[str], dict[str, str]]:
    """The unit's command line and environment, as systemd would run them."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for line in unit.splitlines():
        if line.startswith("ExecStart="):
            argv = shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))
        elif line.startswith("Environment="):
            key, _, value = shlex.split(line.removeprefix("Environment="))[0].partition("=")
            env[key] = value
    return argv, env


@pytest.mark.skipif(not os.path.exists("/usr/bin/systemd-analyze"), reason="no systemd")
def test_install_verify_run_and_uninstall(server_url: str, tmp_path: Path) -> None:
    env = app_env(tmp_path)
    unit = tmp_path / "systemd" / "user" / "vad-dictate.service"
    done = service(env, "install")
    # No user manager in a test container: the steps are printed, and that is success.
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"wrote {unit}\n"
        "No systemd user manager is reachable here; to start it now and at login, run:\n"
        "  systemctl --user daemon-reload\n"
        "  systemctl --user enable --now vad-dictate.service\n"
    )
    text = unit.read_text()
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(unit)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", "")
    argv, unit_env = exec_start(text)
    assert argv == [sys.executable, "-m", "vad_dictate", "--paused"]
    assert unit_env == {"PYTHONPATH": str(ROOT)}  # this checkout, as the tests run it
    assert service(env, "status").stdout.startswith(f"installed: {unit} (as written)\n")

    # ExecStart for real, on a microphone: it starts paused, and resumes on toggle.
    with fake_mic(tmp_path, silence(1.0)) as mic:
        run_env = {**app_env(tmp_path, **mic), **unit_env, "VAD_DICTATE_DEEPGRAM_URL": server_url}
        proc = subprocess.Popen(
            argv, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert wait_for(lambda: status(run_env).get("state") == "paused", timeout=30)
            assert wait_for(lambda: status(run_env)["captured_s"] > 1.0)  # capture runs
            assert status(run_env)["sent_s"] == 0
            subprocess.run(app_cmd("toggle"), env=run_env, timeout=30, check=True)
            assert status(run_env)["state"] != "paused"
            subprocess.run(app_cmd("stop"), env=run_env, timeout=30, check=True)
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err

    done = service(env, "uninstall")
    assert done.returncode == 0 and not unit.exists()
    assert done.stdout.startswith(f"removed {unit}\n")
    assert service(env, "uninstall").stdout == f"not installed ({unit} does not exist)\n"


def test_a_unit_edited_by_the_user_is_kept_without_force(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    unit = tmp_path / "systemd" / "user" / "vad-dictate.service"
    assert service(env, "install").returncode == 0
    mine = unit.read_text().replace("RestartSec=2", "RestartSec=30")
    unit.write_text(mine)
    assert service(env, "status").stdout.startswith(
        f"installed: {unit} (edited since vad-dictate wrote it)\n"
    )
    for action, verb in (("install", "replace"), ("uninstall", "remove")):
        done = service(env, action)
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == (
            f"vad-dictate: '{unit}' was changed since vad-dictate wrote it, so it was left alone; "
            f"to {verb} it anyway run: vad-dictate service {action} --force\n"
        )
        assert unit.read_text() == mine
    assert service(env, "install", "--force").returncode == 0
    assert not edited(unit.read_text())
    unit.write_text(mine)
    assert service(env, "uninstall", "--force").returncode == 0 and not unit.exists()


def test_install_again_over_its_own_unit_needs_no_force(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    assert service(env, "install").returncode == 0
    assert service(env, "install").returncode == 0


def test_usage_errors(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    done = service(env, "start")
    assert done.returncode == 2 and "invalid choice: 'start'" in done.stderr
    assert service(env).returncode == 2
