"""Per-thread brokered connections: refused on a running loop, refused after cleanup."""

from __future__ import annotations

import asyncio

import pytest

from tencentcloud_secrets_shim import logical
from tencentcloud_secrets_shim.remote import BrokerTarget, MountConnections, RemoteStorage


def test_synchronous_storage_refuses_to_block_a_running_loop() -> None:
    storage = RemoteStorage(MountConnections(BrokerTarget("/nonexistent/socket", None)))

    async def on_the_loop() -> None:
        storage.get("config")

    with pytest.raises(RuntimeError, match="off the loop"):
        asyncio.run(on_the_loop())


def test_calls_after_cleanup_fail_cleanly() -> None:
    connections = MountConnections(BrokerTarget("/nonexistent/socket", None))
    connections.close()
    with pytest.raises(logical.StorageError, match="cleaned up"):
        RemoteStorage(connections).get("config")


def test_unreachable_broker_is_an_error_not_a_hang() -> None:
    storage = RemoteStorage(MountConnections(BrokerTarget("/nonexistent/socket", None)))
    with pytest.raises(FileNotFoundError):
        storage.list("roles/")
