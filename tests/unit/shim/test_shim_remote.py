"""Brokered connections: never on the event loop, one reconnect, refused after cleanup."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from typing import Any

import pytest

from tencentcloud_secrets_shim import logical
from tencentcloud_secrets_shim._proto.vault import backend_pb2 as pb
from tencentcloud_secrets_shim.grpc_server import GrpcServer, Method, service
from tencentcloud_secrets_shim.remote import BrokerTarget, MountConnections, RemoteStorage


def test_a_call_on_the_event_loops_thread_would_block_and_never_waits() -> None:
    storage = RemoteStorage(MountConnections(BrokerTarget("/nonexistent/socket", None)))

    async def inline_handler() -> None:
        with pytest.raises(logical.WouldBlock):
            storage.get("config")

    asyncio.run(inline_handler())
    # Off the loop the same call goes out (and fails here only because nobody listens).
    with pytest.raises(logical.StorageError, match="FileNotFoundError"):
        storage.get("config")


class _Storage:
    """Vault's storage service as far as these tests need it: one key."""

    async def Get(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(pb.StorageGetReply(entry=pb.StorageEntry(key="k", value=b"v")))

    async def List(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(pb.StorageListReply(keys=["k"]))

    async def Put(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(pb.StoragePutReply())

    async def Delete(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(pb.StorageDeleteReply())


def _storage_service() -> dict[bytes, Method]:
    return service(pb.DESCRIPTOR.services_by_name["Storage"], _Storage())


def _serve_storage(path: str) -> None:
    async def serve() -> None:
        server = GrpcServer([_storage_service()])
        await server.start(path=path, ssl=None)
        await server.wait_closed()

    asyncio.run(serve())


class _StorageServer:
    """A gRPC storage service on a Unix socket, in a process of its own: killing it closes
    its connections the way a restarted Vault, or one that gave up on a ping, does."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve_storage, args=(path,), daemon=True
        )
        self.process.start()
        deadline = time.monotonic() + 10
        while not os.path.exists(path):
            assert time.monotonic() < deadline, "the storage server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)
        os.unlink(self.path)


def test_a_connection_vault_closed_is_replaced_once_and_the_call_succeeds(tmp_path: Any) -> None:
    socket_path = str(tmp_path / "broker.sock")
    server = _StorageServer(socket_path)
    storage = RemoteStorage(MountConnections(BrokerTarget(socket_path, None)))
    assert storage.get("k") == logical.StorageEntry("k", b"v")
    # Vault closes the idle connection (keepalive unanswered, or a restart): this thread's
    # loop is not running, so the client has not seen it go.
    server.stop()
    server = _StorageServer(socket_path)
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
            server = GrpcServer([_storage_service()])
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
