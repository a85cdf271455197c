"""Deepgram live protocol codec: client messages out, typed server events in.

Pure: no sockets, no clock. The transport shell calls the builders to get the
exact text/bytes to send and hands every received frame to
:func:`parse_server_message`, which never raises: a message it cannot make
sense of becomes a :class:`ProtocolViolation` event, so a hostile or broken
server cannot kill the session. Unknown message types and unknown fields are
tolerated (``UnknownMessage``), as PROTOCOL.md requires.

Retry classification for handshakes and close frames lives here too, in one
place: :func:`classify_handshake` and :func:`classify_close`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

DEFAULT_URL = "wss://api.deepgram.com/v1/listen"

# -- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """Query parameters of one live connection (audio is always linear16)."""

    sample_rate: int = 16000
    channels: int = 1
    model: str | None = "nova-3"
    language: str | None = None
    punctuate: bool = True
    smart_format: bool = False
    interim_results: bool = True
    endpointing: int | Literal[False] | None = None
    utterance_end_ms: int | None = None
    vad_events: bool = False
    keyterms: tuple[str, ...] = ()
    dictation: bool = False
    numerals: bool = False
    filler_words: bool = False
    redact: tuple[str, ...] = ()
    mip_opt_out: bool = False
    extra: tuple[tuple[str, str], ...] = field(default=())


def _bool(value: bool) -> str:
    return "true" if value else "false"


def query_params(opts: ConnectOptions) -> list[tuple[str, str]]:
    """Return the query parameters for ``opts`` in a stable order."""
    params: list[tuple[str, str]] = [
        ("encoding", "linear16"),
        ("sample_rate", str(opts.sample_rate)),
        ("channels", str(opts.channels)),
    ]
    if opts.channels > 1:
        params.append(("multichannel", "true"))
    if opts.model:
        params.append(("model", opts.model))
    if opts.language:
        params.append(("language", opts.language))
    params.append(("interim_results", _bool(opts.interim_results)))
    params.append(("punctuate", _bool(opts.punctuate)))
    if opts.smart_format:
        params.append(("smart_format", "true"))
    for name in ("dictation", "numerals", "filler_words", "mip_opt_out"):
        if getattr(opts, name):
            params.append((name, "true"))
    params.extend(("redact", what) for what in opts.redact)
    if opts.endpointing is not None:
        value = "false" if opts.endpointing is False else str(int(opts.endpointing))
        params.append(("endpointing", value))
    if opts.utterance_end_ms is not None:
        params.append(("utterance_end_ms", str(opts.utterance_end_ms)))
    if opts.vad_events:
        params.append(("vad_events", "true"))
    params.extend(("keyterm", term) for term in opts.keyterms)
    params.extend(opts.extra)
    return params


def build_url(base: str, opts: ConnectOptions) -> str:
    """Return ``base`` with the connection's query parameters (never any credential)."""
    parts = urlsplit(base)
    query = urlencode(query_params(opts))
    if parts.query:
        query = parts.query + "&" + query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def auth_headers(api_key: str | None) -> list[tuple[str, str]]:
    """Return the Authorization header for ``api_key`` (none for an open local server)."""
    return [("Authorization", f"Token {api_key}")] if api_key else []


def keepalive_message() -> str:
    """Return the KeepAlive text frame."""
    return '{"type":"KeepAlive"}'


def finalize_message(channel: int | None = None) -> str:
    """Return the Finalize text frame, for one channel when ``channel`` is given."""
    if channel is None:
        return '{"type":"Finalize"}'
    return json.dumps({"type": "Finalize", "channel": int(channel)}, separators=(",", ":"))


MAX_KEYTERM_TOKENS = 500  # past this Deepgram stops transcribing and closes 1011 later


def keyterm_tokens(terms: Sequence[str]) -> int:
    """An estimate, erring high, of the tokens ``terms`` cost: about four characters a
    token and at least one a word (Deepgram counts with its own tokenizer)."""
    return sum(max(1, math.ceil(len(word) / 4)) for term in terms for word in term.split())


def configure_in_place(url: str) -> bool:
    """Whether a Configure may change keyterms on this endpoint: Deepgram's global
    endpoint, or a loopback server such as our own; elsewhere (regional endpoints)
    the session reconnects instead."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("api.deepgram.com", "localhost", "::1") or host.startswith("127.")


def close_stream_message() -> str:
    """Return the CloseStream text frame."""
    return '{"type":"CloseStream"}'


# -- server -> client events ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a result, times in seconds on the stream clock."""

    word: str
    start: float
    end: float
    confidence: float
    punctuated_word: str | None = None

    @property
    def text(self) -> str:
        """The display form: punctuated when the server gave one."""
        return self.punctuated_word or self.word


@dataclass(frozen=True, slots=True)
class Result:
    """What every Results message carries: one channel's transcript of a span of the stream.

    ``channel`` of ``channels`` comes from ``channel_index``; ``start`` and ``duration`` are
    seconds on the stream clock, like the words' times.
    """

    channel: int
    channels: int
    start: float
    duration: float
    transcript: str
    words: tuple[Word, ...]


@dataclass(frozen=True, slots=True)
class InterimResult(Result):
    """A non-final Results message: restates the current segment, replace don't append."""


@dataclass(frozen=True, slots=True)
class FinalResult(Result):
    """A Results message with ``is_final: true``: this span will not be sent again."""

    speech_final: bool
    from_finalize: bool


@dataclass(frozen=True, slots=True)
class Metadata:
    """Sent once before the server closes."""

    request_id: str
    duration: float  # seconds of audio the server received on the connection
    channels: int


@dataclass(frozen=True, slots=True)
class UtteranceEnd:
    """Server saw a gap after the last word of ``channel``."""

    channel: int
    last_word_end: float  # seconds on the stream clock


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Server VAD heard the start of speech on ``channel``."""

    channel: int
    timestamp: float  # seconds on the stream clock


@dataclass(frozen=True, slots=True)
class ServerError:
    """The server could not parse a client text message; the connection goes on."""

    variant: str  # what kind of failure, e.g. "SchemaError"
    description: str


@dataclass(frozen=True, slots=True)
class ConfigureResult:
    """ConfigureSuccess (``ok``, with the keyterms now in effect) or ConfigureFailure."""

    ok: bool
    code: str
    description: str
    keyterms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A well-formed message of a type this client does not know; ignored."""

    type: str


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """A message that breaks the protocol; the session logs it and goes on."""

    reason: str
    excerpt: str  # the start of the offending message, printable, for the log


ServerEvent = (
    InterimResult
    | FinalResult
    | Metadata
    | UtteranceEnd
    | SpeechStarted
    | ServerError
    | ConfigureResult
    | UnknownMessage
    | ProtocolViolation
)


class _Bad(Exception):
    """Internal: the message is malformed; the text says why."""


def _excerpt(raw: str | bytes, limit: int = 120) -> str:
    text = raw if isinstance(raw, str) else repr(raw[:limit])
    return text[:limit] + ("..." if len(text) > limit else "")


def _num(obj: Mapping[str, Any], key: str, *, default: float | None = None) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"{key!r} is not a number")
    if not math.isfinite(value):
        raise _Bad(f"{key!r} is not finite")
    return float(value)


T = TypeVar("T")


def _typed(obj: Mapping[str, Any], key: str, kind: type[T], default: T, what: str) -> T:
    """``obj[key]`` if it is a ``kind``; ``default`` if it is absent or null."""
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise _Bad(f"{key!r} is not {what}")
    return value


def _flag(obj: Mapping[str, Any], key: str) -> bool:
    return _typed(obj, key, bool, False, "a boolean")


def _str(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    return _typed(obj, key, str, default, "a string")


def _channel_pair(value: Any, key: str) -> tuple[int, int]:
    ok = isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
    if not ok or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _Bad(f"{key!r} is not a pair of integers")
    index, count = int(value[0]), int(value[1])
    if not 0 <= index < count:
        raise _Bad(f"{key!r} {[index, count]} is out of range")
    return index, count


def _words(alt: Mapping[str, Any]) -> tuple[Word, ...]:
    raw = alt.get("words") or []
    if not isinstance(raw, list):
        raise _Bad("'words' is not a list")
    words = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise _Bad("a word is not an object")
        start, end = _num(item, "start"), _num(item, "end")
        if end < start or start < 0:
            raise _Bad("a word has a negative or inverted span")
        punct = item.get("punctuated_word")
        words.append(
            Word(
                word=_str(item, "word"),
                start=start,
                end=end,
                confidence=_num(item, "confidence", default=0.0),
                punctuated_word=punct if isinstance(punct, str) else None,
            )
        )
    return tuple(words)


def _results(msg: Mapping[str, Any]) -> InterimResult | FinalResult:
    channel, channels = _channel_pair(msg.get("channel_index", [0, 1]), "channel_index")
    start, duration = _num(msg, "start", default=0.0), _num(msg, "duration", default=0.0)
    if start < 0 or duration < 0:
        raise _Bad("'start' or 'duration' is negative")
    body = msg.get("channel", {})
    if not isinstance(body, Mapping):
        raise _Bad("'channel' is not an object")
    alts = body.get("alternatives") or [{}]
    if not isinstance(alts, list) or not isinstance(alts[0], Mapping):
        raise _Bad("'alternatives' is not a list of objects")
    transcript, words = _str(alts[0], "transcript"), _words(alts[0])
    if not _flag(msg, "is_final"):
        return InterimResult(channel, channels, start, duration, transcript, words)
    speech_final, from_finalize = _flag(msg, "speech_final"), _flag(msg, "from_finalize")
    return FinalResult(
        channel, channels, start, duration, transcript, words, speech_final, from_finalize
    )


def _first_channel(msg: Mapping[str, Any]) -> int:
    return _channel_pair(msg.get("channel", [0, 1]), "channel")[0]


def _decode(msg: Mapping[str, Any]) -> ServerEvent:
    kind = msg.get("type")
    if kind is None and "channel_index" in msg:
        kind = "Results"  # documentation excerpts omit the type
    if kind == "Results":
        return _results(msg)
    if kind == "Metadata":
        channels = msg.get("channels", 0)
        count = channels if isinstance(channels, int) and not isinstance(channels, bool) else 0
        return Metadata(_str(msg, "request_id"), _num(msg, "duration", default=0.0), count)
    if kind == "UtteranceEnd":
        return UtteranceEnd(_first_channel(msg), _num(msg, "last_word_end", default=0.0))
    if kind == "SpeechStarted":
        return SpeechStarted(_first_channel(msg), _num(msg, "timestamp", default=0.0))
    if kind == "Error":
        return ServerError(_str(msg, "variant"), _str(msg, "description"))
    if kind in ("ConfigureSuccess", "ConfigureFailure"):
        ok = kind == "ConfigureSuccess"
        terms = msg.get("keyterms")
        kept = tuple(t for t in terms if isinstance(t, str)) if isinstance(terms, list) else ()
        return ConfigureResult(ok, _str(msg, "code"), _str(msg, "description"), kept)
    if not isinstance(kind, str):
        raise _Bad("message has no 'type'")
    return UnknownMessage(kind)


def parse_server_message(raw: str | bytes) -> ServerEvent:
    """Parse one server frame into an event; never raises."""
    if isinstance(raw, bytes):
        return ProtocolViolation("the server sent a binary message", _excerpt(raw))
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError):
        return ProtocolViolation("the server sent text that is not JSON", _excerpt(raw))
    if not isinstance(msg, dict):
        return ProtocolViolation("the server sent JSON that is not an object", _excerpt(raw))
    try:
        return _decode(msg)
    except _Bad as exc:
        return ProtocolViolation(
            f"malformed {msg.get('type', 'message')!s:.40}: {exc}", _excerpt(raw)
        )
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
        return ProtocolViolation(f"malformed message: {exc!r:.80}", _excerpt(raw))
