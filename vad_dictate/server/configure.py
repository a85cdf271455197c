"""How the local server answers ``Configure`` (pure), as Deepgram's ``/v1/listen`` does.

Every Configure gets exactly one answer. ``keyterms`` replaces the whole list (``[]``
clears it) and is refused with ``CONFIGURE_KEYTERM_LIMIT_EXCEEDED`` past the token limit,
leaving the list in effect unchanged; ``features`` switch text shaping on or off. The
success answer lists the keyterms now in effect: none with an engine that cannot use them
(pocketsphinx), whatever was asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vad_dictate.deepgram.protocol import MAX_KEYTERM_TOKENS, keyterm_tokens

FEATURES = ("punctuate", "smart_format", "dictation", "numerals")


@dataclass(frozen=True, slots=True)
class Configured:
    """The answer to send, the keyterms now in effect, and the features to change."""

    answer: dict[str, Any]
    keyterms: tuple[str, ...]
    features: dict[str, bool] = field(default_factory=dict)


def configure(
    msg: dict[str, Any], keyterms: tuple[str, ...], request_id: str, *, usable: bool = True
) -> Configured:
    """Apply one Configure message to the keyterms in effect (``usable``: the engine uses them)."""
    terms = msg.get("keyterms", list(keyterms))
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        return _failed(
            "CONFIGURE_INTERNAL_ERROR", "keyterms must be a list of strings.", keyterms, request_id
        )
    if keyterm_tokens(terms) > MAX_KEYTERM_TOKENS:
        why = f"The keyterms come to more than {MAX_KEYTERM_TOKENS} tokens; send fewer."
        return _failed("CONFIGURE_KEYTERM_LIMIT_EXCEEDED", why, keyterms, request_id)
    features = msg.get("features", {})
    if not isinstance(features, dict):
        return _failed(
            "CONFIGURE_INTERNAL_ERROR", "features must be an object.", keyterms, request_id
        )
    changes = {k: v for k, v in features.items() if k in FEATURES and isinstance(v, bool)}
    kept = tuple(terms) if usable else ()
    answer = {"type": "ConfigureSuccess", "request_id": request_id, "keyterms": list(kept)}
    return Configured(answer, kept, changes)


def _failed(code: str, why: str, keyterms: tuple[str, ...], request_id: str) -> Configured:
    answer = {
        "type": "ConfigureFailure",
        "request_id": request_id,
        "code": code,
        "description": why,
    }
    return Configured(answer, keyterms)
