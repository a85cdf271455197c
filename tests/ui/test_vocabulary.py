"""The vocabulary file and `vad-dictate vocab`: terms in, the keyterm limit refused before
anything is written or sent, bad files one sentence and exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.apprun import app_cmd, app_env
from tests.wavs import utterances, write_wav
from vad_dictate.cli.dictate import keyterms
from vad_dictate.config import load_settings
from vad_dictate.ui.remote import send_command
from vad_dictate.ui.vocabulary import read_terms


def vocab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        app_cmd("vocab", *args), env=env, capture_output=True, text=True, timeout=30
    )


def test_add_remove_list(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    file = tmp_path / "vad-dictate" / "vocabulary.txt"
    done = vocab(env, "add", "Dashwood")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"vocab: added 'Dashwood' (1 terms in {file})\n"
        "vocab: the next vad-dictate session uses them\n"
    )
    assert vocab(env, "add", "Norland", "Park").returncode == 0
    assert vocab(env, "add", "Dashwood").stdout == f"vocab: 'Dashwood' is already in {file}\n"
    assert file.read_text() == "Dashwood\nNorland Park\n"
    assert vocab(env, "list").stdout == "Dashwood\nNorland Park\n"
    assert vocab(env, "remove", "Dashwood").returncode == 0
    assert vocab(env, "list").stdout == "Norland Park\n"
    gone = vocab(env, "remove", "Barton")
    assert gone.returncode == 2
    assert gone.stderr == (
        f"vad-dictate: 'Barton' is not in the vocabulary ({file}); see: vad-dictate vocab list\n"
    )


def test_the_keyterm_limit_is_refused_before_writing(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    file = tmp_path / "vad-dictate" / "vocabulary.txt"
    file.parent.mkdir()
    file.write_text("".join(f"term{i:04d}\n" for i in range(249)))  # 498 tokens
    before = file.read_text()
    done = vocab(env, "add", "Dashwood")  # 2 more: 500, still allowed
    assert done.returncode == 0, done.stderr
    over = vocab(env, "add", "Norland")
    assert over.returncode == 2 and over.stdout == ""
    assert over.stderr == (
        "vad-dictate: With it, the vocabulary's terms come to about 502 tokens, over Deepgram's "
        "500-token keyterm limit (past it transcription stops); remove some terms first.\n"
    )
    assert file.read_text() == before + "Dashwood\n"


def test_terms_join_the_configured_keyterms(tmp_path: Path) -> None:
    file = tmp_path / "words.txt"
    file.write_text("# names\nDashwood\n\n  Norland   Park \nDashwood\nMarianne\n")
    assert read_terms(file) == ["Dashwood", "Norland Park", "Marianne"]
    s = load_settings(
        None,
        {"deepgram.vocabulary": str(file), "deepgram.keyterms": ["Marianne", "Elinor"]},
        environ={"HOME": "/nonexistent"},
    )
    assert keyterms(s) == ("Marianne", "Elinor", "Dashwood", "Norland Park")


def test_bad_vocabulary_files_are_one_sentence_and_exit_2(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    file = tmp_path / "vad-dictate" / "vocabulary.txt"
    file.mkdir(parents=True)  # a directory where the file should be
    for args in (("list",), ("add", "x")):
        done = vocab(env, *args)
        assert done.returncode == 2
        assert done.stderr == (
            f"vad-dictate: Cannot read the vocabulary file '{file}' (Is a directory); fix it or "
            "remove it.\n"
        )
    wav = write_wav(tmp_path / "one.wav", utterances([["alpha"]], lead=0.3, tail=0.5))
    dictate = subprocess.run(
        app_cmd("--input", str(wav), "--url", "ws://127.0.0.1:9/v1/listen"),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dictate.returncode == 2 and "Cannot read the vocabulary file" in dictate.stderr
    file.rmdir()
    file.write_bytes(b"caf\xe9\n")
    done = vocab(env, "list")
    assert done.returncode == 2 and "(it is not UTF-8 text)" in done.stderr
    many = tmp_path / "vad-dictate" / "config.toml"
    many.write_text("[deepgram]\nkeyterms = [" + ", ".join(f'"w{i}"' for i in range(501)) + "]\n")
    file.write_text("")
    over = subprocess.run(
        app_cmd("--input", str(wav)), env=env, capture_output=True, text=True, timeout=30
    )
    assert over.returncode == 2
    assert "deepgram.keyterms and the vocabulary file together come to about 501 tokens" in (
        over.stderr
    )


def test_a_running_session_takes_new_keyterms_without_reconnecting(
    server_url: str, tmp_path: Path
) -> None:
    env = app_env(tmp_path)
    file = tmp_path / "vad-dictate" / "vocabulary.txt"
    file.parent.mkdir()
    file.write_text("Dashwood\n")
    groups = [["alpha"], ["bravo"], ["charlie"]]
    wav = write_wav(tmp_path / "three.wav", utterances(groups, pause=4.0, lead=0.3, tail=1.0))
    args = ("--input", str(wav), "--url", server_url, "--output", "jsonl")
    proc = subprocess.Popen(
        app_cmd(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    added = vocab(env, "add", "Norland", "Park")
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[1] == "vocab: sent 2 keyterms to the server"
    file.write_text("".join(f"term{i:04d}\n" for i in range(251)))  # past the limit
    refused = send_command("vocab", env)
    assert refused["ok"] is False and "over Deepgram's 500-token keyterm limit" in refused["error"]
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [json.loads(line)["text"] for line in [first, *out.splitlines()]] == [
        "Alpha.",
        "Bravo.",
        "Charlie.",
    ]
    assert err.count("vocabulary: 2 keyterms in effect") == 1  # the server's ConfigureSuccess
    assert "reconnecting" not in err
