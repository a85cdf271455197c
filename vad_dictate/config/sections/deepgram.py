"""[deepgram] The Deepgram connection: where to, which model, and how the server shapes text."""

from __future__ import annotations

from vad_dictate.config.field import Field, Section, between, each_of, ws_url
from vad_dictate.deepgram.protocol import DEFAULT_URL

_OFF = " ms (0 turns it off)"

HELP = (
    "The API key is read from the environment variable DEEPGRAM_API_KEY. You may put it here "
    'as api_key = "..." instead, but then keep this file private (chmod 600); we warn if it '
    "is not. With no key and no url, vad-dictate runs offline with its built-in engine "
    "(see [engine])."
)
FIELDS = (
    Field(
        "deepgram",
        "url",
        DEFAULT_URL,
        "Deepgram-compatible endpoint (ws:// or wss://). `vad-dictate serve` prints a local one.",
        ws_url,
        "--url",
    ),
    Field(
        "deepgram",
        "model",
        "nova-3",
        'Model sent to the server ("" leaves it to the server\'s default).',
        flag="--model",
    ),
    Field(
        "deepgram",
        "language",
        "en",
        'Language sent to the server ("" leaves it to the server\'s default).',
        flag="--language",
    ),
    Field("deepgram", "punctuate", True, "Punctuation and capitals added by the server."),
    Field(
        "deepgram",
        "smart_format",
        False,
        "Numbers, dates and the like formatted by the server.",
        flag="--smart-format",
    ),
    Field(
        "deepgram",
        "dictation",
        True,
        'Spoken punctuation becomes the mark ("comma" -> ","); sent only for English, with '
        "punctuate. The offline engines honour it too.",
        flag="--dictation",
    ),
    Field(
        "deepgram",
        "numerals",
        False,
        'Number words become digits ("twenty one" -> "21"). The offline engines honour it too.',
        flag="--numerals",
    ),
    Field(
        "deepgram",
        "filler_words",
        False,
        'Keep filler words such as "uh" and "um" in the transcript.',
        flag="--filler-words",
    ),
    Field(
        "deepgram",
        "redact",
        [],
        'Redact these from the transcript: any of "pci", "pii", "numbers", "ssn" (the flag is '
        "repeatable).",
        each_of("pci", "pii", "numbers", "ssn"),
        flag="--redact",
        metavar="WHAT",
    ),
    Field(
        "deepgram",
        "mip_opt_out",
        False,
        "Opt out of Deepgram's Model Improvement Program (audio is not kept to train models).",
        flag="--mip-opt-out",
    ),
    Field(
        "deepgram",
        "keyterms",
        [],
        'Terms to boost (nova-3 only), e.g. ["Dashwood", "Norland"] (the flag is repeatable).',
        flag="--keyterm",
        metavar="TERM",
    ),
    Field(
        "deepgram",
        "vocabulary",
        "",
        'File of terms to boost, one per line ("" = vocabulary.txt in the config directory); '
        "its terms join keyterms. Edit it with: vad-dictate vocab add TERM | remove TERM | list "
        "(a running session takes the change without reconnecting).",
    ),
    Field(
        "deepgram",
        "endpointing",
        300,
        "Server-side endpointing: ms of silence before the server closes a segment with "
        "speech_final (0 = off; Deepgram's own default is 10). Our VAD still decides where an "
        "utterance ends and sends Finalize; 300 keeps the server from cutting (and punctuating) "
        "a sentence at every breath, while still finalizing words on its own if a Finalize were "
        "lost.",
        between(0, 60000, _OFF),
    ),
    Field(
        "deepgram",
        "utterance_end_ms",
        0,
        "Ask the server for UtteranceEnd messages after this many ms without words "
        "(0 = off; >= 1000).",
        between(0, 60000, _OFF),
    ),
    Field(
        "deepgram",
        "ack_timeout_s",
        2.0,
        "Seconds to wait for the acknowledgement of a Finalize before printing what the finals "
        "gave.",
        between(0.2, 30, " s"),
    ),
    Field(
        "deepgram",
        "offline",
        False,
        "true: always use the built-in offline engine, even when an API key is set.",
        flag="--offline",
    ),
)
SECTION = Section("deepgram", HELP, FIELDS)
