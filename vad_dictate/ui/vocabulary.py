"""The vocabulary file: terms to boost, one per line, in the config directory.

Its terms join ``deepgram.keyterms`` as Deepgram ``keyterm`` parameters (nova-3) and
go to the offline engines' hotwords. ``vad-dictate vocab add TERM | remove TERM |
list`` edits it and tells a running vad-dictate (control verb ``vocab``), which sends
the new list in a ``Configure`` without reconnecting. A list over Deepgram's 500-token
keyterm limit is refused before anything is written or sent.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from vad_dictate import paths
from vad_dictate.deepgram.protocol import MAX_KEYTERM_TOKENS, keyterm_tokens
from vad_dictate.errors import ConfigError, VadDictateError

FILE_NAME = "vocabulary.txt"


def default_path(environ: Mapping[str, str] = os.environ) -> Path:
    """vocabulary.txt in the per-user config directory."""
    return paths.config_dir(environ) / FILE_NAME


def read_terms(path: Path) -> list[str]:
    """The file's terms in order, without blank lines, ``#`` comments or repeats."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(
            f"Cannot read the vocabulary file '{path}' ({why}); fix it or remove it."
        ) from exc
    terms = [" ".join(line.split()) for line in text.splitlines()]
    return list(dict.fromkeys(t for t in terms if t and not t.startswith("#")))


def check_limit(terms: Sequence[str], what: str) -> None:
    """ConfigError when ``terms`` would pass Deepgram's keyterm token limit."""
    tokens = keyterm_tokens(terms)
    if tokens > MAX_KEYTERM_TOKENS:
        raise ConfigError(
            f"{what} come to about {tokens} tokens, over Deepgram's {MAX_KEYTERM_TOKENS}-token "
            "keyterm limit (past it transcription stops); remove some terms first."
        )


def write_terms(path: Path, terms: Sequence[str]) -> None:
    """Replace the file with ``terms``, one per line (atomically)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(t + "\n" for t in terms), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(
            f"Cannot write the vocabulary file '{path}' ({exc.strerror}); check its directory."
        ) from exc


def run_vocab(
    argv: Sequence[str],
    parser: argparse.ArgumentParser,
    tell_session: Callable[[], str | None],
) -> int:
    """``vad-dictate vocab add TERM | remove TERM | list``."""
    parser.add_argument("action", choices=["add", "remove", "list"])
    parser.add_argument("term", nargs="*", help="the term (words may be given unquoted)")
    parser.add_argument("--file", metavar="PATH", help="vocabulary file (default: config dir)")
    args = parser.parse_args(argv)
    path = Path(args.file).expanduser() if args.file else default_path()
    terms = read_terms(path)
    term = " ".join(" ".join(args.term).split())
    if args.action == "list":
        for t in terms:
            print(t)
        return 0
    if not term:
        raise ConfigError(f"vocab {args.action} needs a term, e.g. vad-dictate vocab add Dashwood.")
    if args.action == "add":
        if term in terms:
            print(f"vocab: '{term}' is already in {path}")
            return 0
        terms.append(term)
        check_limit(terms, "With it, the vocabulary's terms")
    elif term in terms:
        terms.remove(term)
    else:
        raise ConfigError(
            f"'{term}' is not in the vocabulary ({path}); see: vad-dictate vocab list"
        )
    write_terms(path, terms)
    done = "added" if args.action == "add" else "removed"
    print(f"vocab: {done} '{term}' ({len(terms)} terms in {path})")
    told = tell_session()
    print(f"vocab: {told}" if told else "vocab: the next vad-dictate session uses them")
    return 0


def tell_running_session() -> str | None:
    """Ask a running vad-dictate to reload the vocabulary; its answer, or None if none runs."""
    from vad_dictate.ui.remote import send_command

    try:
        reply = send_command("vocab")
    except VadDictateError:
        return None
    if reply.get("ok"):
        return str(reply.get("vocab", "the running vad-dictate reloaded it"))
    return f"the running vad-dictate did not take it: {reply.get('error')}"
