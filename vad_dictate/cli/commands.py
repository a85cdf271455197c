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
from vad_dictate.client.pipeline import PipelineSettings, Policy
from vad_dictate.client.session import AudioSource, Session, SessionOptions, run_dictation
from vad_dictate.config import Settings, load_settings
from vad_dictate.deepgram import protocol as proto
from vad_dictate.errors import AudioDeviceError, ConfigError, VadDictateError
from vad_dictate.ui.control import COMMANDS, ControlOptions, Controls
from vad_dictate.ui.keys import KeyMap
from vad_dictate.ui.sinks import StatusView, UtteranceSink
from vad_dictate.ui.view import make_status_view
from vad_dictate.vad.endpointer import EndpointerSettings

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
        "Other commands: serve, devices, replay DIR, and finalize, pause, resume, toggle, stop, "
        "status (to drive a running vad-dictate).",
    )
    p.add_argument("--version", action="version", version=f"vad-dictate {__version__}")
    p.add_argument("--config", metavar="PATH", help="TOML config file (default: user config dir)")
    p.add_argument("--input", metavar="WAV", help="read a WAV file instead of the microphone")
    p.add_argument("--speed", type=float, default=1.0, help="file pacing: N x real time, 0 = max")
    p.add_argument("--url", help="Deepgram-compatible endpoint (ws:// or wss://)")
    p.add_argument("--offline", action="store_true", default=None, help="use the offline engine")
    p.add_argument(
        "--output",
        action="append",
        type=_output_list,
        metavar="LIST",
        help="text or jsonl (stdout format), plus type and/or clipboard; comma-separated or "
        "repeated, e.g. --output text,type",
    )
    p.add_argument("--append", metavar="FILE", help="also append each utterance to FILE")
    p.add_argument("--record", metavar="DIR", help="save audio and a log for 'vad-dictate replay'")
    p.add_argument(
        "--hotkey", metavar="COMBO", help="global finalize hotkey, e.g. '<ctrl>+<alt>+d'"
    )
    p.add_argument("--push-to-talk", metavar="KEY", help="global push-to-talk key, e.g. '<f9>'")
    p.add_argument("--device", help="input device index or name fragment")
    p.add_argument("--channels", type=int, help="microphone channels (default 1)")
    p.add_argument("--policy", choices=["speech", "always"], help="what audio is streamed")
    p.add_argument("--vad", choices=["webrtcvad", "silero"], help="VAD engine (default webrtcvad)")
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


OUTPUTS = ("text", "jsonl", "type", "clipboard")


def _output_list(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in OUTPUTS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"invalid --output {value!r} (choose from {', '.join(OUTPUTS)})"
        )
    return names


def _output_overrides(groups: list[list[str]] | None) -> dict[str, Any]:
    """``--output`` values as config overrides: a stdout format and extra targets."""
    names = [n for group in groups or [] for n in group]
    formats = [n for n in names if n in ("text", "jsonl")]
    if len(set(formats)) > 1:
        raise ConfigError("--output takes one of text or jsonl for stdout, not both.")
    overrides: dict[str, Any] = {}
    if formats:
        overrides["output.format"] = formats[0]
    targets = list(dict.fromkeys(n for n in names if n not in ("text", "jsonl")))
    if targets:
        overrides["output.targets"] = targets
    return overrides


_FLAG_KEYS = {
    "url": "deepgram.url",
    "offline": "deepgram.offline",
    "append": "output.append",
    "hotkey": "controls.hotkey",
    "push_to_talk": "controls.push_to_talk",
    "device": "audio.device",
    "channels": "audio.channels",
    "policy": "stream.policy",
    "vad": "vad.engine",
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
        engine="silero" if s.text("vad.engine") == "silero" else "webrtcvad",
        aggressiveness=s.integer("vad.aggressiveness"),
        frame_ms=s.integer("vad.frame_ms"),
        onset_ms=s.integer("vad.onset_ms"),
        silence_ms=s.integer("vad.silence_ms"),
        preroll_ms=s.integer("vad.preroll_ms"),
        min_utterance_ms=s.integer("vad.min_utterance_ms"),
        max_utterance_ms=s.integer("vad.max_utterance_ms"),
        snr_db=s.integer("vad.snr_db"),
        drop_db=s.integer("vad.drop_db"),
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


def _open_source(args: argparse.Namespace, s: Settings, status: StatusView) -> AudioSource:
    if args.speed < 0:
        raise ConfigError(f"--speed is {args.speed:g}, but it must be 0 (no pacing) or more.")
    if args.input:
        from vad_dictate.audio.files import FileSource

        # Blocks of one VAD frame: the frame that ends an utterance is decided as soon
        # as it is captured, not when a misaligned later block completes it.
        block_ms = s.integer("vad.frame_ms")
        return FileSource(args.input, speed=args.speed, rate=PIPELINE_RATE, block_ms=block_ms)
    from vad_dictate.audio.mic import MicSource

    device: int | str | None = s.text("audio.device") or None
    if isinstance(device, str) and device.isdigit():
        device = int(device)
    # The microphone keeps MicSource's 20 ms blocks: 30 ms blocks stalled PortAudio reading
    # the ALSA file-plugin device in tests/test_mic_app.py (cause not found).
    return MicSource(
        device,
        channels=s.integer("audio.channels"),
        rate=PIPELINE_RATE,
        device_rate=s.integer("audio.device_rate") or None,
        on_overflow=status.message,
    )


def _server_for(s: Settings, status: StatusView) -> tuple[str, str | None, Any]:
    """The URL and key to use, starting the offline server when there is no Deepgram key."""
    url, api_key = s.text("deepgram.url"), s.api_key
    offline = s.flag("deepgram.offline") or (api_key is None and url == proto.DEFAULT_URL)
    if not offline:
        return url, api_key, None
    from vad_dictate.engines.sphinx import SphinxEngine
    from vad_dictate.server.serve import BackgroundServer

    why = "--offline was given" if s.flag("deepgram.offline") else "DEEPGRAM_API_KEY is not set"
    status.message(
        f"offline: {why}, so the built-in PocketSphinx engine transcribes locally; "
        "set DEEPGRAM_API_KEY to use Deepgram instead."
    )
    server = BackgroundServer(SphinxEngine())
    return server.start(), None, server


def _session_options(
    s: Settings, url: str, api_key: str | None, channels: int, endpointer: EndpointerSettings
) -> SessionOptions:
    return SessionOptions(
        url=url,
        api_key=api_key,
        connect=_connect_options(s, channels),
        endpointer=endpointer,
        pipeline=_pipeline_settings(s),
        ack_timeout=s.number("deepgram.ack_timeout_s"),
        keepalive_s=s.number("stream.keepalive_s"),
        close_timeout=s.number("stream.close_timeout_s"),
        give_up_s=s.number("stream.reconnect_give_up_s"),
        retain_s=s.number("stream.retain_s"),
        replay_speed=s.number("stream.replay_speed"),
        reopen_s=s.number("audio.reopen_s"),
    )


def _make_sink(s: Settings, channels: int, status: StatusView) -> UtteranceSink:
    """stdout plus the extra targets: --append, type, clipboard."""
    from vad_dictate.ui.sinks import AppendTarget, TextTarget
    from vad_dictate.ui.typist import Typist

    loop = asyncio.get_running_loop()

    def notify(message: str) -> None:  # called from the typing thread
        loop.call_soon_threadsafe(status.message, message)

    targets: list[TextTarget] = []
    if s.text("output.append"):
        targets.append(AppendTarget(s.text("output.append")))
    for mode in s.strings("output.targets"):
        targets.append(Typist(mode, s.integer("output.type_delay_ms"), notify))
    return UtteranceSink(
        s.text("output.format"), channels, targets=targets, before_write=status.clear
    )


def _control_options(s: Settings) -> ControlOptions:
    keymap = None
    if s.flag("controls.terminal_keys"):
        keymap = KeyMap.build(
            {
                action: s.strings(f"controls.{action}_keys")
                for action in ("finalize", "pause", "less_sensitive", "more_sensitive", "quit")
            }
        )
    return ControlOptions(
        keymap=keymap,
        socket=s.flag("controls.socket"),
        hotkey=s.text("controls.hotkey"),
        push_to_talk=s.text("controls.push_to_talk"),
    )


async def _dictate(args: argparse.Namespace, s: Settings, status: StatusView) -> int:
    endpointer = _endpointer_settings(s)
    controls = _control_options(s)
    source = _open_source(args, s, status)
    url, api_key, server = _server_for(s, status)
    recorder = None
    try:
        options = _session_options(s, url, api_key, source.channels, endpointer)
        sink = _make_sink(s, source.channels, status)
        if args.record:
            from vad_dictate.diagnostics.record import SessionRecorder

            recorder = SessionRecorder(args.record, PIPELINE_RATE, source.channels, endpointer)
        session = Session(source, options, sink, status, recorder)
        if recorder is not None:
            recorder.watch(session.pipeline.speaking)
        try:
            async with Controls(session, status, controls):
                return await session.run()
        finally:
            await asyncio.to_thread(sink.close)  # typing still queued finishes first
    finally:
        if recorder is not None:
            recorder.close()
        if server is not None:
            server.stop()


def _run_dictate(argv: Sequence[str]) -> int:
    args = _dictate_parser().parse_args(argv)
    overrides: dict[str, Any] = {
        key: getattr(args, flag) for flag, key in _FLAG_KEYS.items() if getattr(args, flag)
    }
    overrides.update(_output_overrides(args.output))
    if args.channels is not None:
        overrides["audio.channels"] = args.channels
    for flag in ("aggressiveness", "silence_ms", "preroll_ms"):
        if getattr(args, flag) is not None:
            overrides[_FLAG_KEYS[flag]] = getattr(args, flag)
    status = make_status_view(args.quiet)
    settings = load_settings(args.config, overrides, warn=status.message)
    return asyncio.run(_dictate(args, settings, status))


def _run_devices(argv: Sequence[str]) -> int:
    _Parser(prog="vad-dictate devices", description="List audio input devices.").parse_args(argv)
    from vad_dictate.audio.mic import list_input_devices

    devices = list_input_devices()
    if not devices:
        raise AudioDeviceError(
            "No audio input device was found; connect a microphone (check with: arecord -l)."
        )
    width = max(len(d.name) for d in devices)
    print(f"  {'index':>5}  {'name':<{width}}  {'rate':>8}  channels")
    for d in devices:
        mark = "*" if d.is_default else " "
        rate = f"{d.default_samplerate:.0f} Hz"
        print(f"{mark} {d.index:>5}  {d.name:<{width}}  {rate:>8}  {d.max_input_channels}")
    print("* default; choose with --device INDEX or --device NAME-FRAGMENT")
    return 0


def _run_client(command: str, argv: Sequence[str]) -> int:
    from vad_dictate.ui.control import run_client

    _Parser(
        prog=f"vad-dictate {command}",
        description=f"Send '{command}' to the running vad-dictate over its control socket.",
    ).parse_args(argv)
    return run_client(command)


def _run_replay(argv: Sequence[str]) -> int:
    p = _Parser(
        prog="vad-dictate replay",
        description="Run a --record directory's audio through the pipeline again and print the "
        "utterances. Without --url an embedded local server transcribes (--engine).",
    )
    p.add_argument("dir", metavar="DIR", help="a directory written by --record")
    p.add_argument("--url", help="server to use instead of the embedded local one")
    p.add_argument("--engine", default="pocketsphinx", help="embedded engine: pocketsphinx, tone")
    p.add_argument("--speed", type=float, default=0.0, help="N x real time, 0 = max (default)")
    p.add_argument("--output", choices=["text", "jsonl"], help="stdout format")
    p.add_argument("--config", metavar="PATH", help="TOML config file")
    args = p.parse_args(argv)
    overrides = {"output.format": args.output, "deepgram.url": args.url}
    settings = load_settings(args.config, overrides)
    return asyncio.run(_replay(args, settings))


async def _replay(args: argparse.Namespace, s: Settings) -> int:
    from vad_dictate.audio.files import FileSource
    from vad_dictate.diagnostics.record import DecisionLog, compare_decisions, load_recording
    from vad_dictate.server.serve import BackgroundServer, load_engine

    rec = load_recording(args.dir)
    status = StatusView()
    if args.speed < 0:
        raise ConfigError(f"--speed is {args.speed:g}, but it must be 0 (no pacing) or more.")
    source = FileSource(rec.audio, speed=args.speed, rate=PIPELINE_RATE, block_ms=rec.block_ms)
    server = None
    url, api_key = s.text("deepgram.url"), s.api_key
    if not args.url:
        server = BackgroundServer(load_engine(args.engine))
        url, api_key = server.start(), None
    try:
        options = _session_options(s, url, api_key, source.channels, rec.endpointer)
        sink = UtteranceSink(s.text("output.format"), source.channels)
        log = DecisionLog(PIPELINE_RATE)
        code = await run_dictation(source, options, sink, status, log)
    finally:
        if server is not None:
            server.stop()
    diffs = compare_decisions(rec.finalizes, log.finalizes)
    if diffs:
        status.message("replay: the VAD decided differently from the recording:")
        for line in diffs:
            status.message("  " + line)
    else:
        n = sum(1 for f in log.finalizes if f["trigger"] == "vad")
        status.message(f"replay: the VAD ended the same {n} utterance(s) as in the recording.")
    return code


def _run_serve(argv: Sequence[str]) -> int:
    from vad_dictate.server.serve import add_serve_arguments, run_serve

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
        if args[:1] == ["devices"]:
            return _run_devices(args[1:])
        if args[:1] == ["replay"]:
            return _run_replay(args[1:])
        if args and args[0] in COMMANDS:
            return _run_client(args[0], args[1:])
        return _run_dictate(args)
    except VadDictateError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"vad-dictate: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
