"""The ways the emulator can make one cloud call fail, as fault rules: what the engine's fault
tests run each step under.

Imports nothing, so that the emulator's own tests can use it too.
"""

from __future__ import annotations

from typing import Any

FAULT_MODES: dict[str, dict[str, Any]] = {
    "error": {"code": "InternalError"},
    # More answers than the client has attempts: the call fails.
    "throttled": {"code": "RequestLimitExceeded", "times": 10},
    "drop-before": {"drop": "before"},
    "drop-after": {"drop": "after"},
}
"""An error answer, throttling past the retries, a request dropped before it ran, and an answer
lost after it ran."""


def fault_rule(action: str, mode: str, nth: int = 1) -> dict[str, Any]:
    """The ``nth`` call of ``action`` fails in ``mode`` (once, or as often as the mode says)."""
    return {"action": action, "nth": nth, "times": 1, **FAULT_MODES[mode]}
