"""The real microphone path: PortAudio reading a virtual ALSA device (the ``file`` plugin).

PortAudio reads the ALSA configuration once, when sounddevice is imported, so each case
runs in a fresh interpreter (``PROBE`` below) with ALSA_CONFIG_PATH pointing at a config
that defines ``fakemic`` and ``fakestereo``: capture devices whose samples come from raw
files. The plugin is not clocked (data arrives as fast as it is read) and repeats stale
buffers after the end of its file, so inputs are padded with silence and compared only
up to their known length.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from vad_dictate.audio.files import read_wav
from vad_dictate.audio.resample import resample

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "data" / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.wav"
ALSA_CONF = "/usr/share/alsa/alsa.conf"
HINT = "list them with: vad-dictate devices"

PROBE = r"""
import asyncio, dataclasses, json, os, sys, threading
import numpy as np

spec = json.loads(sys.argv[1])
if spec.get("fifo"):
    # A microphone that goes quiet: the device reads a FIFO that gets some audio and then
    # nothing. Holding a writer open keeps ALSA's open() from blocking; closing it later
    # lets PortAudio's reader thread finish so the stream can be closed.
    fd = os.open(spec["fifo"], os.O_RDWR)
    os.write(fd, bytes(spec["fifo_bytes"]))
    threading.Timer(spec["release_after"], os.close, [fd]).start()
if spec.get("hide_portaudio"):
    # What a machine without libportaudio2 looks like to sounddevice: no library found.
    import ctypes.util
    real_find = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None if "portaudio" in name else real_find(name)
import vad_dictate.audio.mic as capture
from vad_dictate.errors import VadDictateError

capture.STALL_TIMEOUT_S = spec.get("stall_s", capture.STALL_TIMEOUT_S)

report = {"sounddevice_loaded_by_import": "sounddevice" in sys.modules}


def open_source(messages):
    src = capture.MicSource(
        spec.get("device"), channels=spec.get("channels", 1), device_rate=spec.get("device_rate"),
        queue_blocks=spec.get("queue_blocks", 1000), on_overflow=messages.append,
    )
    report.update(device=src.device.name, device_rate=src.device_rate, rate=src.sample_rate)
    return src


async def poke(src, blocks):
    # With a hold no device reaches, audio is handed out only by these calls: each waits
    # until the callback holds spec["held"] blocks (the device is not clocked: at once).
    for action in ("release", "stop"):
        while len(src._held) < spec["held"]:
            await asyncio.sleep(0.002)
        report[action] = len(blocks)  # blocks the consumer had before the call
        getattr(src, action)()


async def record():
    messages = []
    src = open_source(messages)
    src.hold = spec.get("hold", 0)
    blocks, flushes = [], []
    if hasattr(src, "_flush"):  # count the batches handed to the loop: callbacks, stopping?
        flush = src._flush
        def counted():
            n = flush()
            if n:
                flushes.append([n, src._stopping])
            return n
        src._flush = counted
    # A group: blocks taken one after another without the event loop running in between
    # (a callback scheduled after the previous group has not run yet).
    loop, turns, seen, groups = asyncio.get_running_loop(), [0], 0, []
    loop.call_soon(turns.__setitem__, 0, 1)
    if spec.get("held"):
        poker = asyncio.create_task(poke(src, blocks))
    async for b in src.blocks():
        if turns[0] != seen:
            seen = turns[0]
            loop.call_soon(turns.__setitem__, 0, seen + 1)
            groups.append([b.start, 0])
        groups[-1][1] += 1
        blocks.append(b)
        report["taken"] = len(blocks)
        if b.start + len(b.samples) >= spec["frames"]:
            src.stop()
        if spec.get("slow"):
            await asyncio.sleep(spec["slow"])
    report.update(groups=groups, flushes=flushes)
    np.savez(
        spec["out"],
        samples=np.concatenate([b.samples for b in blocks]),
        starts=np.array([b.start for b in blocks]),
        lengths=np.array([len(b.samples) for b in blocks]),
        times=np.array([b.captured_at for b in blocks]),
    )
    report.update(overflows_portaudio=src.overflows_portaudio, overflows_queue=src.overflows_queue,
                  messages=messages, shape=list(blocks[0].samples.shape))


try:
    if spec["mode"] == "list":
        report["devices"] = [dataclasses.asdict(d) for d in capture.list_input_devices()]
    elif spec["mode"] == "open":
        open_source([])
    else:
        asyncio.run(record())
except VadDictateError as exc:
    report.update(error=type(exc).__name__, message=str(exc), exit_code=exc.exit_code)
print(json.dumps(report))
"""


def write_raw(path: Path, frames: npt.NDArray[np.int16], pad_s: float, rate: int) -> Path:
    """Interleaved little-endian frames followed by ``pad_s`` seconds of digital silence."""
    pad = np.zeros((round(pad_s * rate), frames.shape[1]), dtype=np.int16)
    path.write_bytes(np.concatenate([frames, pad]).astype("<i2").tobytes())
    return path


def asoundrc(tmp: Path, devices: dict[str, Path]) -> Path:
    lines = [
        f'pcm.{name} {{ type file slave.pcm "null" file "/dev/null" infile "{raw}" format "raw" }}'
        for name, raw in devices.items()
    ]
    conf = tmp / "asoundrc"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def probe(spec: dict[str, Any], conf: Path | None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ALSA_CONFIG_PATH", None)
    if conf is not None:
        env["ALSA_CONFIG_PATH"] = f"{ALSA_CONF}:{conf}"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(spec)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def clip() -> npt.NDArray[np.int16]:
    return read_wav(CLIP).samples


@pytest.fixture
def fake(tmp_path: Path, clip: npt.NDArray[np.int16]) -> Path:
    """ALSA config: ``fakemic`` plays the clip, ``fakestereo`` the clip and its reverse."""
    mono = write_raw(tmp_path / "mono.raw", clip, 1.0, 16000)
    both = np.concatenate([clip, clip[::-1]], axis=1)
    stereo = write_raw(tmp_path / "stereo.raw", both, 1.0, 16000)
    return asoundrc(tmp_path, {"fakemic": mono, "fakestereo": stereo})


def load(tmp_path: Path) -> dict[str, npt.NDArray[Any]]:
    with np.load(tmp_path / "captured.npz") as z:
        return {k: z[k] for k in z.files}


def record(tmp_path: Path, conf: Path, **spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    report = probe({"mode": "record", "out": str(tmp_path / "captured.npz"), **spec}, conf)
    assert "error" not in report, report
    return report, load(tmp_path)


def contiguous_prefix(got: dict[str, Any], frames: int) -> None:
    """Blocks up to ``frames`` start at 0 and follow each other without a gap."""
    starts, lengths = got["starts"], got["lengths"]
    head = starts < frames
    ends = np.cumsum(lengths[head])
    assert starts[head].tolist() == [0, *ends[:-1].tolist()] and ends[-1] >= frames


@pytest.mark.parametrize("hold", [0, 320, 1600, 1000])
def test_microphone_delivers_a_recording_bit_exactly(
    tmp_path: Path, fake: Path, clip: npt.NDArray[np.int16], hold: int
) -> None:
    report, got = record(tmp_path, fake, device="fakemic", frames=len(clip), hold=hold)
    assert (report["device"], report["device_rate"], report["rate"]) == ("fakemic", 16000, 16000)
    assert report["shape"] == [320, 1] and set(got["lengths"].tolist()) == {320}
    contiguous_prefix(got, len(clip))
    assert np.array_equal(got["samples"][: len(clip)], clip)
    assert np.all(np.diff(got["times"]) >= 0)
    # The callback wakes the loop once it appended ``hold`` frames since it last did, until
    # stop(); a late loop (this device is not clocked) takes whatever is there by then, so
    # one wake may carry more and the next less, but there are no more wakes than that.
    per = max(1, -(-hold // 320))
    batches = [n for n, stopping in report["flushes"] if not stopping]
    assert batches and len(batches) <= -(-sum(batches) // per) + 1
    # The consumer takes up to a batch without a turn of the loop; the first batch whole.
    groups = [n for _, n in report["groups"]]
    assert groups[0] == per and max(groups) == per


def test_release_and_stop_hand_out_what_is_held(
    tmp_path: Path, fake: Path, clip: npt.NDArray[np.int16]
) -> None:
    # A hold the device never reaches: only release() and stop() hand audio out.
    report, got = record(
        tmp_path,
        fake,
        device="fakemic",
        frames=100 * len(clip),
        hold=10**9,
        held=10,
        queue_blocks=10**6,
    )
    groups, taken = report["groups"], len(got["starts"])
    assert report["release"] == 0  # nothing came before release()
    assert groups[0] == [0, report["stop"]] and report["stop"] >= 10  # all it held, at once
    assert taken - report["stop"] >= 10  # what was held at stop() came before the end
    assert got["starts"].tolist() == list(range(0, taken * 320, 320))
    n = min(taken * 320, len(clip))
    assert np.array_equal(got["samples"][:n], clip[:n]) and report["overflows_queue"] == 0


def test_two_channel_capture_keeps_channels_apart(
    tmp_path: Path, fake: Path, clip: npt.NDArray[np.int16]
) -> None:
    report, got = record(tmp_path, fake, device="STEREO", channels=2, frames=len(clip))
    assert report["device"] == "fakestereo" and report["shape"] == [320, 2]
    assert np.array_equal(got["samples"][: len(clip)], np.concatenate([clip, clip[::-1]], axis=1))


@pytest.mark.parametrize("hold", [0, 1600])
def test_device_at_48k_is_resampled_exactly_like_resample(
    tmp_path: Path, clip: npt.NDArray[np.int16], hold: int
) -> None:
    hi = resample(clip, 16000, 48000)
    raw = write_raw(tmp_path / "48k.raw", hi, 1.0, 48000)
    conf = asoundrc(tmp_path, {"fakemic": raw})
    report, got = record(
        tmp_path, conf, device="fakemic", device_rate=48000, frames=len(clip), hold=hold
    )
    assert (report["device_rate"], report["rate"]) == (48000, 16000)
    contiguous_prefix(got, len(clip))
    padded = np.concatenate([hi, np.zeros((48000, 1), dtype=np.int16)])
    expected = resample(padded, 48000, 16000)[: len(clip)]
    assert np.array_equal(got["samples"][: len(clip)], expected)
    # Up and back down again is close to the original recording (passband up to ~6 kHz).
    err = expected.astype(np.float64) - clip
    snr = 10 * np.log10(np.sum(clip.astype(np.float64) ** 2) / np.sum(err**2))
    assert snr > 20


def compare_blocks(
    got: dict[str, Any], expected: npt.NDArray[np.int16], skip: int, tolerance: int = 0
) -> int:
    """Check each block against ``expected`` at its own start index (within ``tolerance``
    LSB); ``skip`` frames after a gap are exempt. Return how many blocks that came after a
    gap were checked."""
    starts, lengths = got["starts"].tolist(), got["lengths"].tolist()
    pos, end, after_gap = 0, 0, 0
    for start, n in zip(starts, lengths, strict=True):
        lost = start != end
        assert start >= end  # a gap, never an overlap
        first = skip if lost else 0
        if start + n <= len(expected):  # beyond it the plugin repeats stale buffers
            block = got["samples"][pos + first : pos + n]
            want = expected[start + first : start + n].astype(np.int32)
            assert block.shape == want.shape
            assert block.size == 0 or np.abs(block - want).max() <= tolerance
            after_gap += lost
        pos, end = pos + n, start + n
    return after_gap


@pytest.mark.parametrize("hold", [0, 1600])
def test_full_queue_drops_blocks_counts_them_and_leaves_honest_gaps(
    tmp_path: Path, hold: int
) -> None:
    # A sawtooth names every frame's index (mod 65536), so each block proves its own start.
    saw = (np.arange(4_000_000) % 65536 - 32768).astype(np.int16)[:, None]
    conf = asoundrc(tmp_path, {"fakemic": write_raw(tmp_path / "saw.raw", saw, 0.0, 16000)})
    report, got = record(
        tmp_path, conf, device="fakemic", frames=100_000, queue_blocks=4, slow=0.005, hold=hold
    )
    assert compare_blocks(got, saw, skip=0) >= 1
    starts, lengths = got["starts"], got["lengths"]
    gaps = starts[1:] - (starts[:-1] + lengths[:-1])
    assert np.all(gaps % 320 == 0) and gaps.sum() > 0
    assert report["overflows_queue"] >= gaps.sum() // 320
    assert report["messages"][-1] == (
        f"audio: some input was lost ({report['overflows_portaudio']} PortAudio overflows, "
        f"{report['overflows_queue']} blocks dropped because processing fell behind)"
    )


def test_drops_at_48k_restart_the_resampler_on_the_pipeline_clock(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(-20000, 20000, (3_000_000, 1), dtype=np.int16)
    conf = asoundrc(tmp_path, {"fakemic": write_raw(tmp_path / "48k.raw", noise, 0.0, 48000)})
    report, got = record(
        tmp_path,
        conf,
        device="fakemic",
        device_rate=48000,
        frames=30_000,
        queue_blocks=4,
        slow=0.005,
    )
    assert report["overflows_queue"] > 0 and got["starts"][0] == 0
    # After a gap the resampler starts afresh with silent history: its first outputs (soxr's
    # filter reach, under 70 at 48 kHz, measured) differ from an unbroken stream; the rest
    # match it within 1 LSB (soxr's FFT blocks then fall elsewhere in the signal, which can
    # move a float rounding by one step).
    expected = resample(noise, 48000, 16000)[:-100]
    assert compare_blocks(got, expected, skip=80, tolerance=1) >= 1


def test_list_input_devices_and_default(fake: Path) -> None:
    report = probe({"mode": "list"}, fake)
    assert report["devices"] == [
        {
            "index": 0,
            "name": "fakemic",
            "max_input_channels": 128,
            "default_samplerate": 44100.0,
            "is_default": True,
        },
        {
            "index": 1,
            "name": "fakestereo",
            "max_input_channels": 128,
            "default_samplerate": 44100.0,
            "is_default": False,
        },
    ]
    assert probe({"mode": "open"}, fake)["device"] == "fakemic"
    assert probe({"mode": "open", "device": 1}, fake)["device"] == "fakestereo"
    assert probe({"mode": "open", "device": "FAKEM"}, fake)["device"] == "fakemic"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"device": "nosuchmic"}, f"No audio input device matches 'nosuchmic'; {HINT}"),
        ({"device": 7}, f"There is no audio input device number 7; {HINT}"),
        (
            {"device": "fake"},
            "'fake' matches several audio input devices (0 'fakemic', 1 'fakestereo'); "
            "give more of the name or the device number",
        ),
        (
            {"device": "fakemic", "channels": 129},
            "Audio input device 'fakemic' has only 128 input channels, but 129 were asked for; "
            "use --channels 128 or less",
        ),
        (
            {"device": "fakemic", "device_rate": 1000000},
            "Cannot open audio input device 'fakemic' at 1000000 Hz with 1 channel (Invalid "
            "sample rate [PaErrorCode -9997]); close other programs using it or choose another "
            "device with --device",
        ),
    ],
)
def test_device_errors(fake: Path, spec: dict[str, Any], message: str) -> None:
    report = probe({"mode": "open", **spec}, fake)
    assert (report["error"], report["message"], report["exit_code"]) == (
        "AudioDeviceError",
        message,
        4,
    )


def test_no_input_device(tmp_path: Path) -> None:
    conf = asoundrc(tmp_path, {})  # the stock configuration and no virtual device
    if probe({"mode": "list"}, conf)["devices"]:
        pytest.skip("this machine has a real sound card")
    report = probe({"mode": "open"}, conf)
    assert report["error"] == "AudioDeviceError" and report["exit_code"] == 4
    assert report["message"] == (
        "No audio input device was found; connect a microphone (check with: arecord -l) "
        "or transcribe a file with --input FILE.wav"
    )


def test_missing_portaudio_is_one_sentence(fake: Path) -> None:
    # sounddevice looks PortAudio up with ctypes.util.find_library; on a machine without
    # libportaudio2 that returns None. The probe makes it return None for "portaudio" only,
    # so sounddevice's real import code raises its real OSError, which we must translate.
    expected = "PortAudio is not installed; install it with: sudo apt-get install libportaudio2"
    for mode in ("open", "list"):
        report = probe({"mode": mode, "hide_portaudio": True}, fake)
        assert report["sounddevice_loaded_by_import"] is False
        assert (report["error"], report["message"], report["exit_code"]) == (
            "AudioDeviceError",
            expected,
            4,
        )


@pytest.mark.parametrize("hold", [0, 10**9])
def test_a_microphone_that_stops_delivering_raises_from_blocks(tmp_path: Path, hold: int) -> None:
    fifo = tmp_path / "mic.fifo"
    os.mkfifo(fifo)
    conf = asoundrc(tmp_path, {"fifomic": fifo})
    spec = {"fifo": str(fifo), "fifo_bytes": 32000, "release_after": 1.5, "stall_s": 0.5}
    report = probe(
        {"mode": "record", "device": "fifomic", "frames": 10**9, "hold": hold, **spec}, conf
    )
    # Audio held when the device went quiet still came out before the failure.
    assert report["taken"] == 50, report
    assert (report["error"], report["message"], report["exit_code"]) == (
        "AudioDeviceError",
        "Audio input from 'fifomic' failed: no audio arrived for 0.5 s; "
        "check the microphone and start again",
        4,
    )
