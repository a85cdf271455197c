"""What a ``/v1/listen`` request may ask for: its query string, validated (pure).

:func:`parse_params` raises :class:`ParamError` with the ``dg-error`` text. The
limits bound what one request can make the server build: a recognizer and a
resampler per channel with ``multichannel=true``, one mixed channel otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

MIN_RATE = 8000
MAX_RATE = 384000
MAX_CHANNELS = 32  # interleaved channels a request may declare (mixed without multichannel)
MAX_MULTICHANNEL = 8  # channels recognised separately with multichannel=true
UNSUPPORTED_ENCODINGS = frozenset(
    {"flac", "mulaw", "alaw", "amr-nb", "amr-wb", "opus", "ogg-opus", "speex", "g729", "linear32"}
)
BOOLEAN_PARAMS = (
    "multichannel",
    "interim_results",
    "vad_events",
    "punctuate",
    "smart_format",
    "dictation",
    "numerals",
)


class ParamError(ValueError):
    """A query parameter is invalid: the handshake fails with 400 and this ``dg-error``."""


@dataclass(frozen=True, slots=True)
class StreamParams:
    """The query parameters this server honours (others are accepted and ignored)."""

    encoding: str | None = None  # "linear16", or None: the audio starts with a WAV header
    sample_rate: int | None = None
    channels: int = 1
    multichannel: bool = False
    interim_results: bool = False
    endpointing_ms: int | None = 10  # None: endpointing=false
    utterance_end_ms: int | None = None
    vad_events: bool = False
    punctuate: bool = False  # punctuate or smart_format
    dictation: bool = False  # spoken punctuation -> marks (with punctuate, as Deepgram)
    numerals: bool = False  # number words -> digits
    language: str | None = None  # for engines that take one (Whisper's multilingual models)
    keyterms: tuple[str, ...] = ()


def format_problem(rate: int, channels: int, multichannel: bool) -> str | None:
    """Why this audio format is beyond the server's limits, or None if it is within them."""
    if not MIN_RATE <= rate <= MAX_RATE:
        return f"sample_rate must be between {MIN_RATE} and {MAX_RATE} Hz, not {rate}."
    if not 1 <= channels <= MAX_CHANNELS:
        return f"channels must be between 1 and {MAX_CHANNELS}, not {channels}."
    if multichannel and channels > MAX_MULTICHANNEL:
        return (
            f"multichannel=true allows at most {MAX_MULTICHANNEL} channels, not {channels}; "
            "send fewer channels or leave multichannel off to mix them."
        )
    return None


def _invalid(name: str, value: str) -> ParamError:
    return ParamError(f"Invalid '{name}' value of '{value}'.")


def _digits(name: str, value: str) -> int:
    # At most 9 digits: int() of a long digit string is slow, and nothing valid needs more.
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise _invalid(name, value)
    return int(value)


def _int(name: str, value: str, low: int, high: int) -> int:
    number = _digits(name, value)
    if not low <= number <= high:
        raise _invalid(name, value)
    return number


def _bool(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise _invalid(name, value)
    return value.lower() == "true"


def parse_params(query: str) -> StreamParams:
    """Validate a ``/v1/listen`` query string; raise ParamError with the dg-error text."""
    q = dict(parse_qsl(query, keep_blank_values=True))  # repeated keys: the last one wins
    flags = {name: _bool(name, q[name]) for name in BOOLEAN_PARAMS if name in q}
    multichannel = flags.get("multichannel", False)
    encoding = q.get("encoding")
    if encoding is not None:
        encoding = encoding.lower()
        if encoding in UNSUPPORTED_ENCODINGS:
            raise ParamError(
                f"Encoding '{encoding}' is not supported by this server: "
                "send linear16 with sample_rate, or WAV without encoding."
            )
        if encoding != "linear16":
            raise _invalid("encoding", q["encoding"])
    rate = _digits("sample_rate", q["sample_rate"]) if "sample_rate" in q else None
    if encoding is not None and rate is None:
        raise ParamError(f"sample_rate is required when encoding is '{encoding}'.")
    channels = _digits("channels", q["channels"]) if "channels" in q else 1
    problem = format_problem(MIN_RATE if rate is None else rate, channels, multichannel)
    if problem is not None:
        raise ParamError(problem)
    endpointing: int | None = 10
    if "endpointing" in q:
        value = q["endpointing"].lower()
        if value in ("true", "false"):
            endpointing = 10 if value == "true" else None
        else:
            endpointing = _int("endpointing", value, 0, 600000)
    utterance_end = None
    if "utterance_end_ms" in q:
        utterance_end = _int("utterance_end_ms", q["utterance_end_ms"], 1000, 600000)
        if not flags.get("interim_results", False):
            raise ParamError("utterance_end_ms requires interim_results=true.")
    return StreamParams(
        encoding=encoding,
        sample_rate=rate,
        channels=channels,
        multichannel=multichannel,
        interim_results=flags.get("interim_results", False),
        endpointing_ms=endpointing,
        utterance_end_ms=utterance_end,
        vad_events=flags.get("vad_events", False),
        punctuate=flags.get("punctuate", False) or flags.get("smart_format", False),
        dictation=flags.get("dictation", False),
        numerals=flags.get("numerals", False),
        language=q.get("language") or None,
        keyterms=tuple(v for k, v in parse_qsl(query) if k == "keyterm"),
    )
