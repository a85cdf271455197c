"""Dictation: the session and everything around it, built from the merged settings."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vad_dictate.cli.parser import dictate_parser, setting_overrides
from vad_dictate.client.pipeline import PipelineSettings, Policy
from vad_dictate.client.scoring import TurnScorer
from vad_dictate.client.session import AudioSource, Session, SessionOptions
from vad_dictate.config import Settings, load_settings
from vad_dictate.deepgram import protocol as proto
from vad_dictate.errors import ConfigError
from vad_dictate.ui.control import ControlOptions, Controls
from vad_dictate.ui.desktop import DesktopOptions, DesktopView, wants_notifications
from vad_dictate.ui.keys import ACTIONS, KeyMap
from vad_dictate.ui.sinks import StatusView, UtteranceSink
from vad_dictate.ui.view import make_status_view
from vad_dictate.vad.events import EndpointerSettings, VadEngine
from vad_dictate.vad.turn import TurnSettings

PIPELINE_RATE = 16000


def check_speed(speed: float) -> None:
    """--speed is a pacing factor: 0 (unpaced) or more."""
    if not speed >= 0:  # also refuses nan
        raise ConfigError(f"--speed is {speed:g}, but it must be 0 (no pacing) or more.")


def _endpointer_settings(s: Settings) -> EndpointerSettings:
    """Every whole-number field of EndpointerSettings comes from the ``vad`` key of its name."""
    numbers: dict[str, Any] = {
        f.name: s.integer(f"vad.{f.name}")
        for f in dataclasses.fields(EndpointerSettings)
        if f.type == "int"
    }
    engine: VadEngine = "silero" if s.text("vad.engine") == "silero" else "webrtcvad"
    settings = EndpointerSettings(engine=engine, **numbers)
    settings.validate()
    return settings


def vocabulary_path(s: Settings) -> Path:
    """The vocabulary file these settings name (default: in the config directory)."""
    from vad_dictate.ui.vocabulary import default_path

    chosen = s.text("deepgram.vocabulary")
    return Path(chosen).expanduser() if chosen else default_path()


def keyterms(s: Settings) -> tuple[str, ...]:
    """``deepgram.keyterms`` and the vocabulary file's terms, checked against the limit."""
    from vad_dictate.ui.vocabulary import check_limit, read_terms

    terms = tuple(dict.fromkeys([*s.strings("deepgram.keyterms"), *read_terms(vocabulary_path(s))]))
    check_limit(terms, "deepgram.keyterms and the vocabulary file together")
    return terms


def _connect_options(s: Settings, channels: int) -> proto.ConnectOptions:
    endpointing = s.integer("deepgram.endpointing")
    utterance_end = s.integer("deepgram.utterance_end_ms")
    language = s.text("deepgram.language").lower()
    english = language in ("", "en") or language.startswith("en-")  # dictation is English only
    return proto.ConnectOptions(
        sample_rate=PIPELINE_RATE,
        channels=channels,
        model=s.text("deepgram.model") or None,
        language=s.text("deepgram.language") or None,
        punctuate=s.flag("deepgram.punctuate"),
        smart_format=s.flag("deepgram.smart_format"),
        endpointing=endpointing if endpointing > 0 else False,
        utterance_end_ms=utterance_end or None,
        keyterms=keyterms(s),
        dictation=s.flag("deepgram.dictation") and english and s.flag("deepgram.punctuate"),
        numerals=s.flag("deepgram.numerals"),
        filler_words=s.flag("deepgram.filler_words"),
        redact=tuple(s.strings("deepgram.redact")),
        mip_opt_out=s.flag("deepgram.mip_opt_out"),
    )


def _pipeline_settings(s: Settings) -> PipelineSettings:
    policy: Policy = "always" if s.text("stream.policy") == "always" else "speech"
    return PipelineSettings(policy=policy, chunk_ms=s.integer("stream.chunk_ms"))


def _open_source(args: argparse.Namespace, s: Settings, status: StatusView) -> AudioSource:
    check_speed(args.speed)
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
    from vad_dictate.engines.offline import offline_engine
    from vad_dictate.server.serve import BackgroundServer

    engine, name = offline_engine(
        s.text("engine.name"), s.text("engine.model"), s.integer("engine.threads"), status.message
    )
    why = "--offline was given" if s.flag("deepgram.offline") else "DEEPGRAM_API_KEY is not set"
    status.message(
        f"offline: {why}, so the built-in {name} transcribes locally; "
        "set DEEPGRAM_API_KEY to use Deepgram instead."
    )
    server = BackgroundServer(engine)
    return server.start(), None, server


def session_options(
    s: Settings,
    url: str,
    api_key: str | None,
    channels: int,
    endpointer: EndpointerSettings,
    real_time: bool = True,
) -> SessionOptions:
    """The session's options; ``real_time`` False (unpaced input) keeps to the silence timer."""
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
        turn=turn_settings(s) if real_time else None,
    )


def turn_settings(s: Settings) -> TurnSettings | None:
    """``vad.turn``: smart turn taking's settings, or None for the silence timer."""
    if s.text("vad.turn") != "smart":
        return None
    return TurnSettings(
        ask_ms=s.integer("vad.turn_ask_ms"),
        early_ms=s.integer("vad.turn_early_ms"),
        ceiling_ms=s.integer("vad.turn_ceiling_ms"),
        threshold=s.number("vad.turn_threshold"),
    )


def load_turn_model(s: Settings, status: StatusView, real_time: bool) -> TurnScorer | None:
    """The smart-turn model; without it one warning, and the words and ceiling decide."""
    if s.text("vad.turn") != "smart" or not real_time:
        return None
    from vad_dictate.vad.smart_turn import SmartTurn

    path = s.text("vad.turn_model")
    if path:
        return SmartTurn(Path(path).expanduser())  # a bad path the user gave is an error
    try:
        return SmartTurn()
    except ConfigError as exc:
        status.message(
            f"warning: {exc} Until then pauses end by the interim words and "
            f"vad.turn_ceiling_ms ({s.integer('vad.turn_ceiling_ms')} ms) of silence."
        )
        return None


def _make_sink(s: Settings, channels: int, status: StatusView) -> UtteranceSink:
    """stdout plus the extra targets (--append, type, clipboard), composer and history."""
    from vad_dictate.ui.outputs import make_sink

    loop = asyncio.get_running_loop()

    def notify(message: str) -> None:  # called from the typing thread
        loop.call_soon_threadsafe(status.message, message)
        if isinstance(status, DesktopView):
            loop.call_soon_threadsafe(status.event, "typing_failed", message)

    return make_sink(s, channels, status.message, notify, status.clear)


def _control_options(s: Settings, microphone: bool) -> ControlOptions:
    keymap = None
    if s.flag("controls.terminal_keys"):
        keymap = KeyMap.build({action: s.strings(f"controls.{action}_keys") for action in ACTIONS})
    return ControlOptions(
        keymap=keymap,
        socket=s.flag("controls.socket"),
        hotkey=s.text("controls.hotkey"),
        push_to_talk=s.text("controls.push_to_talk"),
        microphone=microphone,
        vocabulary=lambda: keyterms(s),
    )


async def _dictate(args: argparse.Namespace, s: Settings, status: StatusView) -> int:
    endpointer = _endpointer_settings(s)
    controls = _control_options(s, microphone=not args.input)
    source = _open_source(args, s, status)
    url, api_key, server = _server_for(s, status)
    desktop = DesktopOptions(
        engine="offline" if server is not None else "deepgram",
        notify=wants_notifications(s.flag("ui.notify")),
        sounds=s.flag("ui.sounds"),
    )
    status = DesktopView(status, desktop)
    recorder = None
    try:
        # Unpaced input outruns the model's answers and the server's words, which come in wall
        # time: smart turns would wait for the ceiling at every pause, so the timer decides.
        real_time = not (args.input and args.speed == 0)
        scorer = load_turn_model(s, status, real_time)
        options = session_options(s, url, api_key, source.channels, endpointer, real_time)
        options = dataclasses.replace(options, turn_model=scorer is not None)
        sink = _make_sink(s, source.channels, status)
        if args.record:
            from vad_dictate.diagnostics.record import SessionRecorder

            recorder = SessionRecorder(args.record, PIPELINE_RATE, source.channels, endpointer)
        paused = s.flag("controls.start_paused")
        session = Session(source, options, sink, status, recorder, paused=paused, scorer=scorer)
        if recorder is not None:
            recorder.watch(session.core.pipeline.speaking)
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


def run_dictate(argv: Sequence[str]) -> int:
    args = dictate_parser().parse_args(argv)
    overrides, flags = setting_overrides(args)
    status = make_status_view(args.quiet)
    settings = load_settings(args.config, overrides, warn=status.message, flags=flags)
    lock = None
    if not args.input:  # one session per microphone; file transcriptions run alongside
        from vad_dictate.paths import runtime_dir
        from vad_dictate.ui.instance import InstanceLock

        lock = InstanceLock(runtime_dir())
        lock.acquire()
    try:
        return asyncio.run(_dictate(args, settings, status))
    finally:
        # Everything said is out; a Ctrl-C while worker threads wind down exits at once.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _exit_now)
        if lock is not None:
            lock.release()


def _exit_now(signum: int, frame: object) -> None:
    sys.stdout.flush()
    os._exit(128 + signum)


def check_settings(s: Settings) -> None:
    """Refuse what no single key's range can: keys that must agree with each other."""
    _endpointer_settings(s)
    _control_options(s, microphone=True)
