"""Diagnostics: ``--record DIR`` keeps a session, ``vad-dictate replay DIR`` runs it again.

A recording directory holds:

- ``audio.wav``: the raw captured audio at the pipeline rate (header kept valid as it grows);
- ``session.json``: rate, channels and the endpointer settings in force, so a replay
  makes the same decisions;
- ``events.jsonl``: one JSON object per line, each with ``t`` (seconds since the start):
  ``vad`` (the VAD's speech decision changed, at ``frame``), ``finalize`` (an utterance
  ended: its onset, last speech and end in frames and seconds, and its trigger),
  ``sent_audio`` (frames sent), ``sent`` (a text message) and ``received`` (a server
  message, parsed JSON when it is JSON).

A replay feeds ``audio.wav`` through the same pipeline and compares its ``finalize``
decisions with the recorded ones, so "it cut my first word" can be reproduced.
"""

from __future__ import annotations

import dataclasses
import json
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from vad_dictate.audio.block import AudioBlock
from vad_dictate.audio.files import MAX_CHANNELS, MAX_RATE, MIN_RATE
from vad_dictate.client.pipeline import SendAudio, SendFinalize
from vad_dictate.errors import ConfigError, InputFileError
from vad_dictate.vad.events import EndpointerSettings

AUDIO, META, EVENTS = "audio.wav", "session.json", "events.jsonl"


def finalize_record(item: SendFinalize, rate: int) -> dict[str, Any]:
    """The logged form of one Finalize decision."""
    sp = item.speech
    return {
        "type": "finalize",
        "seq": item.seq,
        "channel": item.index,
        "trigger": sp.trigger,
        "onset": sp.onset,
        "last_speech": sp.last_speech,
        "end": sp.end,
        "onset_s": round(sp.onset / rate, 3),
        "last_speech_s": round(sp.last_speech / rate, 3),
        "end_s": round(sp.end / rate, 3),
    }


class SessionRecorder:
    """Writes a recording directory; implements the session's ``Recorder`` hooks."""

    def __init__(
        self, directory: str | Path, rate: int, channels: int, endpointer: EndpointerSettings
    ) -> None:
        self.dir = Path(directory).expanduser()
        self.rate = rate
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._wav = wave.open(str(self.dir / AUDIO), "wb")  # noqa: SIM115
            self._log: TextIO = (self.dir / EVENTS).open("w", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"Cannot record into '{self.dir}' ({exc.strerror}); check the --record path."
            ) from exc
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        meta = {
            "version": 1,
            "rate": rate,
            "channels": channels,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "endpointer": dataclasses.asdict(endpointer),
        }
        self._meta = meta
        self._write_meta()
        self._t0 = time.monotonic()
        self._speaking: Any = None  # () -> bool: the pipeline's current speech decision
        self._speech = False
        self._frames = 0
        self._channels = channels

    def _write_meta(self) -> None:
        (self.dir / META).write_text(json.dumps(self._meta, indent=1) + "\n")

    def watch(self, speaking: Any) -> None:
        """Log the VAD's speech decision from ``speaking()`` (the session's pipeline)."""
        self._speaking = speaking

    def _event(self, record: dict[str, Any]) -> None:
        line = {"t": round(time.monotonic() - self._t0, 3), **record}
        self._log.write(json.dumps(line, ensure_ascii=False) + "\n")

    def audio(self, block: AudioBlock) -> None:
        """A captured block (before pausing or gating)."""
        if self._speaking is not None:
            # The decision after the previous block: its change lands on this block's start.
            speech = bool(self._speaking())
            if speech != self._speech:
                self._speech = speech
                self._event({"type": "vad", "speech": speech, "frame": block.start})
        if "block_frames" not in self._meta:  # a replay cuts the file into the same blocks
            self._meta["block_frames"] = len(block.samples)
            self._write_meta()
        gap = block.start - self._frames
        if gap > 0:  # capture dropped blocks: silence keeps the file on the session's clock
            self._wav.writeframes(bytes(gap * 2 * self._channels))
        self._wav.writeframes(block.samples.tobytes())
        self._frames = block.start + len(block.samples)

    def sent(self, item: SendAudio | SendFinalize | str) -> None:
        """Something went to the server."""
        if isinstance(item, SendAudio):
            self._event({"type": "sent_audio", "frames": item.frames})
        elif isinstance(item, SendFinalize):
            self._event(finalize_record(item, self.rate))
        else:
            self._event({"type": "sent", "message": item})

    def received(self, raw: str | bytes) -> None:
        """A server message."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = text
        self._event({"type": "received", "message": message})

    def close(self) -> None:
        """Finish the WAV header and the log."""
        self._wav.close()
        self._log.close()


class DecisionLog:
    """A recorder that only keeps Finalize decisions (what a replay compares)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.finalizes: list[dict[str, Any]] = []

    def audio(self, block: AudioBlock) -> None:
        """Not needed for the comparison."""

    def sent(self, item: SendAudio | SendFinalize | str) -> None:
        """Keep Finalize decisions."""
        if isinstance(item, SendFinalize):
            self.finalizes.append(finalize_record(item, self.rate))

    def received(self, raw: str | bytes) -> None:
        """Not needed for the comparison."""


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording directory, read back."""

    audio: Path
    rate: int
    channels: int
    endpointer: EndpointerSettings
    finalizes: list[dict[str, Any]]
    block_ms: int  # the capture's block length, so the VAD sees the same blocks


def load_recording(directory: str | Path) -> Recording:
    """Read a ``--record`` directory; InputFileError names what is missing or damaged."""
    d = Path(directory).expanduser()
    audio = d / AUDIO
    if not audio.exists() or not (d / META).exists():
        raise InputFileError(
            f"'{d}' is not a recording (no {AUDIO} and {META}); make one with: "
            f"vad-dictate --record '{d}'"
        )
    try:
        meta = json.loads((d / META).read_text())
        lines = (d / EVENTS).read_text().splitlines() if (d / EVENTS).exists() else []
    except (OSError, ValueError) as exc:
        raise InputFileError(f"The recording in '{d}' cannot be read ({exc}).") from exc
    rate, channels, settings, block_frames = _check_meta(d, meta)
    block_ms = max(1, round(1000 * block_frames / rate))
    return Recording(audio, rate, channels, settings, _finalizes(d, lines), block_ms)


def _damaged(d: Path, problem: str) -> InputFileError:
    return InputFileError(
        f"The recording in '{d}' is damaged: {problem}; record the session again with --record"
    )


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_meta(d: Path, meta: object) -> tuple[int, int, EndpointerSettings, int]:
    """(rate, channels, endpointer settings, block frames) from session.json, checked."""
    if not isinstance(meta, dict):
        raise _damaged(d, f"{META} is not a JSON object")
    for key in ("rate", "channels", "endpointer"):
        if key not in meta:
            raise _damaged(d, f"{META} has no '{key}'")
    rate, channels = meta["rate"], meta["channels"]
    if not _whole(rate) or not MIN_RATE <= rate <= MAX_RATE:
        raise _damaged(d, f"{META} says rate is {rate!r}, not a sample rate in Hz")
    if not _whole(channels) or not 1 <= channels <= MAX_CHANNELS:
        raise _damaged(d, f"{META} says channels is {channels!r}, not 1 to {MAX_CHANNELS}")
    block_frames = meta.get("block_frames", rate // 50)
    if not _whole(block_frames) or block_frames <= 0:
        raise _damaged(d, f"{META} says block_frames is {block_frames!r}, not a frame count")
    if not isinstance(meta["endpointer"], dict):
        raise _damaged(d, f"{META} has 'endpointer' settings that are not a JSON object")
    known = {f.name for f in dataclasses.fields(EndpointerSettings)}
    chosen = {k: v for k, v in meta["endpointer"].items() if k in known}
    settings = EndpointerSettings(**chosen)
    try:
        settings.validate()
    except ConfigError as exc:
        raise _damaged(d, f"its endpointer settings are invalid ({str(exc).rstrip('.')})") from exc
    return rate, channels, settings, block_frames


_FINALIZE_KEYS = ("channel", "onset", "last_speech", "end")


def _finalizes(d: Path, lines: list[str]) -> list[dict[str, Any]]:
    """The recorded finalize decisions, each with the fields a comparison reads."""
    out = []
    for n, line in enumerate(lines, start=1):
        try:
            event = json.loads(line)
        except ValueError:
            raise _damaged(d, f"{EVENTS} line {n} is not JSON") from None
        if not isinstance(event, dict):
            raise _damaged(d, f"{EVENTS} line {n} is not a JSON object")
        if event.get("type") != "finalize":
            continue
        bad = [k for k in _FINALIZE_KEYS if not _whole(event.get(k))]
        if bad or not isinstance(event.get("trigger"), str):
            what = f"'{bad[0]}'" if bad else "'trigger'"
            raise _damaged(d, f"{EVENTS} line {n} is a finalize with a missing or wrong {what}")
        out.append(event)
    return out


def compare_decisions(recorded: list[dict[str, Any]], replayed: list[dict[str, Any]]) -> list[str]:
    """Differences between recorded and replayed utterance boundaries (empty: the same)."""
    keys = ("channel", "trigger", "onset", "last_speech", "end")
    # Forced finalizes (hotkey, end of input) depend on when a person pressed a key, which a
    # replay cannot know; the VAD's own decisions must come out identical.
    rec = [tuple(e[k] for k in keys) for e in recorded if e["trigger"] == "vad"]
    rep = [tuple(e[k] for k in keys) for e in replayed if e["trigger"] == "vad"]
    out = []
    for i in range(max(len(rec), len(rep))):
        a = rec[i] if i < len(rec) else None
        b = rep[i] if i < len(rep) else None
        if a != b:
            out.append(f"utterance {i + 1}: recorded {_span(a)}, replayed {_span(b)}")
    return out


def _span(e: tuple[Any, ...] | None) -> str:
    if e is None:
        return "none"
    return f"channel {e[0]} onset {e[2]} last speech {e[3]} end {e[4]} (frames)"
