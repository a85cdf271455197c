"""How much audio may wait before the endpointer must see it: the capture's batching rule.

Pure: no I/O, threads or clock reads. Each wake-up of the client costs more than the work of
one 20 ms block (the caches are cold), so the audio source may gather several blocks and hand
them out together (``AudioSource.hold``), as long as no decision falls due among them:

  SILENCE   nobody speaks: IDLE_HOLD_MS. The start of speech is then seen up to that much
            later, which sends nothing later that matters: the utterance streams from its
            pre-roll, so every word goes, and its end is far away.
  SPEECH    the last frame was speech: the soonest decision is a pause's, and a pause that
            begins with the next frame is decided no sooner than ``soonest_ms`` after the
            last speech (the model's question, the word rule's give-up, the end of the
            silence); the last speech may sit up to ANALYSIS_MS before the end of its frame
            (the sub-frame end), and the batch releases up to a frame late. So speech may
            wait soonest_ms - ANALYSIS_MS - frame_ms, at most SPEECH_HOLD_MS.
  HANGOVER  a pause in a confirmed utterance: until the next sample at which a silent frame
            decides (the turn policy's question or floor, the end of the silence), at most
            IDLE_HOLD_MS: speech that resumes is then seen that much later. Nothing waits
            while the model's answer is due, so that speech that resumed is seen before a
            "finished" answer could end the turn. Answers and words arrive as events of
            their own and are not held.
  ONSET, an unconfirmed pause: nothing waits.

In an utterance, never past its length limit.
"""

from __future__ import annotations

from vad_dictate.vad.endpointer import Endpointer
from vad_dictate.vad.events import State
from vad_dictate.vad.noise import ANALYSIS_MS
from vad_dictate.vad.turn import TurnPolicy, TurnSettings

IDLE_HOLD_MS = 100  # the onset is seen at most this much later: the pre-roll covers it
SPEECH_HOLD_MS = 40  # while speech goes on (two 20 ms blocks)


def speech_hold_ms(ep: Endpointer, turn: TurnSettings | None) -> int:
    """How long audio may wait while speech goes on (SPEECH above); 0: not at all.

    ``ep`` is any of the pipeline's endpointers (their silence_ms is the ceiling in smart
    mode); ``turn`` only in smart mode.
    """
    st = ep.settings
    give_up_ms = ep.give_up_frames * st.frame_ms  # the word rule's give-up
    soonest = min(st.silence_ms, give_up_ms)
    if turn is not None:
        soonest = min(soonest, turn.ask_ms, turn.early_ms)
    return max(0, min(SPEECH_HOLD_MS, soonest - ANALYSIS_MS - st.frame_ms))


def hold_samples(ep: Endpointer, speech_ms: int, turn: TurnPolicy | None) -> int:
    """Samples of this channel's audio that may wait before ``ep`` (and ``turn``, the
    channel's policy in smart mode) must see them."""
    rate, st = ep.sample_rate, ep.settings
    frame = rate * st.frame_ms // 1000
    if ep.state is State.SILENCE:
        return rate * IDLE_HOLD_MS // 1000
    if ep.state is State.SPEECH and ep.last_frame_speech:
        hold = rate * speech_ms // 1000
    elif ep.state is State.HANGOVER and ep.confirmed:
        due = ep.last_speech + rate * st.silence_ms // 1000 - frame  # the end of the silence
        if turn is not None:
            due = min(due, turn.next_due())
        hold = min(rate * IDLE_HOLD_MS // 1000, due - ep.samples_seen)
    else:
        return 0
    if ep.confirmed:  # the length limit counts from the onset, which is not before the start
        limit = ep.utterance_start + rate * st.max_utterance_ms // 1000 - ep.samples_seen
        hold = min(hold, limit - frame)
    return max(0, hold)
