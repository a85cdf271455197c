"""``vad-dictate replay DIR``: a --record directory's audio through the pipeline again."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from vad_dictate.cli.dictate import PIPELINE_RATE, check_speed, session_options
from vad_dictate.cli.parser import ArgParser
from vad_dictate.client.session import Session
from vad_dictate.client.signals import install_signal_handlers
from vad_dictate.config import Settings, load_settings
from vad_dictate.ui.sinks import StatusView, UtteranceSink


def run_replay(argv: Sequence[str]) -> int:
    p = ArgParser(
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
    flags = {"output.format": "--output", "deepgram.url": "--url"}
    settings = load_settings(args.config, overrides, flags=flags)
    return asyncio.run(_replay(args, settings))


async def _replay(args: argparse.Namespace, s: Settings) -> int:
    from vad_dictate.audio.files import FileSource
    from vad_dictate.diagnostics.record import DecisionLog, compare_decisions, load_recording
    from vad_dictate.server.serve import BackgroundServer, load_engine

    rec = load_recording(args.dir)
    status = StatusView()
    check_speed(args.speed)
    source = FileSource(rec.audio, speed=args.speed, rate=PIPELINE_RATE, block_ms=rec.block_ms)
    server = None
    url, api_key = s.text("deepgram.url"), s.api_key
    if not args.url:
        server = BackgroundServer(load_engine(args.engine))
        url, api_key = server.start(), None
    try:
        # The VAD's own decisions are replayed; turn taking hangs on the model's and the
        # server's timing, which a replay cannot repeat, so the silence timer decides.
        options = session_options(s, url, api_key, source.channels, rec.endpointer, False)
        sink = UtteranceSink(s.text("output.format"), source.channels)
        log = DecisionLog(PIPELINE_RATE)
        session = Session(source, options, sink, status, log)
        install_signal_handlers(session)
        code = await session.run()
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
