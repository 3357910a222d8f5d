"""How long a caller will wait for a call, and whether it still wants the answer at all.

A caller that has gone away (its own client disconnected, its request was cancelled) must not
start another cloud call: whatever that call created would reach nobody. The transport asks
``cancelled()`` before every attempt and gives up with ``CallCancelledError`` instead of sending.
Knows nothing about who cancels: the caller hands in a callable.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def _never() -> bool:
    return False


class Deadline:
    """A ``time.monotonic()`` instant (or none) and a cancellation check."""

    __slots__ = ("_cancelled", "at")

    def __init__(self, at: float | None = None, cancelled: Callable[[], bool] = _never) -> None:
        self.at = at
        self._cancelled = cancelled

    def cancelled(self) -> bool:
        """True once the caller no longer wants the answer."""
        return self._cancelled()

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def __repr__(self) -> str:
        return f"Deadline(at={self.at!r})"


DeadlineLike = Deadline | float | None
"""What the client's methods take: a Deadline, a bare monotonic instant, or nothing."""


def as_deadline(value: DeadlineLike) -> Deadline:
    if isinstance(value, Deadline):
        return value
    return Deadline(value)
