"""Brokered connections: never on the event loop, one reconnect, refused after cleanup."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest

from tencentcloud_secrets_shim import logical
from tencentcloud_secrets_shim.grpc_server import GrpcServer
from tencentcloud_secrets_shim.remote import (
    FETCHED,
    BrokerTarget,
    MountConnections,
    PendingRead,
    RemoteStorage,
)
from tests.support.storage_server import StorageServer, storage_service


def test_a_call_on_the_event_loops_thread_would_block_and_never_waits() -> None:
    storage = RemoteStorage(MountConnections(BrokerTarget("/nonexistent/socket", None)))

    async def inline_handler() -> None:
        with pytest.raises(logical.WouldBlock):
            storage.get("config")

    asyncio.run(inline_handler())
    # Off the loop the same call goes out (and fails here only because nobody listens).
    with pytest.raises(logical.StorageError, match="FileNotFoundError"):
        storage.get("config")


def test_a_connection_vault_closed_is_replaced_once_and_the_call_succeeds(tmp_path: Any) -> None:
    socket_path = str(tmp_path / "broker.sock")
    server = StorageServer(socket_path)
    storage = RemoteStorage(MountConnections(BrokerTarget(socket_path, None)))
    assert storage.get("k") == logical.StorageEntry("k", b"v")
    # Vault closes the idle connection (keepalive unanswered, or a restart): this thread's
    # loop is not running, so the client has not seen it go.
    server.stop()
    server = StorageServer(socket_path)
    try:
        assert storage.get("k") == logical.StorageEntry("k", b"v")
        assert storage.list("") == ["k"]
    finally:
        server.stop()
    # With nobody listening any more, the one retry fails too, as a StorageError.
    with pytest.raises(logical.StorageError, match="storage call to Vault failed"):
        storage.get("k")


def test_calls_after_cleanup_fail_cleanly() -> None:
    connections = MountConnections(BrokerTarget("/nonexistent/socket", None))
    connections.close()
    with pytest.raises(logical.StorageError, match="cleaned up"):
        RemoteStorage(connections).get("config")


def test_unreachable_broker_is_a_storage_error_not_a_hang() -> None:
    storage = RemoteStorage(MountConnections(BrokerTarget("/nonexistent/socket", None)))
    with pytest.raises(logical.StorageError, match="storage call to Vault failed"):
        storage.list("roles/")


def test_a_connection_vault_ends_with_goaway_while_idle_is_replaced(tmp_path: Any) -> None:
    """What Vault's gRPC server does to a connection whose keepalive pings went unanswered
    (nobody reads a worker's connection between calls): GOAWAY, then close. The next call
    from that thread finds the GOAWAY, which names a last stream before its own, and is
    repeated once on a fresh connection."""
    socket_path = str(tmp_path / "broker.sock")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def start() -> GrpcServer:
        async def go() -> GrpcServer:
            server = GrpcServer([storage_service()])
            await server.start(path=socket_path, ssl=None)
            return server

        return asyncio.run_coroutine_threadsafe(go(), loop).result(5)

    def stop(server: GrpcServer) -> None:
        async def go() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(go(), loop).result(5)

    server = start()
    storage = RemoteStorage(MountConnections(BrokerTarget(socket_path, None)))
    try:
        assert storage.get("k") == logical.StorageEntry("k", b"v")
        stop(server)  # GOAWAY and close, while this thread's loop is not running
        os.unlink(socket_path)
        server = start()
        assert storage.get("k") == logical.StorageEntry("k", b"v")
        assert len(server.connections) == 1
    finally:
        stop(server)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_an_inline_read_is_fetched_on_the_loop_and_used_only_while_nothing_changed(
    tmp_path: Any,
) -> None:
    """The loop's side of an inline read: the call it could not make is carried by
    WouldBlock, fetched without blocking, and answered on the next run; a change to the
    mount's data after the fetch began (a write, an invalidation) makes the answer unusable,
    and a fetch while a change is in flight declines."""
    socket_path = str(tmp_path / "broker.sock")
    server = StorageServer(socket_path)
    connections = MountConnections(BrokerTarget(socket_path, None))
    storage = RemoteStorage(connections)

    async def on_the_loop() -> None:
        with pytest.raises(logical.WouldBlock) as info:
            storage.get("k")
        pending = info.value.pending
        assert isinstance(pending, PendingRead)
        fetched = await connections.fetch(pending)
        assert fetched is not None
        token = FETCHED.set({pending.key: fetched})
        try:
            assert storage.get("k") == logical.StorageEntry("k", b"v")
            with pytest.raises(logical.WouldBlock):  # another key was not fetched
                storage.get("other")
            # A write from a worker thread since the fetch: the answer may be stale.
            await asyncio.get_running_loop().run_in_executor(
                None, storage.put, logical.StorageEntry("k", b"w")
            )
            with pytest.raises(logical.WouldBlock) as again:
                storage.get("k")
            assert isinstance(again.value.pending, PendingRead)
        finally:
            FETCHED.reset(token)
        # Writes are never fetched on the loop.
        with pytest.raises(logical.WouldBlock) as write:
            storage.put(logical.StorageEntry("k", b"x"))
        assert write.value.pending is None
        connections.change_started()  # an invalidation in flight
        assert await connections.fetch(pending) is None
        connections.change_done()
        assert await connections.fetch(pending) is not None

    try:
        asyncio.run(on_the_loop())
    finally:
        connections.close()
        server.stop()
