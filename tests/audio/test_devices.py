"""`vad-dictate devices` and --device over PortAudio reading virtual ALSA devices."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.apprun import app_env, start_cli
from tests.serverproc import running_server
from tests.wavs import utterances

ROOT = Path(__file__).resolve().parents[2]
ALSA_CONF = "/usr/share/alsa/alsa.conf"
ROW = re.compile(r"^([* ]) +(\d+)  (.+?) +(\d+) Hz  (\d+)$")


def alsa_env(tmp: Path) -> dict[str, str]:
    """Two virtual capture devices (the ALSA ``file`` plugin reading raw files)."""
    raw = tmp / "silence.raw"
    raw.write_bytes(np.zeros(16000, dtype="<i2").tobytes())
    conf = tmp / "asoundrc"
    conf.write_text(
        "".join(
            f'pcm.{name} {{ type file slave.pcm "null" file "/dev/null" infile "{raw}" '
            'format "raw" }\n'
            for name in ("fakemic", "fakeheadset")
        )
    )
    env = app_env(tmp)
    env["ALSA_CONFIG_PATH"] = f"{ALSA_CONF}:{conf}"
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vad_dictate", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_devices_lists_inputs_with_rate_channels_and_the_default(tmp_path: Path) -> None:
    env = alsa_env(tmp_path)
    done = run(env, "devices")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(r"^  index  name +rate  channels$", lines[0])
    assert lines[-1] == "* default; choose with --device INDEX or --device NAME-FRAGMENT"
    rows = [ROW.match(line) for line in lines[1:-1]]
    assert all(rows), lines
    table = {m[3]: (m[1] == "*", int(m[2]), int(m[4]), int(m[5])) for m in rows if m}
    assert {"fakemic", "fakeheadset"} <= set(table)
    assert sum(default for default, *_ in table.values()) <= 1
    indexes = [index for _, index, _, _ in table.values()]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    # The same facts PortAudio gives to the capture code.
    probe = (
        "from vad_dictate.audio.mic import list_input_devices as l\n"
        "for d in l(): print(d.index, d.name, round(d.default_samplerate), "
        "d.max_input_channels, d.is_default)"
    )
    facts = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    for line in facts:
        index, name, rate, channels, default = line.split(" ")
        assert table[name] == (default == "True", int(index), int(rate), int(channels))


def test_device_by_name_fragment_or_index_errors(tmp_path: Path) -> None:
    env = alsa_env(tmp_path)
    done = run(env, "--device", "nosuchmic")
    assert done.returncode == 4
    assert done.stderr == (
        "vad-dictate: No audio input device matches 'nosuchmic'; "
        "list them with: vad-dictate devices\n"
    )
    done = run(env, "--device", "fake")  # two devices match
    assert done.returncode == 4
    assert re.fullmatch(
        r"vad-dictate: 'fake' matches several audio input devices \(\d+ 'fakemic', "
        r"\d+ 'fakeheadset'\); give more of the name or the device number\n",
        done.stderr,
    )
    done = run(env, "--device", "9999")
    assert done.returncode == 4 and "There is no audio input device number 9999" in done.stderr


def test_dictation_from_a_device_chosen_by_name_fragment(tmp_path: Path) -> None:
    env = alsa_env(tmp_path)
    audio = utterances([["alpha", "bravo"], ["charlie", "delta"]], pause=1.0, tail=1.0)
    # The file plugin reads as fast as it can; a file source paced in real time is the FIFO
    # feeder of test_mic_app. Here the words are few and a long silence follows them.
    raw = tmp_path / "speech.raw"
    raw.write_bytes(np.concatenate([audio, np.zeros(16000 * 60, np.int16)]).astype("<i2").tobytes())
    conf = tmp_path / "speech.conf"
    conf.write_text(
        f'pcm.studiomic {{ type file slave.pcm "null" file "/dev/null" infile "{raw}" '
        'format "raw" }\n'
    )
    env["ALSA_CONFIG_PATH"] += f":{conf}"
    with running_server() as url:
        proc = start_cli(["--device", "STUDIO", "--url", url], env)
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline(), proc.stdout.readline()]
            run(env, "stop")
            rest, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
            proc.wait()
    assert lines == ["Alpha bravo.\n", "Charlie delta.\n"], err
    assert proc.returncode == 0 and rest == ""
