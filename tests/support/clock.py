"""A clock the engine's tests set by hand (``provider.Clock``)."""

from __future__ import annotations

import time
from collections.abc import Callable


class ManualClock:
    """Real time until ``fixed`` is set; ``sleep`` goes to ``on_sleep`` (for example the
    emulator's ``advance_clock``, so that waiting for a key to propagate costs nothing)."""

    def __init__(self) -> None:
        self.fixed: float | None = None
        self.on_sleep: Callable[[float], None] = time.sleep

    def now(self) -> float:
        return time.time() if self.fixed is None else self.fixed

    def sleep(self, seconds: float) -> None:
        self.on_sleep(seconds)
