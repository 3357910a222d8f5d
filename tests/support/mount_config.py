"""A mount's config aimed at an emulator: the settings, and writing them through Vault.

The engine's in-process tests and the tests through a real Vault write the same settings;
only how they reach the engine differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tencentcloud_emulator.testing import RunningEmulator

if TYPE_CHECKING:
    from tools.vaultserver import VaultServer


def emulator_settings(
    emulator: RunningEmulator,
    *,
    secret_id: str | None = None,
    secret_key: str | None = None,
    endpoint: str | None = None,
) -> dict[str, str]:
    """Both endpoints at ``endpoint`` (the emulator's by default), and a key pair (the first
    account's root key by default)."""
    endpoint = emulator.endpoint if endpoint is None else endpoint
    return {
        "secret_id": emulator.secret_id if secret_id is None else secret_id,
        "secret_key": emulator.secret_key if secret_key is None else secret_key,
        "cam_endpoint": endpoint,
        "sts_endpoint": endpoint,
    }


def write_config(
    server: VaultServer,
    mount: str,
    emulator: RunningEmulator,
    *extra: str,
    secret_id: str | None = None,
    secret_key: str | None = None,
    endpoint: str | None = None,
) -> None:
    """``vault write MOUNT/config`` with ``emulator_settings`` and then ``extra`` (``key=value``
    arguments), through ``server``'s CLI, which fails the test if Vault refuses it."""
    settings = emulator_settings(
        emulator, secret_id=secret_id, secret_key=secret_key, endpoint=endpoint
    )
    server.cli("write", f"{mount}/config", *(f"{k}={v}" for k, v in settings.items()), *extra)
