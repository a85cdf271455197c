"""What one expensive request costs the local server: time to answer and memory.

Starts ``vad-dictate serve`` from one or two source trees (this checkout, and e.g. an
older commit unpacked with ``git archive``), sends each request one second of silence
and CloseStream, and reports the seconds until Metadata, the server's peak RSS
(VmHWM) and its RSS once every stream has closed. Run from the repository root:

    .venv/bin/python -m benchmarks.server_limits [--against DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

ROOT = Path(__file__).resolve().parents[1]
# (engine, query, concurrent streams, also run on --against): the 32-channel request took
# minutes and gigabytes before the limits, so it is only run on this tree.
CASES = [
    ("tone", "encoding=linear16&sample_rate=383999&channels=32&multichannel=true", 1, False),
    ("tone", "encoding=linear16&sample_rate=383999&channels=8&multichannel=true", 1, True),
    ("pocketsphinx", "encoding=linear16&sample_rate=16000&channels=8&multichannel=true", 1, True),
    ("pocketsphinx", "encoding=linear16&sample_rate=16000", 16, True),
]


def _memory(pid: int) -> tuple[float, float]:
    """(peak RSS, current RSS) of a process, in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


async def _stream(url: str, query: str) -> str:
    rate = int(query.split("sample_rate=")[1].split("&")[0])
    channels = int(query.split("channels=")[1].split("&")[0]) if "channels=" in query else 1
    try:
        async with connect(f"{url}?{query}", proxy=None, open_timeout=300) as ws:
            await ws.send(bytes(2 * rate * channels))
            await ws.send(json.dumps({"type": "CloseStream"}))
            async for message in ws:
                if json.loads(message)["type"] == "Metadata":
                    return "ok"
    except InvalidStatus as exc:
        return str(exc.response.status_code)
    return "no Metadata"


async def _run_case(url: str, query: str, streams: int) -> list[str]:
    return list(await asyncio.gather(*(_stream(url, query) for _ in range(streams))))


def measure(tree: Path, engine: str, query: str, streams: int) -> dict[str, object]:
    """Serve from ``tree``, run the case once, return what it cost."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vad_dictate", "serve", "--port", "0", "--engine", engine],
        cwd=tree,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        start = time.monotonic()
        answers = asyncio.run(_run_case(url, query, streams))
        seconds = time.monotonic() - start
        time.sleep(1.0)  # let the server release what the streams held
        peak, after = _memory(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    codes = sorted(set(answers))
    return {"seconds": round(seconds, 2), "peak_mb": round(peak), "after_mb": round(after)} | {
        "answers": ", ".join(f"{answers.count(c)}x {c}" for c in codes)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="another source tree to measure alongside")
    args = parser.parse_args()
    trees = [("this", ROOT)] + ([("against", args.against)] if args.against else [])
    print("| engine | request | streams | tree | answers | seconds | peak MB | after MB |")
    print("|---|---|---|---|---|---|---|---|")
    for engine, query, streams, compare in CASES:
        for name, tree in trees if compare else trees[:1]:
            r = measure(tree, engine, query, streams)
            print(
                f"| {engine} | `{query.replace('encoding=linear16&', '')}` | {streams} | {name} "
                f"| {r['answers']} | {r['seconds']} | {r['peak_mb']} | {r['after_mb']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
