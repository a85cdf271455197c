"""The local server's pure core: one Deepgram ``/v1/listen`` stream, without any I/O.

:func:`parse_params` validates the query string at the handshake (raising
:class:`ParamError` with the ``dg-error`` text). :class:`ServerSession` takes
the client's frames as method calls (``receive_bytes``, ``receive_text``,
``idle_timeout``) and returns what to do: JSON texts to send, :class:`Close`
(send a close frame and stop) and :class:`Note` (a line for the log). Time is
the audio itself: every channel's clock counts the samples received on it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vad_dictate import __version__
from vad_dictate.deepgram.protocol import SpeechStarted, UtteranceEnd
from vad_dictate.engines.base import Engine, RecognizedWord, RecognizerOptions
from vad_dictate.server.channel import ChannelStream, Segment, StreamEvent
from vad_dictate.server.configure import configure
from vad_dictate.server.params import ParamError as ParamError
from vad_dictate.server.params import StreamParams, format_problem
from vad_dictate.server.params import parse_params as parse_params
from vad_dictate.server.textform import shape
from vad_dictate.server.wav import WavError, parse_wav_header

NET0001 = (
    "Deepgram did not receive audio data or a text message within the timeout window. "
    "See https://dpgr.am/net0001"
)
DATA0000 = "DATA-0000"


@dataclass(frozen=True, slots=True)
class Close:
    """Send a close frame with this code and reason, then stop."""

    code: int  # WebSocket close code: 1000, 1001, or 1008/1011 with a Deepgram reason
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    """Something for the server log (ignored client input and the like)."""

    text: str


ServerOutput = str | Close | Note


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What Results and Metadata say about the model."""

    name: str
    version: str
    arch: str
    uuid: str

    @classmethod
    def of(cls, engine: Engine) -> ModelInfo:
        """Describe an engine; the uuid is stable per engine name."""
        model_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vad-dictate:{engine.name}"))
        return cls(f"vad-dictate-{engine.name}", __version__, engine.name, model_uuid)


@dataclass(slots=True)
class _Audio:
    """Decoding state: the format once known, bytes not yet decoded, totals."""

    rate: int = 0
    channels: int = 0
    header: bytearray | None = None  # WAV header bytes while still incomplete
    leftover: bytes = b""  # a partial frame carried to the next message
    frames: int = 0
    sha: Any = field(default_factory=hashlib.sha256)


class ServerSession:
    """One client connection's stream: frames in, messages and instructions out."""

    def __init__(self, params: StreamParams, engine: Engine, request_id: str, created: str) -> None:
        self.params = params
        self.engine = engine
        self.request_id = request_id
        # In effect (none if the engine cannot use them); Configure replaces them.
        self.keyterms = params.keyterms if engine.uses_keyterms else ()
        self.created = created  # connection time, ISO-8601 UTC: Metadata's "created"
        self.model = ModelInfo.of(engine)
        self.closed = False
        self._audio = _Audio()
        self._channels: list[ChannelStream] = []
        if params.encoding is None:
            self._audio.header = bytearray()
        else:
            assert params.sample_rate is not None
            self._start(params.sample_rate, params.channels)

    # -- inputs ------------------------------------------------------------------------------

    def receive_bytes(self, data: bytes) -> list[ServerOutput]:
        """Take one binary message; an empty one asks to close (like CloseStream)."""
        if self.closed:
            return []
        if not data:
            return self._close_stream()
        self._audio.sha.update(data)
        audio = self._audio
        if audio.header is not None:
            audio.header += data
            try:
                fmt = parse_wav_header(bytes(audio.header))
            except WavError as exc:
                return [Note(f"closing with DATA-0000: {exc}"), *self._finish(1008, DATA0000)]
            if fmt is None:
                return []
            problem = format_problem(fmt.rate, fmt.channels, self.params.multichannel)
            if problem is not None:
                return [Note(f"closing with DATA-0000: {problem}"), *self._finish(1008, DATA0000)]
            data = bytes(audio.header[fmt.data_offset :])
            audio.header = None
            self._start(fmt.rate, fmt.channels)
        return self._decode(data)

    def receive_text(self, text: str) -> list[ServerOutput]:
        """Take one text message (KeepAlive, Finalize, CloseStream, Configure)."""
        if self.closed:
            return []
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
            return [Note(f"ignored a text message that is not JSON: {_excerpt(text)}")]
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "KeepAlive":
            return []
        if kind == "Finalize":
            return self._finalize(msg.get("channel"))
        if kind == "CloseStream":
            return self._close_stream()
        if kind == "Configure":
            return self._configure(msg)
        return [Note(f"ignored an unknown text message: {_excerpt(text)}")]

    def idle_timeout(self) -> list[ServerOutput]:
        """The client sent nothing for too long: Metadata, then close 1011 (NET-0001)."""
        return [] if self.closed else self._finish(1011, NET0001)

    def shutdown(self) -> list[ServerOutput]:
        """The server is stopping: Metadata, then close 1001."""
        return [] if self.closed else self._finish(1001, "The server is shutting down.")

    def close(self) -> None:
        """Release the recognizers (the connection is gone)."""
        for channel in self._channels:
            channel.close()
        self._channels = []
        self.closed = True

    # -- audio -------------------------------------------------------------------------------

    def _start(self, rate: int, channels: int) -> None:
        self._audio.rate, self._audio.channels = rate, channels
        count = channels if self.params.multichannel else 1
        options = RecognizerOptions(self.params.language, self.keyterms)
        self._channels = [
            ChannelStream(
                self.engine.new_recognizer(options),
                rate,
                self.engine.sample_rate,
                endpointing_ms=self.params.endpointing_ms,
                interim=self.params.interim_results,
                utterance_end_ms=self.params.utterance_end_ms,
                channel=i,
            )
            for i in range(count)
        ]

    def _decode(self, data: bytes) -> list[ServerOutput]:
        audio = self._audio
        frame_bytes = 2 * audio.channels
        data = audio.leftover + data
        whole = len(data) - len(data) % frame_bytes
        audio.leftover = data[whole:]
        if not whole:
            return []
        frames = np.frombuffer(data[:whole], dtype="<i2").astype(np.int16)
        frames = frames.reshape(-1, audio.channels)
        audio.frames += len(frames)
        if len(self._channels) == 1 and audio.channels > 1:
            # Without multichannel, Deepgram hears the mix of all channels.
            frames = frames.astype(np.int32).mean(axis=1).round().astype(np.int16)[:, None]
        out: list[ServerOutput] = []
        for i, channel in enumerate(self._channels):
            out += self._format(i, channel.push(np.ascontiguousarray(frames[:, i])))
        return out

    def _finalize(self, which: object) -> list[ServerOutput]:
        if which is None:
            targets = list(range(len(self._channels)))
        elif isinstance(which, int) and not isinstance(which, bool):
            targets = [which] if 0 <= which < len(self._channels) else []
            if not targets:
                return [Note(f"ignored Finalize for channel {which}: no such channel")]
        else:
            return [Note(f"ignored Finalize with a bad channel: {which!r}")]
        out: list[ServerOutput] = []
        for i in targets:
            out += self._format(i, [self._channels[i].finalize(from_finalize=True)])
        return out

    def _close_stream(self) -> list[ServerOutput]:
        out: list[ServerOutput] = []
        for i, channel in enumerate(self._channels):
            out += self._format(i, channel.end_of_stream())
        return out + self._finish(1000, "")

    def _finish(self, code: int, reason: str) -> list[ServerOutput]:
        out: list[ServerOutput] = [self._metadata(), Close(code, reason)]
        self.close()
        return out

    # -- Configure ---------------------------------------------------------------------------

    def _configure(self, msg: dict[str, Any]) -> list[ServerOutput]:
        done = configure(msg, self.keyterms, self.request_id, usable=self.engine.uses_keyterms)
        out: list[ServerOutput] = []
        if done.keyterms != self.keyterms:
            self.keyterms = done.keyterms
            options = RecognizerOptions(self.params.language, self.keyterms)
            for channel in self._channels:
                channel.configure(options)
        elif "keyterms" in msg and not self.engine.uses_keyterms:
            out.append(Note(f"keyterms not used: the {self.engine.name} engine cannot use them"))
        f, p = done.features, self.params
        punctuate = f.get("punctuate", f.get("smart_format", p.punctuate))  # one and the same here
        dictation, numerals = f.get("dictation", p.dictation), f.get("numerals", p.numerals)
        self.params = dataclasses.replace(
            p, punctuate=punctuate, dictation=dictation, numerals=numerals
        )
        return [*out, _dumps(done.answer)]

    # -- messages ----------------------------------------------------------------------------

    def _format(self, index: int, events: Sequence[StreamEvent]) -> list[ServerOutput]:
        pair = [index, len(self._channels)]
        out: list[ServerOutput] = []
        for ev in events:
            if isinstance(ev, Segment):
                out.append(_dumps(self._results(pair, ev)))
            elif isinstance(ev, SpeechStarted):
                if self.params.vad_events:
                    at = _t(ev.timestamp)
                    out.append(_dumps({"type": "SpeechStarted", "channel": pair, "timestamp": at}))
            elif isinstance(ev, UtteranceEnd):
                end = _t(ev.last_word_end)
                out.append(_dumps({"type": "UtteranceEnd", "channel": pair, "last_word_end": end}))
        return out

    def _results(self, pair: list[int], seg: Segment) -> dict[str, Any]:
        p = self.params
        said = shape(seg.words, dictation=p.dictation and p.punctuate, numerals=p.numerals)
        words = [_word(w) for w in said]
        if self.params.punctuate:
            _punctuate(words, said, final=seg.is_final)
        key = "punctuated_word" if self.params.punctuate else "word"
        confidence = min((w.confidence for w in said), default=0.0)
        alternative = {
            "transcript": " ".join(str(w[key]) for w in words),
            "confidence": _t(confidence),
            "words": words,
        }
        return {
            "type": "Results",
            "channel_index": pair,
            "duration": _t(seg.end - seg.start),
            "start": _t(seg.start),
            "is_final": seg.is_final,
            "speech_final": seg.speech_final,
            "channel": {"alternatives": [alternative]},
            "metadata": {
                "request_id": self.request_id,
                "model_info": self._model_info(),
                "model_uuid": self.model.uuid,
            },
            "from_finalize": seg.from_finalize,
        }

    def _model_info(self) -> dict[str, str]:
        return {"name": self.model.name, "version": self.model.version, "arch": self.model.arch}

    def _metadata(self) -> str:
        audio = self._audio
        msg: dict[str, Any] = {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": audio.sha.hexdigest(),
            "created": self.created,
            "duration": _t(audio.frames / audio.rate if audio.rate else 0.0),
            "channels": audio.channels,
        }
        if audio.frames:
            msg["models"] = [self.model.uuid]
            msg["model_info"] = {self.model.uuid: self._model_info()}
        return _dumps(msg)


def _excerpt(text: str) -> str:
    """The start of a client's text as one log line, whatever characters it holds."""
    return repr(text[:200]) + (f" ({len(text)} characters)" if len(text) > 200 else "")


def _word(w: RecognizedWord) -> dict[str, Any]:
    return {"word": w.text, "start": _t(w.start), "end": _t(w.end), "confidence": _t(w.confidence)}


def _punctuate(out: list[dict[str, Any]], words: Sequence[RecognizedWord], *, final: bool) -> None:
    """The engine's own punctuation, else: the first word capitalised, a final ends with '.'."""
    for i, (d, w) in enumerate(zip(out, words, strict=True)):
        if w.punctuated is not None:
            d["punctuated_word"] = w.punctuated
            continue
        text = w.text[:1].upper() + w.text[1:] if i == 0 else w.text
        ends = final and i == len(words) - 1 and text[-1:] not in ".?!"  # "period" said it
        d["punctuated_word"] = text + "." if ends else text


def _t(x: float) -> float:
    """Seconds as Deepgram prints them: plain floats, no float noise."""
    return round(float(x), 6) if math.isfinite(x) else 0.0


def _dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"))
