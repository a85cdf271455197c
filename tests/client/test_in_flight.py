"""A file sent unpaced to a server that reads slowly (issue 14, item 13, client side).

The client sends audio only while less than ``MAX_IN_FLIGHT_S`` of it is unread by the
server (pongs say what it has read), so it never parks minutes of audio in the socket
buffers for a keepalive ping to queue behind. The real Session runs here against the
local tone server behind a proxy that takes audio at 20x real time; the in-flight audio
is the client's sent bytes minus the bytes the proxy's websocket layer has parsed (what a
pong vouches for; the proxy's own queue of parsed messages is its business), sampled at
every send.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from tests.client.test_faults import groups
from tests.hostile import HostileProxy
from tests.wavs import utterances, write_wav
from vad_dictate.audio.block import AudioBlock
from vad_dictate.audio.files import FileSource
from vad_dictate.client.pipeline import PipelineSettings, SendAudio, SendFinalize
from vad_dictate.client.session import Session, SessionOptions
from vad_dictate.client.wire import MAX_IN_FLIGHT_S
from vad_dictate.deepgram.protocol import ConnectOptions
from vad_dictate.ui.sinks import StatusView, UtteranceSink
from vad_dictate.vad.events import EndpointerSettings

RATE = 16000
BYTES_PER_S = RATE * 2
SLACK_S = 0.5  # the last message, and the proxy parsing a read while its pong is on the way


class InFlight:
    """A session recorder that samples the audio sent but not yet read by the proxy."""

    def __init__(self, proxy: HostileProxy) -> None:
        self.proxy, self.sent_bytes, self.most = proxy, 0, 0

    def audio(self, block: AudioBlock) -> None:
        pass

    def received(self, raw: str | bytes) -> None:
        pass

    def sent(self, item: SendAudio | SendFinalize | str) -> None:
        if isinstance(item, SendAudio):
            self.sent_bytes += len(item.pcm)
            self.most = max(self.most, self.sent_bytes - self.proxy.audio_parsed)


def test_a_slow_reader_never_has_more_than_the_bound_in_flight(
    server_url: str, tmp_path: Path
) -> None:
    expected = groups(14, seed=41)
    audio = utterances(expected, pause=0.9)
    wav = write_wav(tmp_path / "long.wav", audio)
    out, err = io.StringIO(), io.StringIO()
    proxy = HostileProxy(server_url, read_bytes_per_s=20 * BYTES_PER_S)
    with proxy:
        options = SessionOptions(
            url=proxy.url,
            api_key=None,
            connect=ConnectOptions(endpointing=300),
            endpointer=EndpointerSettings(),
            pipeline=PipelineSettings(policy="always"),  # every second of the file goes
            replay_speed=0.0,
        )
        source = FileSource(wav, speed=0, rate=RATE, block_ms=30)
        recorder = InFlight(proxy)
        sink = UtteranceSink("text", 1, out)
        code = asyncio.run(Session(source, options, sink, StatusView(err), recorder).run())
        connections = proxy.connections
    words = [w.strip(".,").lower() for w in out.getvalue().split()]
    assert code == 0, err.getvalue()
    assert words == [w for g in expected for w in g], err.getvalue()
    assert connections == 1, err.getvalue()  # no keepalive timeout, no reconnect
    assert recorder.sent_bytes >= len(audio) * 2  # the whole file went
    assert recorder.most / BYTES_PER_S <= MAX_IN_FLIGHT_S + SLACK_S, recorder.most
