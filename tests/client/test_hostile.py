"""The real app against small hostile servers started here on 127.0.0.1 (issue 14, client
items): no traceback, nothing said lost, every wait bounded."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.apprun import clean_env, start_cli
from tests.client.test_core_hostile import HUGE
from tests.client.test_faults import assert_exactly_once, groups, run_app, texts
from tests.faultproxy import Fault, FaultProxy
from tests.hostile import HostileProxy, SilentListener
from tests.wavs import utterances, write_wav


def start(wav: Path, url: str, tmp: Path, *args: str) -> subprocess.Popen[str]:
    env = clean_env()
    env.update(XDG_CONFIG_HOME=str(tmp), VAD_DICTATE_STREAM_REPLAY_SPEED="0")
    return start_cli(["--input", str(wav), "--url", url, *args], env)


def test_connections_closed_at_once_lose_nothing(server_url: str, tmp_path: Path) -> None:
    expected = groups(3, seed=31)
    wav = write_wav(tmp_path / "a.wav", utterances(expected, pause=1.2))
    with HostileProxy(server_url, close_at_once={1: 1011, 2: 4000}) as proxy:
        res = run_app(wav, proxy.url, tmp_path, "--speed", "0")
        assert proxy.connections == 3
    assert_exactly_once(res, expected)


def test_huge_times_are_ignored_not_fatal(server_url: str, tmp_path: Path) -> None:
    expected = groups(4, seed=32)
    wav = write_wav(tmp_path / "h.wav", utterances(expected, pause=1.2))
    with FaultProxy(server_url, [Fault(30, "inject", payload=list(HUGE))]) as proxy:
        res = run_app(wav, proxy.url, tmp_path, "--speed", "0")
        assert proxy.connections == 1  # the reader survived: no reconnect
    assert_exactly_once(res, expected)


def test_closed_on_every_finalize_gives_up(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "c.wav", utterances(groups(3, seed=33), pause=1.2))
    with HostileProxy(server_url, close_on_finalize=4000) as proxy:
        res = run_app(
            wav,
            proxy.url,
            tmp_path,
            "--speed",
            "1",
            env={"VAD_DICTATE_STREAM_RECONNECT_GIVE_UP_S": "3"},
        )
        connections = proxy.connections
    assert res.returncode == 5, res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("vad-dictate: ")
    assert "Traceback" not in res.stderr
    assert connections <= 15  # backoff, not ~1.4 reconnects a second


def test_sigterm_ends_the_reconnect_loop(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "t.wav", utterances(groups(3, seed=34), pause=1.2, tail=30))
    with HostileProxy(server_url, close_on_finalize=4000) as proxy:
        app = start(wav, proxy.url, tmp_path, "--output", "jsonl")
        deadline = time.monotonic() + 60
        while proxy.connections < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proxy.connections >= 3
        app.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = app.communicate(timeout=30)
        took = time.monotonic() - sent
    assert app.returncode == 0, err
    assert "Traceback" not in err
    assert took < 8  # at once, not after reconnect_give_up_s (60 s)


def test_the_close_wait_ends_though_the_server_keeps_talking(
    server_url: str, tmp_path: Path
) -> None:
    expected = groups(3, seed=35)
    wav = write_wav(tmp_path / "w.wav", utterances(expected, pause=1.2))
    with HostileProxy(server_url, chatter_s=0.5) as proxy:
        res = run_app(
            wav,
            proxy.url,
            tmp_path,
            "--speed",
            "0",
            env={"VAD_DICTATE_STREAM_CLOSE_TIMEOUT_S": "2"},
            timeout=60,
        )
        assert proxy.connections == 1
    assert_exactly_once(res, expected)
    assert "did not close the stream in time" in res.stderr


def test_a_closed_stdout_stops_at_once_and_keeps_the_other_targets(
    server_url: str, tmp_path: Path
) -> None:
    expected = groups(8, seed=36)
    wav = write_wav(tmp_path / "p.wav", utterances(expected, pause=1.2))
    appended = tmp_path / "out.txt"
    app = start(wav, server_url, tmp_path, "--append", str(appended), "--speed", "2")
    assert app.stdout is not None and app.stderr is not None
    first = app.stdout.readline()
    app.stdout.close()  # like `| head -1`
    code = app.wait(timeout=60)
    err = app.stderr.read()
    assert code in (0, 141), err
    assert "Traceback" not in err and "reconnect" not in err and "Exception" not in err
    kept = appended.read_text().split()
    shown = first.split()
    assert kept[: len(shown)] == shown
    # The utterance that met the closed pipe still reached the file; then it stopped.
    assert len(shown) < len(kept) < sum(len(g) for g in expected)


def test_a_key_in_the_url_is_never_echoed(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wav = write_wav(tmp_path / "k.wav", utterances([["alpha"]]))
    url = f"ws://SECRETKEY123:pw@127.0.0.1:{port}/v1/listen"
    res = run_app(wav, url, tmp_path, "--speed", "0")
    assert res.returncode == 5
    assert "SECRETKEY123" not in res.stderr + res.stdout
    assert f"ws://127.0.0.1:{port}" in res.stderr
    assert texts(res) == []


def test_sigterm_during_a_hanging_handshake(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "s.wav", utterances([["alpha", "bravo"]], tail=20))
    with SilentListener() as listener:
        app = start(wav, f"ws://127.0.0.1:{listener.port}/v1/listen", tmp_path)
        assert listener.accepted.wait(timeout=30)
        time.sleep(0.5)
        app.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = app.communicate(timeout=30)
        took = time.monotonic() - sent
    assert app.returncode == 0, err
    assert "Traceback" not in err
    assert took < 6  # the stop request ends it, not the 10 s open timeout
