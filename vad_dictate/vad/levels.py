"""The level rules of the endpointer: which VAD frames are speech, and where speech ends.

Pure: no I/O, threads or clock reads.

Which frames are speech (:func:`is_speech`). webrtcvad alone calls steady noise louder than
about -30 dBFS speech, and adds 2-14 frames of its own hangover plus every breath and
room-noise tail after a sentence. So a frame is speech only when

  1. the classifier says so, or the utterance is confirmed and the frame is SUSTAIN_SNR_DB above
     the noise floor (a soft final word that mode 3 gives up on); and
  2. its speech-band power lies ``snr_db`` above the adaptive noise floor
     (:class:`vad_dictate.vad.noise.NoiseFloor`: per-band minimum statistics over 3 s); and
  3. it is within ``drop_db`` of the reference level: the loudest frame of the current
     utterance, or of the last confirmed one (decaying MEMORY_DECAY_DB_S per second).

Rules 2 and 3 put the last speech frame where speech acoustically ends, so silence_ms counts
from there (less finalize latency, ends within 100 ms of the truth) and steady noise between
sentences is silence. Either rule is off when its setting is 0.

Where inside the last speech frame speech ends (:func:`end_in_span`). A frame's level comes
from its whole analysis span (the last 30 ms, longer than a 10 or 20 ms frame), so the last
frame called speech runs on by up to a frame past the true end (up to 30 ms at 10 ms frames).
On the first non-speech frame after a speech frame, the speech frame's span is split into 5 ms
sub-blocks (:func:`vad_dictate.vad.noise.sub_block_levels`) and ``last_speech`` moves to the
end of the last sub-block that passes rules 2 and 3, but not before the run of speech frames
it ends; it stays at the frame's end if none passes or both rules are off.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vad_dictate.vad.noise import SUB_BLOCK_MS, Loudness, sub_block_levels

SUSTAIN_SNR_DB = 10.0  # inside a confirmed utterance, this far above the floor is speech
# The last utterance's peak fades this fast as a reference for the next onset, so a quieter
# talker is heard again within seconds, while room noise right after speech is not speech.
MEMORY_DECAY_DB_S = 1.0


def is_speech(
    loud: Loudness,
    vad_speech: bool,
    confirmed: bool,
    snr_db: float,
    drop_db: float,
    reference_db: float,
) -> bool:
    """Rules 1-3 for one frame: ``vad_speech`` is the classifier's word, ``reference_db`` the
    level rule 3 measures against."""
    if loud.snr_db < snr_db:
        return False
    sustained = SUSTAIN_SNR_DB and confirmed and loud.raw_snr_db >= SUSTAIN_SNR_DB
    if not vad_speech and not sustained:
        return False
    return not drop_db or loud.level_db >= reference_db - drop_db


def end_in_span(
    audio: npt.NDArray[np.int16], sample_rate: int, level_db: float, bar_db: float, first: int
) -> int | None:
    """Samples from the start of the measured span (``audio`` without its high-pass margins,
    whose mean level is ``level_db``) to the end of its last sub-block, from sub-block
    ``first`` on, at or above ``bar_db``; None if none is."""
    levels = sub_block_levels(audio, sample_rate, level_db)
    loud = np.flatnonzero(levels[first:] >= bar_db)
    if not len(loud):
        return None
    return (first + int(loud[-1]) + 1) * (sample_rate * SUB_BLOCK_MS // 1000)
