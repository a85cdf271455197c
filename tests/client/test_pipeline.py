"""Pipeline (endpointers + send gate) and outbox: exactly what goes on the wire, in order."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from vad_dictate.client.outbox import Outbox
from vad_dictate.client.pipeline import (
    Outgoing,
    Pipeline,
    PipelineSettings,
    SendAudio,
    SendFinalize,
)
from vad_dictate.engines.tone import synth_utterance
from vad_dictate.vad.events import EndpointerSettings, SpeechEnd

RATE = 16000
EP = EndpointerSettings()


def sil(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def mono(*parts: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    return np.concatenate(parts)[:, None]


def run(
    audio: npt.NDArray[np.int16], policy: str = "speech", block: int = 320, chunk_ms: int = 50
) -> tuple[Pipeline, list[Outgoing]]:
    pipe = Pipeline(EP, PipelineSettings(policy=policy, chunk_ms=chunk_ms), audio.shape[1], RATE)  # type: ignore[arg-type]
    out: list[Outgoing] = []
    for pos in range(0, len(audio), block):
        chunk = audio[pos : pos + block]
        out += pipe.push(chunk, captured_at=(pos + len(chunk)) / RATE)  # block end
    return pipe, out


def sent_audio(out: list[Outgoing]) -> bytes:
    return b"".join(o.pcm for o in out if isinstance(o, SendAudio))


def finals(out: list[Outgoing]) -> list[SendFinalize]:
    return [o for o in out if isinstance(o, SendFinalize)]


UTT = synth_utterance(["alpha", "bravo", "charlie"])


def test_speech_policy_sends_preroll_speech_hangover_only() -> None:
    audio = mono(sil(1.0), UTT, sil(1.5))
    pipe, out = run(audio)
    [fin] = finals(out)
    sp: SpeechEnd = fin.speech
    assert sp.trigger == "vad"
    assert sp.start == sp.onset - RATE * EP.preroll_ms // 1000  # full pre-roll kept
    assert abs(sp.onset - RATE) < RATE * 0.05
    # exactly the samples from pre-roll start to the end of the hangover, in order
    assert sent_audio(out) == audio[sp.start : sp.end].tobytes()
    assert out[-1] is fin  # nothing after the Finalize: silence is not streamed
    assert pipe.sent_frames_total == sp.end - sp.start
    assert pipe.skipped_frames == sp.start


def test_message_sizes_are_20_to_100_ms() -> None:
    audio = mono(sil(1.0), UTT, sil(1.5), UTT, sil(1.5))
    for chunk_ms in (20, 50, 100):
        _, out = run(audio, chunk_ms=chunk_ms)
        sizes = [o.frames for o in out if isinstance(o, SendAudio)]
        assert sizes and all(RATE * 0.02 <= n <= RATE * 0.1 for n in sizes), (chunk_ms, sizes)
        assert sizes.count(RATE * chunk_ms // 1000) >= len(sizes) - 2 * len(finals(out))


def test_always_policy_streams_everything_in_order() -> None:
    audio = mono(sil(1.0), UTT, sil(1.5))
    pipe, out = run(audio, policy="always")
    [fin] = finals(out)
    before = out[: out.index(fin)]
    assert sent_audio(before) == audio[: fin.speech.end].tobytes()
    whole = len(audio) - len(audio) % (RATE * EP.frame_ms // 1000)
    assert sent_audio(out + pipe.drain()) == audio[:whole].tobytes()  # every whole frame
    assert pipe.skipped_frames == 0


def hissed(audio: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    """``audio`` over steady hiss at about -61 dBFS (seeded)."""
    hiss = np.random.default_rng(0).normal(0, 30, len(audio))
    return np.round(audio + hiss).astype(np.int16)


def test_faint_blip_never_reaches_the_wire() -> None:
    tone = synth_utterance(["alpha"], word_s=0.25)[: RATE // 10]  # 100 ms
    blip = tone * 0.018  # speech to webrtcvad, but only a few dB above the hiss
    _, out = run(mono(hissed(np.concatenate([sil(1.0), blip, sil(1.5)]))))
    assert out == []


def test_short_loud_word_is_sent_and_finalized() -> None:
    tone = synth_utterance(["alpha"], word_s=0.25)[: RATE // 10]  # 100 ms, like "Go."
    audio = mono(hissed(np.concatenate([sil(1.0), tone * 0.1, sil(1.5)])))
    _, out = run(audio)
    (f,) = finals(out)
    assert f.speech.start <= RATE and RATE + len(tone) <= f.speech.end
    assert sent_audio(out[: out.index(f)]) == audio[f.speech.start : f.speech.end].tobytes()


def test_two_utterances_two_finalizes_in_order() -> None:
    audio = mono(sil(0.5), UTT, sil(1.5), UTT, sil(1.5))
    _, out = run(audio)
    f1, f2 = finals(out)
    assert (f1.seq, f2.seq) == (1, 2)
    assert f1.speech.end <= f2.speech.start
    i1, i2 = out.index(f1), out.index(f2)
    assert sent_audio(out[:i1]) == audio[f1.speech.start : f1.speech.end].tobytes()
    assert sent_audio(out[i1:i2]) == audio[f2.speech.start : f2.speech.end].tobytes()


def test_block_size_does_not_change_the_output() -> None:
    audio = mono(sil(0.7), UTT, sil(1.2), UTT, sil(1.0))
    _, ref = run(audio, block=len(audio))
    for block in (1, 137, 480, 1601):
        _, out = run(audio, block=block)
        assert sent_audio(out) == sent_audio(ref)
        assert [f.speech for f in finals(out)] == [f.speech for f in finals(ref)]


def test_force_end_mid_utterance() -> None:
    audio = mono(sil(1.0), UTT)
    pipe, out = run(audio)
    assert finals(out) == []
    out += pipe.force_end("hotkey", captured_at=9.0)
    [fin] = finals(out)
    assert fin.speech.trigger == "hotkey"
    assert sent_audio(out) == audio[fin.speech.start : fin.speech.end].tobytes()
    assert pipe.force_end("end", captured_at=9.5) == []  # nothing left to end


def test_multichannel_finalize_names_the_channel() -> None:
    right = np.concatenate([sil(1.0), UTT, sil(1.5)])
    left = np.zeros_like(right)
    audio = np.stack([left, right], axis=1)
    _, out = run(audio)
    [fin] = finals(out)
    assert (fin.channel, fin.index) == (1, 1)
    assert sent_audio(out) == audio[fin.speech.start : fin.speech.end].tobytes()


def test_capture_time_of_last_speech_is_reported() -> None:
    _, out = run(mono(sil(1.0), UTT, sil(1.5)), block=RATE // 10)
    [fin] = finals(out)
    # blocks end every 100 ms; the last speech frame was captured by the next block end
    assert 0 <= fin.last_speech_at - fin.speech.last_speech / RATE < 0.1 + 1e-9


def test_bad_block_shape_is_refused() -> None:
    pipe = Pipeline(EP, PipelineSettings(), 2, RATE)
    with pytest.raises(ValueError, match="shape"):
        pipe.push(np.zeros((10, 1), dtype=np.int16), 0.0)
    with pytest.raises(ValueError):
        pipe.push(np.zeros((10, 2), dtype=np.float32), 0.0)
    with pytest.raises(ValueError):
        Pipeline(EP, PipelineSettings(chunk_ms=5), 1, RATE)


# -- outbox ----------------------------------------------------------------------------------


def audio_item(frames: int, tag: int = 0) -> SendAudio:
    return SendAudio(bytes([tag]) * frames * 2, frames)


def fin_item(seq: int) -> SendFinalize:
    return SendFinalize(None, SpeechEnd(0, 0, 0, 0, "vad"), 0, 0.0, seq)


def drain(box: Outbox) -> list[tuple[Outgoing, int]]:
    sent = []
    while (item := box.peek()) is not None:
        sent.append((item, box.mark_sent()))
    return sent


def test_outbox_boundaries_count_frames_on_this_connection() -> None:
    box = Outbox(max_retained_frames=10_000)
    box.restart(lead_frames=1600)
    box.extend([audio_item(800, 1), audio_item(800, 2), fin_item(1), audio_item(400, 3)])
    sent = drain(box)
    assert [b for _, b in sent] == [2400, 3200, 3200, 3600]
    assert len(box) == 0 and box.peek() is None


def test_outbox_replays_uncommitted_after_restart() -> None:
    box = Outbox(max_retained_frames=10_000)
    a1, f1, a2, f2, a3 = (
        audio_item(800, 1),
        fin_item(1),
        audio_item(800, 2),
        fin_item(2),
        audio_item(800, 3),
    )
    box.extend([a1, f1, a2, f2, a3])
    drain(box)
    box.committed(1)  # utterance 1 printed: its audio and Finalize are gone
    box.restart(lead_frames=1600)
    sent = drain(box)
    assert [item for item, _ in sent] == [a2, f2, a3]
    assert [b for _, b in sent] == [2400, 2400, 3200]
    assert box.uncommitted() == [f2]


def test_outbox_commit_out_of_order_trims_only_a_committed_prefix() -> None:
    box = Outbox(max_retained_frames=10_000)
    items: list[Outgoing] = [audio_item(100, 1), fin_item(1), audio_item(100, 2), fin_item(2)]
    box.extend(items)
    drain(box)
    box.committed(2)
    box.restart()
    assert [i for i, _ in drain(box)] == items  # utterance 1 still needs its replay
    box.committed(1)
    box.restart()
    assert drain(box) == []


def test_outbox_bound_drops_oldest_audio_and_counts_it() -> None:
    box = Outbox(max_retained_frames=1000)
    box.extend([audio_item(600, 1), audio_item(600, 2)])
    assert box.dropped_frames == 600
    assert box.peek() == audio_item(600, 2)
    assert box.unsent_frames == 600


def test_outbox_bound_tells_lost_audio_from_unreplayable_audio() -> None:
    box = Outbox(max_retained_frames=1000)
    box.extend([audio_item(600, 1)])
    drain(box)  # sent, not yet confirmed
    box.extend([audio_item(600, 2)])  # over the bound: the sent one is no longer kept
    assert (box.dropped_frames, box.unreplayable_frames) == (0, 600)
    box.extend([audio_item(600, 3)])  # still over: now unsent audio must go
    assert (box.dropped_frames, box.unreplayable_frames) == (600, 600)
