"""Offline dictation through the whole app: file -> endpointer -> websocket -> embedded
pocketsphinx server -> printed text, measured by word error rate on real recordings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.apprun import clean_env
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


def dictate(
    wav: Path, tmp: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[list[dict[str, object]], str]:
    base = clean_env()
    base.update(XDG_CONFIG_HOME=str(tmp), **(env or {}))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "vad_dictate",
            "--input",
            str(wav),
            "--speed",
            "0",
            "--output",
            "jsonl",
            *args,
        ],
        capture_output=True,
        text=True,
        env=base,
        cwd=ROOT,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()], res.stderr


def test_offline_by_default_with_word_error_rate_bound(joined: Path, tmp_path: Path) -> None:
    lines, err = dictate(joined, tmp_path)
    assert err.count("offline") == 1 and "DEEPGRAM_API_KEY" in err
    assert len(lines) == len(CLIPS)  # one utterance per sentence
    pairs = [
        (normalize(clip.with_suffix(".txt").read_text()), normalize(str(line["text"])))
        for clip, line in zip(CLIPS, lines, strict=True)
    ]
    wer = corpus_wer(pairs)
    print(f"offline corpus WER over {len(CLIPS)} clips: {wer:.3f}")
    assert wer <= 0.45


def test_offline_flag_wins_over_a_key(joined: Path, tmp_path: Path) -> None:
    lines, err = dictate(joined, tmp_path, "--offline", env={"DEEPGRAM_API_KEY": "k-unused-123"})
    assert "--offline was given" in err and "k-unused-123" not in err
    assert len(lines) == len(CLIPS)


def test_same_words_with_20_ms_and_100_ms_messages(joined: Path, tmp_path: Path) -> None:
    small, _ = dictate(joined, tmp_path, env={"VAD_DICTATE_STREAM_CHUNK_MS": "20"})
    large, _ = dictate(joined, tmp_path, env={"VAD_DICTATE_STREAM_CHUNK_MS": "100"})
    assert [x["text"] for x in small] == [x["text"] for x in large]
    assert len(small) == len(CLIPS)
