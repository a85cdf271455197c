"""Desktop notifications from a running session, on a real session bus (dbus-daemon)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import app_cmd, app_env, run_cli, wait_for
from tests.client.test_session_device import FailingMic
from tests.dbusbus import session_bus
from tests.faultproxy import Fault, FaultProxy
from tests.wavs import silence, utterances, write_wav
from vad_dictate.client.pipeline import PipelineSettings
from vad_dictate.client.session import Session, SessionOptions
from vad_dictate.deepgram.protocol import ConnectOptions
from vad_dictate.engines.tone import ToneEngine, synth_utterance
from vad_dictate.server.serve import BackgroundServer
from vad_dictate.ui.desktop import DesktopOptions, DesktopView
from vad_dictate.ui.sinks import StatusView, UtteranceSink
from vad_dictate.vad.events import EndpointerSettings

LOST, BACK = "Dictation: connection lost", "Dictation: connection back"
GROUPS = [["alpha", "bravo"], ["charlie", "delta"], ["echo", "foxtrot"], ["golf", "hotel"]]


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        app_cmd(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def client(env: dict[str, str], command: str) -> None:
    done = subprocess.run(app_cmd(command), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_storm_pause_and_resume_in_order_without_duplicates(
    server_url: str, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "four.wav", utterances(GROUPS * 2, pause=1.0, tail=6.0))
    # Dropped, then four reconnects refused in a row before one gets through.
    storm = [Fault(8, "refuse", refuse=4)]
    with session_bus(tmp_path) as bus, FaultProxy(server_url, storm) as proxy:
        env = app_env(tmp_path, DBUS_SESSION_BUS_ADDRESS=bus.address)
        app = start(env, "--input", str(wav), "--url", proxy.url, "--output", "jsonl")
        try:
            assert wait_for(lambda: proxy.connections >= 2, timeout=40), proxy.fired
            assert proxy.refused == 4
            assert wait_for(lambda: BACK in bus.summaries(), timeout=20), bus.calls()
            client(env, "pause")
            assert wait_for(lambda: bus.summaries()[-1:] == ["Dictation paused"])
            client(env, "toggle")
            assert wait_for(lambda: bus.summaries()[-1:] == ["Dictation resumed"])
            client(env, "stop")
            out, err = app.communicate(timeout=60)
        finally:
            app.kill()
            app.wait()
        calls = bus.calls()
    assert app.returncode == 0, err
    assert [c["summary"] for c in calls] == [LOST, BACK, "Dictation paused", "Dictation resumed"]
    assert calls[0]["replaces_id"] == 0
    assert all(c["replaces_id"] == calls[0]["id"] for c in calls[1:])  # one bubble, updated
    assert {c["app"] for c in calls} == {"vad-dictate"}
    assert [c["urgency"] for c in calls] == [1, 1, 0, 0]
    words = " ".join(json.loads(line)["text"] for line in out.splitlines()).lower()
    assert words.startswith("alpha bravo")  # the storm lost nothing of the first
    assert err.count("notifications:") == 0


def test_giving_up_says_why(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "four.wav", utterances(GROUPS, pause=1.5, tail=1.5))
    outage = [Fault(10, "refuse", refuse=1000)]
    with session_bus(tmp_path) as bus, FaultProxy(server_url, outage):
        proxy_env = {"VAD_DICTATE_STREAM_RECONNECT_GIVE_UP_S": "2"}
        env = app_env(tmp_path, DBUS_SESSION_BUS_ADDRESS=bus.address, **proxy_env)
        with FaultProxy(server_url, outage) as proxy:
            done = subprocess.run(
                app_cmd("--input", str(wav), "--url", proxy.url, "--speed", "2"),
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
            )
        calls = bus.calls()
    assert done.returncode == 5, done.stderr
    assert [c["summary"] for c in calls] == [LOST, "Dictation stopped"]
    reason = done.stderr.strip().splitlines()[-1].removeprefix("vad-dictate: ")
    assert calls[1]["body"] == f"{reason.rstrip('.')} (exit code 5)."
    assert calls[1]["urgency"] == 2


def test_no_session_bus_turns_notifications_off_with_one_warning(
    server_url: str, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "one.wav", utterances(GROUPS[:1], tail=1.2))
    # A desktop session (a display) whose bus is gone.
    env = app_env(tmp_path, DISPLAY=":99", DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path}/gone")
    done = run_cli(["--input", str(wav), "--url", server_url, "--speed", "0"], env)
    assert done.returncode == 0 and done.stdout == "Alpha bravo.\n"
    assert done.stderr == (
        "notifications: no session bus ([Errno 2] No such file or directory); desktop "
        "notifications are off (ui.notify).\n"
    )


def test_notify_false_sends_nothing(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "four.wav", utterances(GROUPS, pause=1.5, tail=1.5))
    with session_bus(tmp_path) as bus:
        env = app_env(tmp_path, DBUS_SESSION_BUS_ADDRESS=bus.address, VAD_DICTATE_UI_NOTIFY="false")
        app = start(env, "--input", str(wav), "--url", server_url)
        try:
            assert wait_for(lambda: client_ok(env, "pause"), timeout=30)
            client(env, "resume")
            _out, err = app.communicate(timeout=60)
        finally:
            app.kill()
            app.wait()
        assert bus.calls() == []
    assert app.returncode == 0 and err == ""


def client_ok(env: dict[str, str], command: str) -> bool:
    done = subprocess.run(app_cmd(command), env=env, capture_output=True, text=True, timeout=30)
    return done.returncode == 0


def test_microphone_lost_and_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = np.concatenate([silence(0.5), synth_utterance(["alpha", "bravo"])])
    second = np.concatenate([silence(0.5), synth_utterance(["kilo", "lima"]), silence(1.5)])
    mic = FailingMic([first, second], reopenable=True)
    out, err = io.StringIO(), io.StringIO()

    async def dictate(url: str) -> None:
        view = DesktopView(StatusView(err, quiet=True), DesktopOptions(notify=True, notify_gap_s=0))
        options = SessionOptions(
            url=url,
            api_key=None,
            connect=ConnectOptions(endpointing=300),
            endpointer=EndpointerSettings(),
            pipeline=PipelineSettings(),
        )
        session = Session(mic, options, UtteranceSink("text", 1, out), view)
        view.bind(session.state)
        await view.start()
        try:
            await session.run()
        finally:
            await view.finish(None)

    with session_bus(tmp_path) as bus, BackgroundServer(ToneEngine()) as server:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        asyncio.run(dictate(server.start()))
        calls = bus.calls()
    assert out.getvalue() == "Alpha bravo.\nKilo lima.\n"
    assert [(c["summary"], c["body"]) for c in calls] == [
        (
            "Dictation: microphone lost",
            "Audio input from 'test mic' failed: no audio arrived for 3 s. "
            "Waiting for it to come back.",
        ),
        ("Dictation: microphone back", "Listening again."),
    ]
    assert "the microphone is back" in err.getvalue()  # stderr still says so
