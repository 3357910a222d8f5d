"""The emulator's request log in the two shapes tests compare it in.

Imports nothing of the plugin, so that the emulator's own tests can use it too.
"""

from __future__ import annotations

from tencentcloud_emulator.testing import RunningEmulator


def action_names(emulator: RunningEmulator) -> list[str]:
    """Every action the emulator was asked for, in order: what an operation costs in calls."""
    return [entry["action"] for entry in emulator.requests()]


def actions_and_codes(emulator: RunningEmulator) -> list[tuple[str, str]]:
    """Every action the emulator was asked for, in order, with the code it answered
    (``Success``, an error code, or how a fault answered): how a failure was retried or
    reconciled."""
    return [(entry["action"], entry["code"]) for entry in emulator.requests()]
