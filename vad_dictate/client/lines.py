"""Which committed utterances are printed as they are, and which wait to be joined to the next.

Pure: no I/O, threads or clock reads; wall time comes in as ``now`` arguments.

The smart turn policy ends an utterance on the model's word before the server's words are in,
so it sometimes ends one at a thinking pause ("I went and fetched you from" ... "that ditch").
The server's final text then shows the mistake: no English statement ends on "the", "of",
"from", ... even with the full stop the server puts after a finalized segment
(:data:`vad_dictate.vad.turn.NEVER_LAST`, :func:`~vad_dictate.vad.turn.sounds_finished`). Such
an utterance is held, not printed, and the next one on its channel is joined to it and printed
as one line, the way it was said (:func:`~vad_dictate.client.sentences.join_text`).

The rules, per channel:

- An utterance of two words or more, ended by the turn policy (trigger ``turn``), whose text
  cannot end a sentence is held. Every other one is printed at once, joined to any text held
  before it. A one-word answer ("So.", "Not.") is never held.
- Held text is printed on its own when no utterance of its channel is under way (``busy``) and
  ``release_s`` has passed since its last speech: the speaker had finished after all (the
  ceiling of silence, which always ends an utterance). It is printed as the server gave it.
- :meth:`LineJoiner.flush` prints everything held (the session ends, or the user asks for it).
"""

from __future__ import annotations

from dataclasses import replace

from vad_dictate.client.assembler import Committed
from vad_dictate.client.sentences import join_text
from vad_dictate.vad.turn import sounds_finished


class LineJoiner:
    """Holds utterances cut at a thinking pause until the rest of the sentence is committed."""

    def __init__(self, release_s: float) -> None:
        self.release_s = release_s
        self._held: dict[int, Committed] = {}
        self.joined = 0  # utterances printed as part of a later one's line

    def held_text(self, channel: int) -> str:
        """The text waiting on ``channel`` ("" if none)."""
        item = self._held.get(channel)
        return item.text if item else ""

    def shown(self, channel: int, partial: str) -> str:
        """What the live view shows for ``channel``: its held text, then the words so far."""
        return join_text(self.held_text(channel), partial)

    def add(self, item: Committed) -> list[Committed]:
        """A committed utterance: what to print now (maybe nothing, maybe a joined line)."""
        channel = item.info.channel
        held = self._held.pop(channel, None)
        if held is not None and item.text:
            self.joined += 1
            info = replace(item.info, start=held.info.start)
            item = Committed(info, join_text(held.text, item.text), item.outcome)
        elif held is not None:
            self._held[channel] = held  # nothing new was said: keep waiting
            return []
        cut = item.info.trigger == "turn" and sounds_finished(item.text) is False
        if cut and len(item.text.split()) > 1:
            self._held[channel] = item
            return []
        return [item]

    def tick(self, now: float, busy: set[int]) -> list[Committed]:
        """Held text whose speaker has been silent for ``release_s`` and is not speaking."""
        out = []
        for channel, item in list(self._held.items()):
            silent = now - item.info.last_speech_at >= self.release_s
            if channel not in busy and silent:
                out.append(self._held.pop(channel))
        return out

    def flush(self) -> list[Committed]:
        """Everything held, in channel order."""
        out = [self._held[c] for c in sorted(self._held)]
        self._held.clear()
        return out
