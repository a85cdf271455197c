"""Start and stop cues: their samples, and a session playing them on the default output.

The default ALSA output of the app is pointed at the ``file`` plugin, so what PortAudio
plays lands in a raw file that the test reads back and listens to with an FFT.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.apprun import app_cmd, app_env, wait_for
from tests.wavs import utterances, write_wav
from vad_dictate.ui.sounds import CUE_TONES, LEVEL, TONE_S, cue

RATE = 48000
WINDOW = 1024


def tones(samples: npt.NDArray[np.float64], rate: int) -> list[int]:
    """The cue tones heard, in order (repeats merged, silence skipped)."""
    heard: list[int] = []
    freqs = np.fft.rfftfreq(WINDOW, 1 / rate)
    for start in range(0, len(samples) - WINDOW, WINDOW):
        piece = samples[start : start + WINDOW]
        if np.sqrt(np.mean(piece**2)) < 0.02:
            continue
        spectrum = np.abs(np.fft.rfft(piece * np.hanning(WINDOW)))
        peak = round(float(freqs[int(np.argmax(spectrum))]))
        tone = min((660, 880), key=lambda hz: abs(hz - peak))
        if abs(tone - peak) < 50 and heard[-1:] != [tone]:
            heard.append(tone)
    return heard


@pytest.mark.parametrize("kind", ["start", "stop"])
def test_cue_is_two_soft_tones(kind: str) -> None:
    samples = cue(kind, RATE).astype(np.float64)
    assert len(samples) == 2 * int(TONE_S * RATE)
    assert np.abs(samples).max() == pytest.approx(LEVEL, rel=0.01)
    assert samples[0] == 0.0 and abs(samples[-1]) < 1e-3  # faded: no click
    assert tones(samples, RATE) == list(CUE_TONES[kind])


def test_session_plays_start_and_stop_cues(server_url: str, tmp_path: Path) -> None:
    played = tmp_path / "played.raw"
    conf = tmp_path / "asoundrc"
    conf.write_text(
        "pcm.!default { type plug slave { pcm cues format S16_LE "
        f"rate {RATE} channels 1 }} }}\n"
        # Each cue opens the device anew: append, or the plugin would start the file over.
        f'pcm.cues {{ type file slave.pcm "null" file "| cat >> {played}" format "raw" }}\n'
    )
    env = app_env(
        tmp_path,
        ALSA_CONFIG_PATH=f"/usr/share/alsa/alsa.conf:{conf}",
        VAD_DICTATE_UI_SOUNDS="true",
    )
    wav = write_wav(tmp_path / "two.wav", utterances([["alpha"], ["bravo"]], pause=3.0, tail=2))
    app = subprocess.Popen(
        app_cmd("--input", str(wav), "--url", server_url),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: played.exists() and played.stat().st_size > 0, timeout=30)
        for command in ("pause", "resume"):
            done = subprocess.run(app_cmd(command), env=env, capture_output=True, timeout=30)
            assert done.returncode == 0, done.stderr
        _, err = app.communicate(timeout=60)
    finally:
        app.kill()
        app.wait()
    assert app.returncode == 0 and err == ""
    heard = tones(np.fromfile(played, dtype="<i2") / 32768.0, RATE)
    # start (connected), stop (paused), start (resumed), stop (the end): runs merge
    assert heard == [660, 880, 660, 880, 660]
