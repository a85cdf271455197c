"""Security: TLS is always verified, and the API key never shows up anywhere."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tests.apprun import clean_env, run_cli
from tests.faultproxy import Fault, FaultProxy
from tests.serverproc import running_server
from tests.wavs import utterances, write_wav

ROOT = Path(__file__).resolve().parents[2]
KEY = "sec-test-key-4d1c9e0b"


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_url(tmp_path: Path) -> Iterator[str]:
    """A wss:// server on 127.0.0.1 with a self-signed certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    loop = asyncio.new_event_loop()
    ready: list[str] = []
    started = threading.Event()
    done = asyncio.Event()

    async def echo(conn: ServerConnection) -> None:
        async for _ in conn:
            pass

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=ctx) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            ready.append(f"wss://127.0.0.1:{port}/v1/listen")
            started.set()
            await done.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(10)
    yield ready[0]
    loop.call_soon_threadsafe(done.set)
    thread.join(timeout=10)
    loop.close()


def run_app(*args: str, tmp: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    env.update(XDG_CONFIG_HOME=str(tmp), VAD_DICTATE_STREAM_REPLAY_SPEED="0")
    if key:
        env["DEEPGRAM_API_KEY"] = key
    return run_cli(args, env, timeout=120)


def test_self_signed_certificate_is_refused(tls_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", utterances([["alpha"]]))
    res = run_app("--input", str(wav), "--url", tls_url, "--speed", "0", tmp=tmp_path, key=KEY)
    assert res.returncode == 5, res.stderr
    assert "certificate verify failed" in res.stderr.lower()
    assert len(res.stderr.strip().splitlines()) == 1
    assert KEY not in res.stdout + res.stderr


def test_no_switch_disables_verification() -> None:
    text = "\n".join(p.read_text() for p in (ROOT / "vad_dictate").glob("*.py"))
    for switch in ("CERT_NONE", "check_hostname = False", "_create_unverified_context"):
        assert switch not in text


def test_key_never_appears_in_any_output(tmp_path: Path) -> None:
    """Grep everything a succeeding, a reconnecting and a failing run print for the key."""
    wav = write_wav(tmp_path / "k.wav", utterances([["alpha", "bravo"], ["charlie"]]))
    with running_server("--api-key", KEY) as url:
        with FaultProxy(url, [Fault(30, "close1011")]) as proxy:
            ok = run_app(
                "--input",
                str(wav),
                "--url",
                proxy.url,
                "--speed",
                "0",
                "--output",
                "jsonl",
                tmp=tmp_path,
                key=KEY,
            )
        wrong = run_app(
            "--input", str(wav), "--url", url, "--speed", "0", tmp=tmp_path, key=KEY[:-1] + "x"
        )
    unreachable = run_app(
        "--input", str(wav), "--url", "ws://127.0.0.1:9/v1/listen", tmp=tmp_path, key=KEY
    )
    assert ok.returncode == 0, ok.stderr
    assert "alpha bravo" in ok.stdout.lower() and "connection lost" in ok.stderr
    assert (wrong.returncode, unreachable.returncode) == (3, 5)
    for res in (ok, wrong, unreachable):
        assert KEY not in res.stdout + res.stderr
        assert KEY[:8] not in res.stdout + res.stderr
