"""Utterance assembler: turns Deepgram results into committed utterances, each exactly once.

Pure: no I/O, no clock reads; wall time comes in as ``now`` arguments.

Rules (all "which utterance does this result belong to" logic lives here):

1. Every Finalize the client sends marks a boundary on the channel's stream clock:
   the number of samples sent before it. Boundaries partition the stream clock,
   so each utterance owns the span from the previous boundary to its own.
2. A word belongs to the utterance whose span contains the word's midpoint, never
   to whichever utterance happens to be waiting when it arrives. A result that
   straddles a boundary is split word by word.
3. An utterance commits once, on the first of: a ``from_finalize`` result whose
   span reaches its boundary (with or without text: an empty acknowledgement
   after server endpointing already gave the words commits those words); the
   acknowledgement timeout; or :meth:`Assembler.flush` at shutdown. Utterances of
   a channel commit in order.
4. Finals tile the stream clock and are never restated. A word inside the span of
   a final already received (a duplicated or rewritten final), or beyond the audio
   sent so far (``horizon``), is rejected and counted, never printed. A word at or
   before a committed boundary that was never printed is committed on its own as
   ``late`` rather than lost.
5. Interim text replaces the previous interim; it never appends.
6. An utterance with no words commits with empty text; the shell prints nothing for it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Literal

from vad_dictate.client.sentences import join_text
from vad_dictate.deepgram.protocol import FinalResult, InterimResult, Result

Outcome = Literal["ack", "timeout", "flush", "late"]

# An acknowledgement whose span ends this close before a boundary still reaches it:
# servers report float32-ish clocks.
_ACK_TOLERANCE_S = 0.25
_SEEN_WORDS = 4096
_HISTORY = 64  # committed utterances remembered to place late words
_SPAN_MARGIN_S = 0.02  # finals that merely touch are fine; overlap beyond this is a restatement
_HORIZON_SLACK_S = 0.25
_FAR_S = 1e9  # past any audio a session sends: keeps arithmetic on hostile times finite


@dataclass(frozen=True, slots=True)
class UtteranceInfo:
    """What the client knows about an utterance when it sends its Finalize."""

    channel: int
    start: float  # capture seconds of the first speech
    end: float  # capture seconds of the last speech
    trigger: str
    last_speech_at: float = 0.0  # the shell's wall time for that last speech frame
    seq: int = 0  # the session's serial number of the utterance (0: not a Finalize)


@dataclass(frozen=True, slots=True)
class Committed:
    """A finished utterance: print it unless ``text`` is empty (reported so replay can trim)."""

    info: UtteranceInfo
    text: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class ShowInterim:
    """The channel's not-yet-committed text changed (finals so far plus the interim).

    Also the client core's action (it adds the lines it still holds to ``text``).
    """

    channel: int
    text: str


AssemblerEvent = Committed | ShowInterim


@dataclass(slots=True)
class _Token:
    mid: int  # stream sample of the word's midpoint
    start: int
    text: str


@dataclass(slots=True)
class _Segment:
    start: int
    tokens: list[_Token]
    transcript: str  # used verbatim when the whole segment lands in one utterance


@dataclass(slots=True)
class _Pending:
    boundary: int
    info: UtteranceInfo
    sent_at: float
    reached_at: float | None = None  # when the server's results first reached the boundary


@dataclass(slots=True)
class _Channel:
    segments: list[_Segment] = field(default_factory=list)
    pending: deque[_Pending] = field(default_factory=deque)
    committed_upto: int = 0
    interim: str = ""
    interim_end: int = 0
    last_commit_at: float = float("-inf")
    spans: list[tuple[int, int]] = field(default_factory=list)  # finals received, merged
    reached: int = 0  # furthest stream position any result covered
    progress_at: float = float("-inf")  # when ``reached`` last moved
    seen: set[tuple[int, int, str]] = field(default_factory=set)
    seen_order: deque[tuple[int, int, str]] = field(default_factory=deque)
    history: deque[tuple[int, int, UtteranceInfo]] = field(
        default_factory=lambda: deque(maxlen=_HISTORY)
    )


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        out = join_text(out, part)
    return out


class Assembler:
    """Maps final results to utterances by stream-clock span and commits each once."""

    def __init__(self, channels: int = 1, sample_rate: int = 16000, ack_timeout: float = 2.0):
        if channels < 1 or sample_rate <= 0 or ack_timeout <= 0:
            raise ValueError("channels, sample_rate and ack_timeout must be positive")
        self._rate = sample_rate
        self._timeout = ack_timeout
        self._channels = [_Channel() for _ in range(channels)]
        self.horizon: int | None = None  # stream frames sent so far; None = unknown
        self.rejected_words = 0

    def oldest_pending(self) -> tuple[float, int] | None:
        """(sent_at, seq) of the longest-waiting Finalize, or None."""
        heads = [ch.pending[0] for ch in self._channels if ch.pending]
        if not heads:
            return None
        first = min(heads, key=lambda p: p.sent_at)
        return first.sent_at, first.info.seq

    def answered_frames(self) -> int:
        """Stream frames every channel's results have reached so far."""
        return min(ch.reached for ch in self._channels)

    def pending_count(self) -> int:
        """Number of finalized utterances still waiting for their commit."""
        return sum(len(ch.pending) for ch in self._channels)

    def finalize_sent(self, boundary: int, info: UtteranceInfo, now: float) -> None:
        """Record that a Finalize for ``info.channel`` followed ``boundary`` stream samples."""
        ch = self._channel(info.channel)
        last = ch.pending[-1].boundary if ch.pending else ch.committed_upto
        if boundary < last:
            raise ValueError(f"boundary {boundary} goes back before {last}")
        ch.pending.append(_Pending(boundary, info, now))

    def on_interim(self, result: InterimResult, now: float | None = None) -> list[AssemblerEvent]:
        """Replace the channel's interim text."""
        ch = self._maybe_channel(result.channel)
        end = self._end(result)
        if ch is not None and now is not None:
            self._progress(ch, end, now)
        if ch is None or end <= ch.committed_upto or end < ch.interim_end:
            return []  # stale: an older restatement or a span already committed
        ch.interim, ch.interim_end = " ".join(result.transcript.split()), end
        return [ShowInterim(result.channel, self._partial_text(ch))]

    def on_final(self, result: FinalResult, now: float | None = None) -> list[AssemblerEvent]:
        """Take a final result received at ``now``; return the utterances it completes."""
        ch = self._maybe_channel(result.channel)
        if ch is None:
            return []
        events: list[AssemblerEvent] = []
        if now is not None:
            self._progress(ch, self._end(result), now)
        segment = self._segment(ch, result)
        if segment.tokens:
            late = [t for t in segment.tokens if t.mid < ch.committed_upto]
            if late:
                events.extend(self._commit_late(result.channel, ch, late))
                segment.transcript = ""  # only part of it remains to be held
            segment.tokens = [t for t in segment.tokens if t.mid >= ch.committed_upto]
            if segment.tokens:
                ch.segments.append(segment)
                ch.segments.sort(key=lambda s: s.start)
        if self._end(result) >= ch.interim_end:
            ch.interim = ""
        if result.from_finalize:
            acked = self._acknowledge(ch, self._end(result))
            if acked and now is not None:
                ch.last_commit_at = now
            events.extend(acked)
        events.append(ShowInterim(result.channel, self._partial_text(ch)))
        return events

    def tick(self, now: float) -> list[Committed]:
        """Commit utterances whose acknowledgement did not come within the timeout.

        A Finalize's timer starts once the server could have answered it: when it was
        sent, after the previous commit on its channel, and not before the server's
        results reached its boundary. While they have not, the timer starts from the
        server's last progress, so a server working through a backlog is waited for,
        and a silent one is not.
        """
        out: list[Committed] = []
        for ch in self._channels:
            while ch.pending:
                head = ch.pending[0]
                caught_up = head.reached_at if head.reached_at is not None else ch.progress_at
                started = max(head.sent_at, ch.last_commit_at, caught_up)
                if now - started < self._timeout:
                    break
                out.extend(self._commit_oldest(ch, "timeout"))
                ch.last_commit_at = now
        return out

    def _progress(self, ch: _Channel, end: int, now: float) -> None:
        if end <= ch.reached:
            return
        ch.reached, ch.progress_at = end, now
        slack = self._samples(_ACK_TOLERANCE_S)
        for pending in ch.pending:
            if pending.reached_at is None and pending.boundary <= end + slack:
                pending.reached_at = now

    def flush(self, end_info: UtteranceInfo | None = None) -> list[Committed]:
        """Commit everything held (shutdown); words after the last boundary get ``end_info``."""
        out: list[Committed] = []
        for index, ch in enumerate(self._channels):
            while ch.pending:
                out.extend(self._commit_oldest(ch, "flush"))
            if ch.segments:
                info = end_info or UtteranceInfo(index, 0.0, 0.0, "end")
                if info.channel != index:
                    info = replace(info, channel=index)
                text = self._take_text(ch, None)
                if text:
                    out.append(Committed(info, text, "flush"))
            ch.interim = ""
        return out

    # -- internals -----------------------------------------------------------------------------

    def _sent_s(self) -> float:
        """The latest stream time a result may mention: the audio sent so far."""
        return _FAR_S if self.horizon is None else self.horizon / self._rate + _HORIZON_SLACK_S

    def _beyond_sent(self, seconds: float) -> bool:
        """True for a stream time past the audio sent: checked before any arithmetic on it."""
        return not seconds <= self._sent_s()

    def _end(self, result: Result) -> int:
        """Where ``result``'s span ends, never past the audio sent (nor overflowing)."""
        return self._samples(min(result.start + result.duration, self._sent_s()))

    def _samples(self, seconds: float) -> int:
        return round(seconds * self._rate)

    def _channel(self, index: int) -> _Channel:
        if not 0 <= index < len(self._channels):
            raise ValueError(f"channel {index} out of range")
        return self._channels[index]

    def _maybe_channel(self, index: int) -> _Channel | None:
        return self._channels[index] if 0 <= index < len(self._channels) else None

    def _segment(self, ch: _Channel, result: FinalResult) -> _Segment:
        end = self._end(result)
        span = (min(self._samples(min(result.start, self._sent_s())), end), end)
        tokens: list[_Token] = []
        for word in result.words:
            if self._beyond_sent(word.end):
                self.rejected_words += 1
                continue
            key = (round(word.start * 1000), round(word.end * 1000), word.word)
            if key in ch.seen:
                continue  # a duplicated final: already held or printed
            mid = self._samples((word.start + word.end) / 2)
            if not self._plausible(ch, mid):
                self.rejected_words += 1
                continue
            self._remember(ch, key)
            tokens.append(_Token(mid, self._samples(word.start), word.text))
        if not result.words and result.transcript.strip():
            key = (span[0], span[1], result.transcript)
            mid = (span[0] + span[1]) // 2
            if key not in ch.seen and self._plausible(ch, mid):
                self._remember(ch, key)
                tokens.append(_Token(mid, span[0], result.transcript))
        if not self._beyond_sent(result.start + result.duration):
            self._add_span(ch, span)  # an impossible span must not shadow words still to come
        whole = len(tokens) == max(1, len(result.words))  # else the transcript says too much
        return _Segment(span[0], tokens, result.transcript if whole else "")

    def _plausible(self, ch: _Channel, mid: int) -> bool:
        """False for a word in audio never sent or inside a final already received."""
        if self.horizon is not None and mid > self.horizon + self._samples(_HORIZON_SLACK_S):
            return False
        margin = self._samples(_SPAN_MARGIN_S)
        return not any(a + margin < mid < b - margin for a, b in ch.spans)

    def _add_span(self, ch: _Channel, span: tuple[int, int]) -> None:
        if span[1] <= span[0]:
            return
        merged: list[tuple[int, int]] = []
        lo, hi = span
        for a, b in ch.spans:
            if b < lo or a > hi:
                merged.append((a, b))
            else:
                lo, hi = min(lo, a), max(hi, b)
        merged.append((lo, hi))
        ch.spans = sorted(merged)

    def _remember(self, ch: _Channel, key: tuple[int, int, str]) -> None:
        ch.seen.add(key)
        ch.seen_order.append(key)
        if len(ch.seen_order) > _SEEN_WORDS:
            ch.seen.discard(ch.seen_order.popleft())

    def _acknowledge(self, ch: _Channel, ack_end: int) -> list[Committed]:
        slack = self._samples(_ACK_TOLERANCE_S)
        covered = sum(1 for p in ch.pending if p.boundary <= ack_end + slack)
        if covered == 0 and ch.pending and ack_end > ch.committed_upto + slack:
            # The span stops short of the boundary but is past the last commit: servers
            # acknowledge in order, so this one is for the oldest pending Finalize. An
            # ack ending at the last commit is the late ack of a timed-out Finalize.
            covered = 1
        out: list[Committed] = []
        for _ in range(covered):
            out.extend(self._commit_oldest(ch, "ack"))
        return out

    def _commit_oldest(self, ch: _Channel, outcome: Outcome) -> list[Committed]:
        pending = ch.pending.popleft()
        text = self._take_text(ch, pending.boundary)
        ch.history.append((ch.committed_upto, pending.boundary, pending.info))
        ch.committed_upto = max(ch.committed_upto, pending.boundary)
        return [Committed(pending.info, text, outcome)]

    def _take_text(self, ch: _Channel, boundary: int | None) -> str:
        """Remove and join the held words before ``boundary`` (all when None)."""
        parts: list[str] = []
        kept: list[_Segment] = []
        for seg in ch.segments:
            taken = [t for t in seg.tokens if boundary is None or t.mid < boundary]
            rest = [t for t in seg.tokens if boundary is not None and t.mid >= boundary]
            if taken:
                whole = not rest and seg.transcript.strip()
                parts.append(seg.transcript if whole else " ".join(t.text for t in taken))
            if rest:
                kept.append(_Segment(rest[0].start, rest, ""))
        ch.segments = kept
        return _join(parts)

    def _commit_late(self, index: int, ch: _Channel, tokens: list[_Token]) -> list[Committed]:
        """Commit words that arrived after their utterance was printed, under its info."""
        groups: dict[int, list[str]] = {}
        infos: dict[int, UtteranceInfo] = {}
        for token in sorted(tokens, key=lambda t: t.start):
            slot = next((i for i, (lo, hi, _) in enumerate(ch.history) if lo <= token.mid < hi), -1)
            infos[slot] = ch.history[slot][2] if slot >= 0 else UtteranceInfo(index, 0, 0, "late")
            groups.setdefault(slot, []).append(token.text)
        out = []
        for slot, words in groups.items():
            text = _join(words)
            if text:
                out.append(Committed(infos[slot], text, "late"))
        return out

    def _partial_text(self, ch: _Channel) -> str:
        held = [t.text for seg in ch.segments for t in seg.tokens]
        return _join([*held, ch.interim])
