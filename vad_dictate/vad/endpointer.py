"""The per-channel endpointer: webrtcvad frame decisions -> utterance start and end events.

Pure: no I/O, threads or clock reads. Time is the channel's sample index; audio of any
length goes in, whole VAD frames are decided, events come out.

Which frames are speech (``s``), and where inside the last speech frame speech ends: the level
rules of :mod:`vad_dictate.vad.levels` (rules 1-3 there). While an utterance is unconfirmed its
onset is refined: it is the first speech frame within drop_db - 10 dB of the loudest so far
(speech onsets are sharp; breath and room noise before them are not speech), and confirmation
waits while the level still climbs by more than RISE_DB a frame.

All transitions live in :meth:`Endpointer._step`. The rules, per frame of ``frame_ms``
(N = ceil(onset_ms / frame_ms); Q = ceil(silence_ms / frame_ms); G = min(Q, N + 1)):

    SILENCE   s  -> ONSET, onset := first sample of this frame (-> SPEECH at once if N == 1)
              !s -> SILENCE
    ONSET     s  -> SPEECH once N speech frames have been seen since the onset
              !s -> SILENCE once G non-speech frames have been seen since the onset: the
                    onset needs N speech frames before its G-th non-speech frame (by default,
                    20 ms frames: 5 speech frames among the first 10). An abandoned onset is
                    noise, not an utterance: no event.
    SPEECH    s  -> SPEECH
              !s -> HANGOVER
    HANGOVER  s  -> SPEECH (one speech frame resumes the utterance), except after a word's
                    give-up (below): then the word is held and this frame is a new onset. If
                    that onset's utterance is confirmed, the word is Dropped and streamed
                    with it, from the word's pre-roll (a lead-in: a breath, "so"); if it
                    comes to nothing (abandoned, dropped, or force_end before it is
                    confirmed), the word is confirmed after all (SpeechStart), in HANGOVER
                    since its own last speech: noise after a word must not lose the word.
              !s -> SILENCE, if the utterance is confirmed, when this frame ends on the frame
                      boundary nearest last_speech + silence_ms (ties: the later one):
                      SpeechEnd(trigger="vad", end = that boundary). Rounded to the nearest
                      boundary, not up: silence_ms +- half a frame, never up to a frame more
                      (all of it is streamed, so no word is cut);
                    if it is not confirmed, when the run of non-speech frames since
                      last_speech reaches G, unless it is a word: Dropped. Unconfirmed
                      speech gives up early so that a breath or click followed by a short
                      gap cannot pull the next onset back (seen on LibriVox clips).
                    A word is unconfirmed speech of at least N speech frames whose loudest
                    frame lies WORD_SNR_DB above the noise floor ("Yes.", "Go."): duration
                    alone does not tell it from a blip, its level does. After W =
                    max(G, WORD_WAIT_MS) non-speech frames it is confirmed (SpeechStart) and
                    ends like any utterance; the server decides what it was.

Then, in SPEECH or HANGOVER:
  - confirmation: when last_speech - onset >= min_utterance_ms (onset as refined above) and
    the frame did not raise the level by more than RISE_DB, emit SpeechStart once;
    start = max(onset - preroll_ms (or a lead-in's), end of the previous announced utterance, 0).
  - length limit (confirmed utterances only): when samples_seen - onset >= max_utterance_ms,
    emit SpeechEnd(trigger="max_length", end=samples_seen). If that frame was speech a new
    utterance begins in SPEECH with onset = start = end (no pre-roll, no gap, no overlap; its
    onset is not refined) and awaits confirmation like any other; otherwise -> SILENCE.

force_end(trigger), from any state -> SILENCE: a confirmed utterance ends with
SpeechEnd(end=samples_seen, trigger); an ONSET already holding min_utterance_ms of speech, or
unconfirmed SPEECH or HANGOVER that is a word, is confirmed first (SpeechStart, SpeechEnd);
other unconfirmed SPEECH or HANGOVER gives Dropped; otherwise nothing. The VAD state, noise
floor, level memory and the partial-frame buffer are kept (the stream goes on).

Notes:
  - ``last_speech`` is the sample just after the last speech (by the rules above, not
    webrtcvad's raw decision, which :attr:`Endpointer.last_frame_vad` still reports): the end
    of the last speech frame while it is the latest frame, then the sub-block estimate.
  - ``samples_seen`` counts samples consumed into whole frames. A partial frame waits in
    a buffer for the next :meth:`Endpointer.process` call, so ``force_end`` ends at the last
    whole frame and the buffered remainder belongs to whatever comes next.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from vad_dictate.errors import ConfigError
from vad_dictate.vad.classifier import FrameClassifier, make_classifier
from vad_dictate.vad.events import (
    SAMPLE_RATES,
    Dropped,
    EndpointerSettings,
    EndpointEvent,
    SpeechEnd,
    SpeechStart,
    State,
    Trigger,
    check_range,
)
from vad_dictate.vad.levels import MEMORY_DECAY_DB_S, end_in_span, is_speech
from vad_dictate.vad.noise import SUB_BLOCK_MS, NoiseFloor, high_pass_margin

# Onset refinement uses drop_db minus this: onsets rise fast, tails fade slowly.
ONSET_TIGHTER_DB = 10
RISE_DB = 1.0  # a frame this much louder than the peak so far: the level is still climbing
# Short speech whose loudest frame stands this far above the noise floor is a word ("Yes.",
# "Go."), not a blip: it is confirmed instead of dropped, and the server decides what it was.
WORD_SNR_DB = 10.0
# ...once it is followed by this much silence; speech sooner makes it a lead-in to that speech.
WORD_WAIT_MS = 300


class Endpointer:
    """Turns one channel's int16 audio into SpeechStart / SpeechEnd / Dropped events."""

    def __init__(
        self,
        settings: EndpointerSettings,
        sample_rate: int = 16000,
        classifier: FrameClassifier | None = None,
    ) -> None:
        """``classifier`` decides speech per frame; by default the one ``settings.engine`` names."""
        settings.validate()
        if sample_rate not in SAMPLE_RATES:
            raise ConfigError(
                f"Endpointer sample rate must be 8000, 16000, 32000 or 48000 Hz, got {sample_rate}."
            )
        self.settings = settings
        self.sample_rate = sample_rate
        if classifier is None:
            classifier = make_classifier(settings.engine, sample_rate, settings.aggressiveness)
        self._classifier = classifier
        frame = sample_rate * settings.frame_ms // 1000
        self._frame = frame
        self._frame_bytes = 2 * frame
        self._onset_frames = math.ceil(settings.onset_ms / settings.frame_ms)
        self._silence_frames = math.ceil(settings.silence_ms / settings.frame_ms)
        self.give_up_frames = min(self._silence_frames, self._onset_frames + 1)
        self._word_wait = max(self.give_up_frames, math.ceil(WORD_WAIT_MS / settings.frame_ms))
        self._preroll = sample_rate * settings.preroll_ms // 1000
        self._min_len = sample_rate * settings.min_utterance_ms // 1000
        self._max_len = sample_rate * settings.max_utterance_ms // 1000
        self._silence = sample_rate * settings.silence_ms // 1000
        self._floor = NoiseFloor(sample_rate, frame)
        self._sub = sample_rate * SUB_BLOCK_MS // 1000
        self._margin = high_pass_margin(sample_rate)
        # The audio the end of speech is looked for in: the last speech frame's analysis
        # span, the high-pass margins, and the frame after it.
        self._recent = np.zeros(self._floor.span + frame + 2 * self._margin, dtype=np.int16)
        self._level = -math.inf  # level_db of the latest frame
        self._pending = b""  # bytes of an incomplete frame
        self._seen = 0
        self._speech = False
        self._vad_speech = False
        self._remembered = -math.inf  # peak of the last confirmed utterance, dB
        self._heard_at = 0  # sample at which it ended
        self._decay = MEMORY_DECAY_DB_S / sample_rate
        self._prev_end = 0
        self._snr = 0.0  # snr_db of the frame being stepped
        self._reset()

    def _reset(self) -> None:
        self._state = State.SILENCE
        self._onset = 0
        self._last_speech = 0
        self._run = 0  # first sample of the current (or last) run of speech frames
        self._start = 0
        self._confirmed = False
        self._speech_frames = 0
        self._quiet_frames = 0  # in ONSET: all since onset; otherwise the current run
        self._peak = -math.inf  # loudest speech frame of this utterance, dB
        self._early: list[tuple[int, float]] = []  # (start, dB) of speech frames until confirmed
        self._carried = False  # speech carried on over a max_length split: onset stays put
        # A word just before this onset (onset, start, last_speech, peak): a lead-in, streamed
        # with this utterance if it is confirmed, or an utterance of its own if not.
        self._held: tuple[int, int, int, float] | None = None
        self._voiced = 0  # speech frames of this utterance
        self._top_snr = -math.inf  # the highest snr_db among them

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def confirmed(self) -> bool:
        """True inside an utterance announced with SpeechStart."""
        return self._confirmed

    @property
    def utterance_start(self) -> int:
        """Where the confirmed utterance's audio starts (pre-roll included)."""
        return self._start

    @property
    def last_speech(self) -> int:
        """The sample just after the current utterance's last speech (see the notes above)."""
        return self._last_speech

    @property
    def samples_seen(self) -> int:
        """Samples consumed into whole VAD frames so far."""
        return self._seen

    @property
    def last_frame_speech(self) -> bool:
        """The endpointer's decision for the latest frame (for a level meter)."""
        return self._speech

    @property
    def last_frame_vad(self) -> bool:
        """The classifier's own decision for the latest frame, before the loudness rules."""
        return self._vad_speech

    def process(self, samples: npt.NDArray[np.int16]) -> list[EndpointEvent]:
        """Take mono int16 samples of any length; return the events of the whole frames."""
        if not isinstance(samples, np.ndarray) or samples.dtype != np.int16:
            got = samples.dtype if isinstance(samples, np.ndarray) else type(samples).__name__
            raise TypeError(f"Endpointer.process needs an int16 numpy array, got {got}.")
        if samples.ndim != 1:
            raise ValueError(
                f"Endpointer.process needs 1-D mono samples, got shape {samples.shape}."
            )
        data = self._pending + samples.tobytes() if self._pending else samples.tobytes()
        whole = len(data) - len(data) % self._frame_bytes
        self._pending = data[whole:]
        events: list[EndpointEvent] = []
        frames = np.frombuffer(data, dtype=np.int16, count=whole // 2)
        classify, st = self._classifier.is_speech, self.settings
        recent, keep = self._recent, len(self._recent) - self._frame
        for n in range(0, whole // 2, self._frame):
            frame = frames[n : n + self._frame]
            recent[:keep], recent[keep:] = recent[-keep:], frame  # shifted in place
            loud = self._floor.measure(frame)
            self._vad_speech = classify(frame)
            self._snr = loud.snr_db
            rules = (st.snr_db, st.drop_db, self._reference())
            speech = is_speech(loud, self._vad_speech, self._confirmed, *rules)
            self._step(speech, loud.level_db, events)
        return events

    def force_end(self, trigger: Trigger = "end") -> list[EndpointEvent]:
        """End the current utterance at samples_seen and return to SILENCE."""
        events: list[EndpointEvent] = []
        if self._state is State.ONSET and self._last_speech - self._onset >= self._min_len:
            self._confirm(events)  # enough speech, only the onset rule was still pending
        elif self._state is not State.ONSET and not self._confirmed and self._word_like():
            self._confirm(events)
        self._close(trigger, events)
        return events

    def set_aggressiveness(self, mode: int) -> None:
        """Change the VAD's aggressiveness (0-3) from the next frame on."""
        check_range("aggressiveness", mode, 0, 3, "")
        self._classifier.set_aggressiveness(mode)
        self.settings = replace(self.settings, aggressiveness=mode)

    # -- the state machine ------------------------------------------------------------------

    def _step(self, speech: bool, level_db: float, events: list[EndpointEvent]) -> None:
        frame_start = self._seen
        self._seen += self._frame
        state, rising = self._state, False
        if speech and self._word_pending():
            # Speech soon after a short word: the word may be a lead-in (a breath, "uh", "so").
            # It must not pull the new onset back; it is held until the new onset is decided.
            lead = max(self._onset - self._preroll, self._prev_end, 0)
            if self._held is not None:
                lead = min(lead, self._held[1])
            held = (self._onset, lead, self._last_speech, self._peak)
            self._reset()
            self._held, state = held, State.SILENCE
        if not speech and self._speech and state is not State.SILENCE:
            self._last_speech = self._speech_end(frame_start)
        self._speech, self._level = speech, level_db
        if speech:
            if self._last_speech != frame_start:
                self._run = frame_start
            self._last_speech = self._seen
            self._voiced += 1
            self._top_snr = max(self._top_snr, self._snr)
            if state is State.SILENCE:
                self._onset, self._speech_frames, self._quiet_frames = frame_start, 0, 0
                state = State.ONSET
            rising = level_db > self._peak + RISE_DB
            if not self._confirmed:
                self._refine_onset(frame_start, level_db)
            self._peak = max(self._peak, level_db)
            if state is State.ONSET:
                self._speech_frames += 1
                if self._speech_frames < self._onset_frames:
                    self._state = state
                    return
            state, self._quiet_frames = State.SPEECH, 0
        elif state is State.SILENCE:
            return
        else:
            self._quiet_frames += 1
            if self._confirmed:
                if self._silence_over():
                    self._close("vad", events)
                    return
            else:
                word = state is not State.ONSET and self._word_like()
                limit = self._word_wait if word else self.give_up_frames
                if self._quiet_frames >= limit:
                    if limit == self.give_up_frames:
                        self._close("vad", events)
                        return
                    self._confirm(events)  # a short word on its own: it ends like any utterance
            if state is State.SPEECH:
                state = State.HANGOVER
        self._state = state
        if state is State.ONSET:
            return
        # Not while the level still climbs: the refined onset may yet move (see _refine_onset).
        if not (self._confirmed or rising) and self._last_speech - self._onset >= self._min_len:
            self._confirm(events)
        if self._confirmed and self._seen - self._onset >= self._max_len:
            self._split(speech, events)

    def _silence_over(self) -> bool:
        # This frame's end is the frame boundary nearest last_speech + silence_ms (ties: later).
        return 2 * (self._seen - self._last_speech - self._silence) + self._frame > 0

    def _speech_end(self, frame_start: int) -> int:
        """Where speech ends inside the last speech frame, which ends at ``frame_start``
        (:func:`vad_dictate.vad.levels.end_in_span`; not before the run of speech frames)."""
        span, snr_db, drop_db = self._floor.span, self.settings.snr_db, self.settings.drop_db
        bars = [self._floor.floor_db + snr_db] if snr_db else []
        bars += [self._reference() - drop_db] if drop_db else []
        if not bars:
            return frame_start
        lo = len(self._recent) - self._frame - span - self._margin  # _recent ends with this frame
        audio = self._recent[lo : lo + span + 2 * self._margin]
        first = max(0, (self._run - (frame_start - span)) // self._sub)
        end = end_in_span(audio, self.sample_rate, self._level, max(bars), first)
        return frame_start if end is None else frame_start - span + end

    def _reference(self) -> float:
        """The level rule 3 measures against (:mod:`vad_dictate.vad.levels`)."""
        return max(self._peak, self._remembered - self._decay * (self._seen - self._heard_at))

    def _word_pending(self) -> bool:
        return (
            self._state is State.HANGOVER
            and not self._confirmed
            and self._quiet_frames >= self.give_up_frames
        )

    def _word_like(self) -> bool:
        return self._voiced >= self._onset_frames and self._top_snr >= WORD_SNR_DB

    def _refine_onset(self, frame_start: int, level_db: float) -> None:
        # The onset refinement of the module docstring; min_utterance_ms counts from it.
        self._early.append((frame_start, level_db))
        if level_db <= self._peak or not self.settings.drop_db or self._carried:
            return
        floor = level_db - self.settings.drop_db + ONSET_TIGHTER_DB
        while self._early[0][1] < floor:
            del self._early[0]
        self._onset = self._early[0][0]

    def _confirm(self, events: list[EndpointEvent]) -> None:
        self._early = []
        start = self._onset - self._preroll
        if self._held is not None:  # a lead-in: streamed with this utterance
            onset, lead, last_speech, _ = self._held
            events.append(Dropped(onset, last_speech))
            start, self._held = min(start, lead), None
        self._start = max(start, self._prev_end, 0)
        self._confirmed = True
        events.append(SpeechStart(self._start, self._onset))

    def _close(self, trigger: Trigger, events: list[EndpointEvent]) -> None:
        held = self._held
        if self._confirmed:
            self._finish(self._seen, trigger, events)
        elif held is not None:
            # What followed a held word came to nothing (noise): the word is an utterance of
            # its own, in HANGOVER since its last speech, which the noise is part of.
            self._reset()
            onset, self._start, self._last_speech, self._peak = held
            self._onset, self._state, self._confirmed = onset, State.HANGOVER, True
            events.append(SpeechStart(self._start, onset))
            if trigger == "vad":
                return
            self._finish(self._seen, trigger, events)
        elif self._state is State.SPEECH or self._state is State.HANGOVER:
            events.append(Dropped(self._onset, self._last_speech))
        self._reset()

    def _finish(self, end: int, trigger: Trigger, events: list[EndpointEvent]) -> None:
        self._remembered, self._heard_at = self._peak, end
        events.append(SpeechEnd(self._start, self._onset, self._last_speech, end, trigger))
        self._prev_end = end

    def _split(self, speech: bool, events: list[EndpointEvent]) -> None:
        # The limit cuts the utterance; ongoing speech carries on as a new one from here.
        self._finish(self._seen, "max_length", events)
        peak = self._peak
        self._reset()
        if speech:
            self._state = State.SPEECH
            self._onset = self._last_speech = self._run = self._seen
            self._peak, self._carried = peak, True
            if self._min_len == 0:
                self._confirm(events)
