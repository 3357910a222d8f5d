"""Per-thread brokered connections: usable from a running loop, refused after cleanup."""

from __future__ import annotations

import asyncio

import pytest

from tencentcloud_secrets_shim import logical
from tencentcloud_secrets_shim.remote import BrokerTarget, MountConnections, RemoteStorage


def test_a_call_from_a_running_loop_uses_the_threads_own_loop() -> None:
    storage = RemoteStorage(MountConnections(BrokerTarget("/nonexistent/socket", None)))

    async def inline_handler() -> bool:
        server_loop = asyncio.get_running_loop()
        # The call gets as far as dialling the socket: no "loop already running" error.
        with pytest.raises(logical.StorageError, match="FileNotFoundError"):
            storage.get("config")
        return asyncio.get_running_loop() is server_loop

    assert asyncio.run(inline_handler())  # the server's loop is running again afterwards


def test_calls_after_cleanup_fail_cleanly() -> None:
    connections = MountConnections(BrokerTarget("/nonexistent/socket", None))
    connections.close()
    with pytest.raises(logical.StorageError, match="cleaned up"):
        RemoteStorage(connections).get("config")


def test_unreachable_broker_is_a_storage_error_not_a_hang() -> None:
    storage = RemoteStorage(MountConnections(BrokerTarget("/nonexistent/socket", None)))
    with pytest.raises(logical.StorageError, match="storage call to Vault failed"):
        storage.list("roles/")
