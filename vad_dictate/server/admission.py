"""Who may open a stream, and what a refusal says (pure).

:class:`StreamSlots` caps the streams an engine serves at once; :func:`header_text`
makes client-supplied text safe to echo in a response header or a log line;
:func:`exposure_problem` decides whether a listening address needs a key.
"""

from __future__ import annotations

import ipaddress
import re

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
MAX_HEADER_TEXT = 300


class StreamSlots:
    """A count of open streams with a limit; the caller holds one slot per stream."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the stream limit must be at least 1, not {limit}")
        self.limit = limit
        self.in_use = 0

    def take(self) -> bool:
        """Take a slot if one is free; False means refuse the stream."""
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def give_back(self) -> None:
        """Return a slot taken with :meth:`take`."""
        if self.in_use <= 0:
            raise ValueError("no slot is in use")
        self.in_use -= 1


class Ticket:
    """One stream's slot, returned exactly once however many times it is released."""

    def __init__(self, slots: StreamSlots) -> None:
        self._slots: StreamSlots | None = slots

    @property
    def held(self) -> bool:
        return self._slots is not None

    def release(self) -> None:
        """Give the slot back; later calls do nothing."""
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.give_back()


def header_text(text: str) -> str:
    """Printable ASCII only, escapes for everything else, bounded in length."""
    escaped = _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)
    if len(escaped) > MAX_HEADER_TEXT:
        escaped = escaped[: MAX_HEADER_TEXT - 3] + "..."
    return escaped


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` is reachable from this machine only."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve to an outside address


def exposure_problem(host: str, has_key: bool, allow_open: bool) -> str | None:
    """Why the server must not start on ``host`` as configured, or None."""
    if has_key or allow_open or is_loopback(host):
        return None
    shown = host or "all interfaces"
    return (
        f"Refusing to listen on {shown} without an API key: anyone who can reach it could "
        "use it; set DEEPGRAM_API_KEY or --api-key-file, or pass --allow-open."
    )
