"""The turn policy: when a pause in speech ends the utterance (``vad.turn = "smart"``).

Pure: no I/O, threads or clock reads. Time is the channel's sample index. The endpointer finds
the pauses; this class decides whether a pause is the end of a turn from three things:

  - the acoustic end-of-turn model (smart-turn), whose completion probability arrives later
    as an event (:meth:`TurnPolicy.scored`) for the pause it was asked about;
  - the latest interim transcript of the utterance (:meth:`TurnPolicy.heard`), which counts
    only once it has heard the audio up to the pause (an older one says nothing about it);
  - the ceiling: ``ceiling_ms`` of silence always ends the utterance. The endpointer enforces
    it (its silence_ms is the ceiling in smart mode), so no utterance outlives it.

The rules, for a pause in a confirmed utterance that has lasted ``s`` so far (from the sample
just after the last speech frame); "fresh" words have heard the audio up to the pause:

    s < ask_ms                          -> wait (a breath, a stop consonant)
    fresh words end with a hold word    -> wait for the ceiling, and ask the model nothing:
                                           "the", "and", "of", "to", ... (or a comma) never
                                           end a sentence; a full stop after "was" or "in"
                                           can, and ? or ! after any word can
    fresh words end with . ? or !       -> EndTurn("words")
    s reaches ask_ms                    -> AskModel, once per pause (if the model is there)
    model probability >= threshold      -> EndTurn("model")
    otherwise                           -> wait for the words or the ceiling

and no EndTurn before ``early_ms`` of the pause: an answer or words that come sooner end it
then. The model is asked before that (``ask_ms``) so that its answer is in by then on most
machines; the floor keeps a fast answer from ending a turn inside a word: the tail of a
fading word ("wa...s") can follow a dip of 170 ms in the test speech.

One call per pause, and none when the words have decided. A second, later look at a pause
whose first score was borderline was tried and dropped: the model scores thinking pauses
higher the more silence it hears, so it cut more sentences in two (README, "Turn taking").
A score is about one pause: speech that resumes before it arrives, or an end of the utterance
by other means, makes it stale, and it is dropped. :meth:`TurnPolicy.take_stale` names such
requests while they may still be running, so that the shell can stop the model early: about a
quarter of the calls on read speech are for pauses of 90-175 ms between words. Text is kept
until the utterance ends (:meth:`TurnPolicy.reset`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TurnMode = Literal["smart", "silence"]
TURN_MODES = ("smart", "silence")

# Words after which an English sentence cannot end: articles, conjunctions, prepositions,
# possessives, auxiliaries. A pause after them is a thinking pause, unless the words go on to
# say otherwise: a full stop after "was" or "in" can be right ("than he was.", "come in.").
HOLD_WORDS = frozenset(
    (
        *("a", "an", "the", "and", "or", "but", "nor", "so", "yet", "of", "to", "from", "in"),
        *("on", "at", "by", "for", "with", "without", "into", "onto", "about", "over", "under"),
        *("after", "before", "than", "as", "if", "because", "since", "while", "although"),
        *("though", "that", "which", "who", "whom", "whose", "my", "your", "his", "her", "its"),
        *("our", "their", "this", "these", "those", "is", "are", "was", "were", "be", "been"),
        *("am", "will", "would", "shall", "should", "can", "could", "may", "might", "must"),
        *("do", "does", "did", "has", "have", "had", "not", "very", "such"),
    )
)
# The hold words that end no statement even with a full stop after them: a server that puts
# one there ("I went and fetched you from.") was made to finalize mid-phrase. A question may
# still end on one ("Where are you from?").
NEVER_LAST = frozenset(
    (
        *("a", "an", "the", "and", "or", "nor", "of", "from", "to", "into", "onto", "with"),
        *("at", "for", "than", "if", "because", "although", "though", "whose", "my", "your"),
        *("our", "their", "its"),
    )
)
FINAL_MARKS = (".", "?", "!")


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """How a pause becomes the end of an utterance; durations in milliseconds."""

    mode: TurnMode = "smart"
    ask_ms: int = 90  # the model is asked this far into a pause
    early_ms: int = 180  # the shortest pause that may end a turn
    ceiling_ms: int = 1300  # this much silence always ends the utterance
    threshold: float = 0.6  # model completion probability that ends the turn


@dataclass(frozen=True, slots=True)
class AskModel:
    """Score the utterance's audio up to sample ``upto`` and answer with ``token``."""

    token: int
    upto: int  # the channel's samples seen when it asks (an exclusive end)


@dataclass(frozen=True, slots=True)
class EndTurn:
    """The pause ends the utterance now."""

    reason: Literal["model", "words"]


TurnAction = AskModel | EndTurn


def last_word(text: str) -> str:
    """The last word of ``text``, lower case, without punctuation around it."""
    words = text.split()
    return words[-1].strip(".,;:?!\"'()").lower() if words else ""


def sounds_finished(text: str) -> bool | None:
    """True: the words end a sentence; False: they cannot end here; None: no sign either way."""
    text = text.strip()
    if not text:
        return None
    if text.endswith(","):
        return False
    if text.endswith(FINAL_MARKS[1:]):
        return True
    word = last_word(text)
    if word in NEVER_LAST:
        return False
    if text.endswith(FINAL_MARKS):
        return True
    return False if word in HOLD_WORDS else None


class TurnPolicy:
    """One channel's end-of-turn decision; feed it pauses, scores and interim text."""

    def __init__(self, settings: TurnSettings, sample_rate: int, model: bool) -> None:
        self.settings = settings
        self._ask = sample_rate * settings.ask_ms // 1000
        self._early = sample_rate * settings.early_ms // 1000
        self._model = model
        self._token = 0  # the latest request's; an answer to any other is stale
        self._stale: list[int] = []  # requests whose answers nobody wants any more
        self._waiting = False  # a request's answer is due
        self.reset()

    def reset(self) -> None:
        """A new utterance: forget its text, its pause and any score in flight."""
        self._text = ""
        self._covers = -1  # the sample up to which the text has heard the audio
        self.speech()

    def speech(self) -> None:
        """Speech goes on: the current pause (and any score for it) is over."""
        if self._waiting:
            self._stale.append(self._token)
        self._pause: int | None = None  # last_speech of the current pause
        self._may_end = False  # the pause has lasted early_ms
        self._asked = False  # the model was asked about this pause
        self._waiting = False
        self._probability: float | None = None

    def silence(self, last_speech: int, now: int) -> list[TurnAction]:
        """A non-speech frame of a confirmed utterance; ``now`` is the sample after it."""
        if self._pause != last_speech:
            self.speech()
            self._pause = last_speech
        if now - last_speech < self._ask:
            return []
        self._may_end = now - last_speech >= self._early
        end = self._decide()
        if end is not None:
            return [end]
        if self._model and not self._asked and self._words() is None:
            self._token += 1
            self._asked = self._waiting = True
            return [AskModel(self._token, now)]
        return []

    def scored(self, token: int, probability: float) -> EndTurn | None:
        """The model's completion probability for request ``token``."""
        if token != self._token or not self._waiting:
            return None  # speech resumed or the utterance ended meanwhile
        self._waiting = False
        self._probability = probability
        return self._decide()  # None before early_ms: the next silent frame decides

    def heard(self, text: str, covers: int) -> EndTurn | None:
        """The latest interim transcript of this utterance, heard up to sample ``covers``."""
        self._text, self._covers = text, covers
        return self._decide()  # None before early_ms of a pause

    def take_stale(self) -> list[int]:
        """The requests made stale since the last call, whose answers would be dropped."""
        out, self._stale = self._stale, []
        return out

    def next_due(self) -> int:
        """The sample at which a silent frame of this pause may next ask or end (a later
        ``silence`` call); past the ask and the floor only answers and words decide, which
        arrive as calls of their own: then a far-off sample. 0 (now) before the pause is
        known, and while an answer is due: speech that resumes must be seen at once, or the
        answer could end a turn that is no longer a pause."""
        if self._pause is None or self._waiting:
            return 0
        due = [self._pause + self._ask] if self._model and not self._asked else []
        due += [] if self._may_end else [self._pause + self._early]
        return min(due, default=1 << 62)

    @property
    def probability(self) -> float | None:
        """The model's answer for the current pause, once it came."""
        return self._probability

    def _words(self) -> bool | None:
        """What fresh words say about the pause (see :func:`sounds_finished`)."""
        fresh = self._pause is not None and self._covers >= self._pause
        return sounds_finished(self._text) if fresh else None

    def _decide(self) -> EndTurn | None:
        if not self._may_end:
            return None
        finished = self._words()
        if finished is not None:
            return EndTurn("words") if finished else None
        p = self._probability
        if p is not None and p >= self.settings.threshold:
            return EndTurn("model")
        return None
