"""Command line: ``vad-dictate [options]`` dictates; ``vad-dictate serve`` runs the local server.

Every expected failure ends as one sentence on stderr and the exit code of its
:mod:`vad_dictate.errors` class; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from vad_dictate import __version__
from vad_dictate import protocol as proto
from vad_dictate.app import AudioSource, SessionOptions, run_dictation
from vad_dictate.config import Settings, load_settings
from vad_dictate.endpointer import EndpointerSettings
from vad_dictate.errors import ConfigError, VadDictateError
from vad_dictate.pipeline import PipelineSettings, Policy
from vad_dictate.sinks import StatusView, UtteranceSink

PIPELINE_RATE = 16000


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one sentence and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message}; see '{self.prog} --help'.\n")
        raise SystemExit(2)


def _dictate_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="vad-dictate",
        description="Dictate: speak, and each finished utterance is printed as a line. "
        "Other commands: 'vad-dictate serve --help'.",
    )
    p.add_argument("--version", action="version", version=f"vad-dictate {__version__}")
    p.add_argument("--config", metavar="PATH", help="TOML config file (default: user config dir)")
    p.add_argument("--input", metavar="WAV", help="read a WAV file instead of the microphone")
    p.add_argument("--speed", type=float, default=1.0, help="file pacing: N x real time, 0 = max")
    p.add_argument("--url", help="Deepgram-compatible endpoint (ws:// or wss://)")
    p.add_argument("--offline", action="store_true", default=None, help="use the offline engine")
    p.add_argument("--output", choices=["text", "jsonl"], help="stdout format (default text)")
    p.add_argument("--device", help="input device index or name fragment")
    p.add_argument("--channels", type=int, help="microphone channels (default 1)")
    p.add_argument("--policy", choices=["speech", "always"], help="what audio is streamed")
    p.add_argument("--aggressiveness", type=int, help="VAD aggressiveness 0-3")
    p.add_argument("--silence-ms", type=int, help="silence that ends an utterance")
    p.add_argument("--preroll-ms", type=int, help="audio kept from before speech starts")
    p.add_argument("--min-utterance-ms", type=int, help="shorter blips are dropped")
    p.add_argument("--max-utterance-ms", type=int, help="longer speech is finalized anyway")
    p.add_argument("--model", help="Deepgram model (default nova-3)")
    p.add_argument("--language", help="Deepgram language (default en)")
    p.add_argument("--keyterm", action="append", help="boost a term (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no status or interim text on stderr")
    return p


_FLAG_KEYS = {
    "url": "deepgram.url",
    "offline": "deepgram.offline",
    "output": "output.format",
    "device": "audio.device",
    "channels": "audio.channels",
    "policy": "stream.policy",
    "aggressiveness": "vad.aggressiveness",
    "silence_ms": "vad.silence_ms",
    "preroll_ms": "vad.preroll_ms",
    "min_utterance_ms": "vad.min_utterance_ms",
    "max_utterance_ms": "vad.max_utterance_ms",
    "model": "deepgram.model",
    "language": "deepgram.language",
    "keyterm": "deepgram.keyterms",
}


def _endpointer_settings(s: Settings) -> EndpointerSettings:
    settings = EndpointerSettings(
        aggressiveness=s.integer("vad.aggressiveness"),
        frame_ms=s.integer("vad.frame_ms"),
        onset_ms=s.integer("vad.onset_ms"),
        silence_ms=s.integer("vad.silence_ms"),
        preroll_ms=s.integer("vad.preroll_ms"),
        min_utterance_ms=s.integer("vad.min_utterance_ms"),
        max_utterance_ms=s.integer("vad.max_utterance_ms"),
    )
    settings.validate()
    return settings


def _connect_options(s: Settings, channels: int) -> proto.ConnectOptions:
    endpointing = s.integer("deepgram.endpointing")
    utterance_end = s.integer("deepgram.utterance_end_ms")
    return proto.ConnectOptions(
        sample_rate=PIPELINE_RATE,
        channels=channels,
        model=s.text("deepgram.model") or None,
        language=s.text("deepgram.language") or None,
        punctuate=s.flag("deepgram.punctuate"),
        smart_format=s.flag("deepgram.smart_format"),
        endpointing=endpointing if endpointing > 0 else False,
        utterance_end_ms=utterance_end or None,
        keyterms=tuple(s.strings("deepgram.keyterms")),
    )


def _pipeline_settings(s: Settings) -> PipelineSettings:
    policy: Policy = "always" if s.text("stream.policy") == "always" else "speech"
    return PipelineSettings(policy=policy, chunk_ms=s.integer("stream.chunk_ms"))


def _open_source(args: argparse.Namespace, s: Settings) -> AudioSource:
    if args.speed < 0:
        raise ConfigError(f"--speed is {args.speed:g}, but it must be 0 (no pacing) or more.")
    if args.input:
        from vad_dictate.audio import FileSource

        return FileSource(args.input, speed=args.speed, rate=PIPELINE_RATE)
    from vad_dictate.capture import MicSource

    device: int | str | None = s.text("audio.device") or None
    if isinstance(device, str) and device.isdigit():
        device = int(device)
    return MicSource(device, channels=s.integer("audio.channels"), rate=PIPELINE_RATE)


async def _dictate(args: argparse.Namespace, s: Settings, status: StatusView) -> int:
    endpointer = _endpointer_settings(s)
    source = _open_source(args, s)
    url, api_key = s.text("deepgram.url"), s.api_key
    offline = s.flag("deepgram.offline") or (api_key is None and url == proto.DEFAULT_URL)
    server = None
    if offline:
        from vad_dictate.server import BackgroundServer
        from vad_dictate.sphinx import SphinxEngine

        why = "--offline was given" if s.flag("deepgram.offline") else "DEEPGRAM_API_KEY is not set"
        status.message(
            f"offline: {why}, so the built-in PocketSphinx engine transcribes locally; "
            "set DEEPGRAM_API_KEY to use Deepgram instead."
        )
        server = BackgroundServer(SphinxEngine())
        url, api_key = server.start(), None
    options = SessionOptions(
        url=url,
        api_key=api_key,
        connect=_connect_options(s, source.channels),
        endpointer=endpointer,
        pipeline=PipelineSettings(
            policy="always" if s.text("stream.policy") == "always" else "speech"
        ),
        ack_timeout=s.number("deepgram.ack_timeout_s"),
        keepalive_s=s.number("stream.keepalive_s"),
        close_timeout=s.number("stream.close_timeout_s"),
        give_up_s=s.number("stream.reconnect_give_up_s"),
        retain_s=s.number("stream.retain_s"),
        replay_speed=s.number("stream.replay_speed"),
    )
    sink = UtteranceSink(s.text("output.format"), source.channels)
    try:
        return await run_dictation(source, options, sink, status)
    finally:
        if server is not None:
            server.stop()


def _run_dictate(argv: Sequence[str]) -> int:
    args = _dictate_parser().parse_args(argv)
    overrides: dict[str, Any] = {
        key: getattr(args, flag) for flag, key in _FLAG_KEYS.items() if getattr(args, flag)
    }
    if args.channels is not None:
        overrides["audio.channels"] = args.channels
    for flag in ("aggressiveness", "silence_ms", "preroll_ms"):
        if getattr(args, flag) is not None:
            overrides[_FLAG_KEYS[flag]] = getattr(args, flag)
    status = StatusView(quiet=args.quiet)
    settings = load_settings(args.config, overrides, warn=status.message)
    return asyncio.run(_dictate(args, settings, status))


def _run_serve(argv: Sequence[str]) -> int:
    from vad_dictate.server import add_serve_arguments, run_serve

    parser = _Parser(
        prog="vad-dictate serve", description="Run the local Deepgram-compatible server."
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vad-dictate`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["serve"]:
            return _run_serve(args[1:])
        return _run_dictate(args)
    except VadDictateError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"vad-dictate: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
