"""Command line: ``vad-dictate [options]`` dictates; the first word may name another command
(serve, devices, replay, config, history, vocab, or a control command for a running vad-dictate).

Every expected failure ends as one sentence on stderr and the exit code of its
:mod:`vad_dictate.errors` class; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from vad_dictate.cli.parser import ArgParser
from vad_dictate.errors import AudioDeviceError, VadDictateError
from vad_dictate.ui.remote import COMMANDS


def _run_devices(argv: Sequence[str]) -> int:
    ArgParser(prog="vad-dictate devices", description="List audio input devices.").parse_args(argv)
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
    from vad_dictate.ui.remote import run_client

    ArgParser(
        prog=f"vad-dictate {command}",
        description=f"Send '{command}' to the running vad-dictate over its control socket.",
    ).parse_args(argv)
    return run_client(command)


def _subcommand(
    argv: Sequence[str],
    name: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
) -> int:
    """Parse ``argv`` for ``vad-dictate NAME`` with the module's own arguments, then run it."""
    parser = ArgParser(prog=f"vad-dictate {name}", description=description)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _run_status(argv: Sequence[str]) -> int:
    from vad_dictate.ui.follow import add_status_arguments, run_status

    what = "Show what the running vad-dictate is doing; --follow for status bars."
    return _subcommand(argv, "status", what, add_status_arguments, run_status)


def _run_service(argv: Sequence[str]) -> int:
    from vad_dictate.ui.service import add_service_arguments, run_service

    what = "Run vad-dictate at login (paused) as a systemd user service."
    return _subcommand(argv, "service", what, add_service_arguments, run_service)


def _run_serve(argv: Sequence[str]) -> int:
    from vad_dictate.server.serve import add_serve_arguments, run_serve

    what = "Run the local Deepgram-compatible server."
    return _subcommand(argv, "serve", what, add_serve_arguments, run_serve)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vad-dictate`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["serve"]:
            return _run_serve(args[1:])
        if args[:1] == ["devices"]:
            return _run_devices(args[1:])
        if args[:1] == ["replay"]:
            from vad_dictate.cli.replay import run_replay

            return run_replay(args[1:])
        if args[:1] == ["status"]:
            return _run_status(args[1:])
        if args[:1] == ["service"]:
            return _run_service(args[1:])
        if args[:1] == ["config"]:
            from vad_dictate.cli.show import run_config

            return run_config(args[1:])
        if args[:1] == ["vocab"]:
            from vad_dictate.ui.vocabulary import run_vocab, tell_running_session

            return run_vocab(args[1:], ArgParser(prog="vad-dictate vocab"), tell_running_session)
        if args[:1] == ["history"]:
            from vad_dictate.ui.history import run_history

            return run_history(args[1:], ArgParser(prog="vad-dictate history"))
        if args and args[0] in COMMANDS:
            return _run_client(args[0], args[1:])
        from vad_dictate.cli.dictate import run_dictate

        return run_dictate(args)
    except VadDictateError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"vad-dictate: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
