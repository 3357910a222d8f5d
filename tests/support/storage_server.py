"""A stand-in for the Storage service Vault serves a mount over the broker: the shim's own
gRPC server in a process of its own, holding one key, so killing it closes its connections
the way a restarted Vault does. For tests of the shim's clients of that service."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from typing import Any

from tencentcloud_secrets_shim._proto.vault import backend_pb2 as pb
from tencentcloud_secrets_shim.grpc_server import GrpcServer, Method, service


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


def storage_service() -> dict[bytes, Method]:
    return service(pb.DESCRIPTOR.services_by_name["Storage"], _Storage())


def _serve_storage(path: str) -> None:
    async def serve() -> None:
        server = GrpcServer([storage_service()])
        await server.start(path=path, ssl=None)
        await server.wait_closed()

    asyncio.run(serve())


class StorageServer:
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
