"""What the emulator's first seeded account holds, read the way tests compare it: names sorted,
so that an assertion says which objects exist, not in which order they were made.

Imports nothing of the plugin, so that the emulator's own tests can use it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tencentcloud_emulator.testing import RunningEmulator

ENGINE_MARK = "Vault "
"""Every Remark or Description the engine writes on what it creates starts with this."""


def account(emulator: RunningEmulator) -> dict[str, Any]:
    """The first seeded account's state: Users, Groups, Policies, AccessKeys and the rest."""
    state: dict[str, Any] = emulator.state["accounts"][0]
    return state


def user_names(emulator: RunningEmulator) -> list[str]:
    return sorted(u["Name"] for u in account(emulator)["Users"])


def group_names(emulator: RunningEmulator) -> list[str]:
    return sorted(g["GroupName"] for g in account(emulator)["Groups"])


def custom_policy_names(emulator: RunningEmulator) -> list[str]:
    return sorted(p["PolicyName"] for p in account(emulator)["Policies"])


def access_key_ids(emulator: RunningEmulator, uin: int) -> list[str]:
    """The ids of every access key of ``uin``, whatever its status."""
    return sorted(k["AccessKeyId"] for k in account(emulator)["AccessKeys"] if k["Uin"] == uin)


def marked(state: Mapping[str, Any]) -> dict[str, list[str]]:
    """Everything in an account's state that carries the engine's marker, by kind."""
    return {
        "users": sorted(u["Name"] for u in state["Users"] if u["Remark"].startswith(ENGINE_MARK)),
        "groups": sorted(
            g["GroupName"] for g in state["Groups"] if g["Remark"].startswith(ENGINE_MARK)
        ),
        "policies": sorted(
            p["PolicyName"] for p in state["Policies"] if p["Description"].startswith(ENGINE_MARK)
        ),
        "keys": sorted(
            k["AccessKeyId"]
            for k in state["AccessKeys"]
            if k["Description"].startswith(ENGINE_MARK)
        ),
    }
