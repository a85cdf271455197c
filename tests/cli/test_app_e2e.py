"""The whole app as a user runs it: `vad-dictate --input X.wav` against `vad-dictate serve`."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import clean_env, file_args, jsonl, run_cli
from tests.serverproc import running_server
from tests.wavs import silence, stereo, utterances, write_wav
from vad_dictate.engines.tone import synth_utterance

ROOT = Path(__file__).resolve().parents[2]
KEY = "e2e-secret-key-7f3a9c"

FIVE = [
    ["alpha", "bravo"],
    ["charlie", "delta", "echo"],
    ["foxtrot", "golf", "hotel", "india"],
    ["juliett", "kilo", "lima", "mike", "november"],
    ["oscar", "papa", "alpha", "bravo", "charlie", "delta"],
]


@pytest.fixture(scope="module")
def keyed_server_url() -> Iterator[str]:
    with running_server("--api-key", KEY) as url:
        yield url


def run_app(
    *args: str,
    tmp: Path,
    key: str | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    base = clean_env()
    env = {**base, **(env or {}), "XDG_CONFIG_HOME": str(tmp)}  # no user config file
    if key:
        env["DEEPGRAM_API_KEY"] = key
    return run_cli(args, env, timeout=timeout)


def test_five_utterances_print_five_lines_in_order(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "five.wav", utterances(FIVE, pause=1.2))
    res = run_app(*file_args(wav, server_url), tmp=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = jsonl(res.stdout)
    assert [line["text"].rstrip(".").lower() for line in lines] == [" ".join(g) for g in FIVE]
    assert all(line["trigger"] == "vad" for line in lines)
    assert all(line["type"] == "utterance" and line["channel"] == 0 for line in lines)
    starts = [line["start"] for line in lines]
    assert starts == sorted(starts) and starts[0] == pytest.approx(0.5, abs=0.1)
    assert all(line["end"] > line["start"] for line in lines)
    assert all(isinstance(line["latency_ms"], float) for line in lines)
    assert list(lines[0]) == [
        "type",
        "channel",
        "text",
        "start",
        "end",
        "trigger",
        "latency_ms",
        "seq",
    ]


def test_text_output_paced_in_real_time(server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "two.wav", utterances(FIVE[:2], pause=1.0, tail=1.0))
    res = run_app("--input", str(wav), "--url", server_url, "--speed", "4", tmp=tmp_path)
    assert res.returncode == 0, res.stderr
    assert [s.rstrip(".").lower() for s in res.stdout.splitlines()] == [
        "alpha bravo",
        "charlie delta echo",
    ]


def test_stereo_channels_are_transcribed_separately(server_url: str, tmp_path: Path) -> None:
    left = utterances([["alpha", "bravo"], ["charlie", "delta"]], lead=0.5, pause=1.5)
    right = utterances([["kilo", "lima", "mike"]], lead=1.6)
    wav = write_wav(tmp_path / "stereo.wav", stereo(left, right))
    res = run_app(*file_args(wav, server_url), tmp=tmp_path)
    assert res.returncode == 0, res.stderr
    got = [(line["channel"], line["text"].rstrip(".").lower()) for line in jsonl(res.stdout)]
    assert sorted(got) == [(0, "alpha bravo"), (0, "charlie delta"), (1, "kilo lima mike")]
    assert [t for c, t in got if c == 0] == ["alpha bravo", "charlie delta"]
    text = run_app("--input", str(wav), "--url", server_url, "--speed", "0", tmp=tmp_path)
    assert sorted(text.stdout.splitlines()) == [
        "[ch0] Alpha bravo.",
        "[ch0] Charlie delta.",
        "[ch1] Kilo lima mike.",
    ]


def test_file_ending_mid_utterance_prints_it_with_trigger_end(
    server_url: str, tmp_path: Path
) -> None:
    audio = np.concatenate(
        [
            silence(0.5),
            synth_utterance(["alpha", "bravo"]),
            silence(1.5),
            synth_utterance(["echo", "golf", "hotel"]),
        ]
    )
    wav = write_wav(tmp_path / "cut.wav", audio)
    res = run_app(*file_args(wav, server_url), tmp=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = jsonl(res.stdout)
    assert [(x["text"].rstrip(".").lower(), x["trigger"]) for x in lines] == [
        ("alpha bravo", "vad"),
        ("echo golf hotel", "end"),
    ]


def test_key_is_sent_and_never_shown(keyed_server_url: str, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "k.wav", utterances([["alpha", "bravo"]]))
    ok = run_app(
        "--input", str(wav), "--url", keyed_server_url, "--speed", "0", key=KEY, tmp=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.lower().rstrip(".\n") == "alpha bravo"
    bad = run_app(
        "--input",
        str(wav),
        "--url",
        keyed_server_url,
        "--speed",
        "0",
        key=KEY + "-wrong",
        tmp=tmp_path,
    )
    assert bad.returncode == 3
    assert bad.stdout == ""
    for res in (ok, bad):
        assert KEY not in res.stdout + res.stderr


def one_line_error(res: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_input_one_line_and_exit_code(server_url: str, tmp_path: Path) -> None:
    url = ["--url", server_url, "--speed", "0"]
    one_line_error(
        run_app("--input", str(tmp_path / "missing.wav"), *url, tmp=tmp_path), 2, "missing.wav"
    )
    notwav = tmp_path / "notes.wav"
    notwav.write_text("these are not audio samples\n")
    one_line_error(run_app("--input", str(notwav), *url, tmp=tmp_path), 2, "notes.wav")
    wma = tmp_path / "wma.wav"
    fmt = (0x0161).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    fmt += (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    data = b"data" + (4).to_bytes(4, "little") + b"\xd5" * 4
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + data
    wma.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    one_line_error(run_app("--input", str(wma), *url, tmp=tmp_path), 2, "wma.wav")
    wav = write_wav(tmp_path / "ok.wav", utterances([["alpha"]]))
    one_line_error(
        run_app("--input", str(wav), "--url", "ws://127.0.0.1:9/v1/listen", tmp=tmp_path),
        5,
        "127.0.0.1:9",
    )
    one_line_error(
        run_app("--input", str(wav), *url, "--silence-ms", "5", tmp=tmp_path), 2, "silence_ms"
    )
    one_line_error(run_app("--input", str(wav), *url, "--speed", "-1", tmp=tmp_path), 2, "--speed")
    one_line_error(run_app("--input", str(wav), *url, "--bogus", tmp=tmp_path), 2, "--bogus")
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[vad]\naggressiveness = 9\n")
    one_line_error(
        run_app("--input", str(wav), *url, "--config", str(cfg), tmp=tmp_path),
        2,
        "vad.aggressiveness",
    )


@pytest.mark.parametrize("chunk_ms", [20, 100])
def test_audio_messages_are_chunk_ms_long(server_url: str, tmp_path: Path, chunk_ms: int) -> None:
    from tests.faultproxy import FaultProxy

    wav = write_wav(tmp_path / "c.wav", utterances(FIVE[:3], pause=1.2))
    with FaultProxy(server_url) as proxy:
        env = {"VAD_DICTATE_STREAM_CHUNK_MS": str(chunk_ms)}
        res = run_app(
            "--input", str(wav), "--url", proxy.url, "--speed", "0", tmp=tmp_path, env=env
        )
        sizes = [n // 2 for _, _, n in proxy.audio_log[1:]]  # frames; the first is the silence
    assert res.returncode == 0, res.stderr
    want = 16 * chunk_ms
    assert all(16 * 20 <= n <= 16 * 100 for n in sizes), sizes
    assert sum(n == want for n in sizes) >= len(sizes) - 2 * 3  # all but the flush pieces


def test_keepalive_while_silent_and_the_stream_lifecycle(server_url: str, tmp_path: Path) -> None:
    """100 ms of silence opens the stream, KeepAlive every 3-5 s holds it while nothing is
    sent, one Finalize per utterance, and CloseStream ends it."""
    from tests.faultproxy import FaultProxy

    audio = np.concatenate(
        [
            silence(0.5),
            synth_utterance(["alpha"]),
            silence(11.0),
            synth_utterance(["bravo"]),
            silence(1.5),
        ]
    )
    wav = write_wav(tmp_path / "gap.wav", audio)
    with FaultProxy(server_url) as proxy:
        res = run_app("--input", str(wav), "--url", proxy.url, "--speed", "1", tmp=tmp_path)
        first = proxy.first_audio[1]
        texts = [(t, json.loads(m)["type"]) for _, t, m in proxy.text_log]
    assert res.returncode == 0, res.stderr
    assert [s.rstrip(".").lower() for s in res.stdout.splitlines()] == ["alpha", "bravo"]
    assert first == bytes(3200)  # 100 ms of 16 kHz int16 silence
    kinds = [k for _, k in texts]
    assert kinds.count("Finalize") == 2 and kinds[-1] == "CloseStream"
    keepalives = [t for t, k in texts if k == "KeepAlive"]
    assert len(keepalives) >= 2
    gaps = [b - a for a, b in itertools.pairwise(keepalives)]
    assert all(3.0 <= g < 8.0 for g in gaps), gaps  # 4 s apart; far inside the 10 s timeout
