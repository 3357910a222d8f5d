"""Vault's Storage and SystemView for one mount, reached over the brokered connection.

Engine code is synchronous and runs in worker threads; these objects hop onto the event
loop for each call and block the calling thread until Vault answers. Calling them on the
loop's own thread would deadlock, so that raises instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from grpclib.client import Channel

from . import logical
from ._proto.vault import backend_grpc
from ._proto.vault import backend_pb2 as pb

T = TypeVar("T")
CALL_TIMEOUT = 60.0


class _LoopBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            coro.close()
            raise RuntimeError("storage and system view are synchronous: call them off the loop")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(CALL_TIMEOUT)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise logical.StorageError("Vault did not answer in time") from exc


class RemoteStorage(_LoopBridge):
    """logical.Storage backed by Vault's pb.Storage service; errors become StorageError."""

    def __init__(self, channel: Channel, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._stub = backend_grpc.StorageStub(channel)

    def list(self, prefix: str) -> list[str]:
        reply = self._run(self._stub.List(pb.StorageListArgs(prefix=prefix)))
        if reply.err:
            raise logical.StorageError(reply.err)
        return list(reply.keys)

    def get(self, key: str) -> logical.StorageEntry | None:
        reply = self._run(self._stub.Get(pb.StorageGetArgs(key=key)))
        if reply.err:
            raise logical.StorageError(reply.err)
        if not reply.HasField("entry"):
            return None
        return logical.StorageEntry(reply.entry.key, reply.entry.value, reply.entry.seal_wrap)

    def put(self, entry: logical.StorageEntry) -> None:
        msg = pb.StorageEntry(key=entry.key, value=entry.value, seal_wrap=entry.seal_wrap)
        reply = self._run(self._stub.Put(pb.StoragePutArgs(entry=msg)))
        if reply.err:
            raise logical.StorageError(reply.err)

    def delete(self, key: str) -> None:
        reply = self._run(self._stub.Delete(pb.StorageDeleteArgs(key=key)))
        if reply.err:
            raise logical.StorageError(reply.err)


class RemoteSystemView(_LoopBridge):
    """logical.SystemView backed by Vault's pb.SystemView service."""

    def __init__(self, channel: Channel, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._stub = backend_grpc.SystemViewStub(channel)

    def default_lease_ttl(self) -> float:
        return self._run(self._stub.DefaultLeaseTTL(pb.Empty())).TTL / 1e9

    def max_lease_ttl(self) -> float:
        return self._run(self._stub.MaxLeaseTTL(pb.Empty())).TTL / 1e9

    def tainted(self) -> bool:
        return self._run(self._stub.Tainted(pb.Empty())).tainted

    def local_mount(self) -> bool:
        return self._run(self._stub.LocalMount(pb.Empty())).local

    def replication_state(self) -> int:
        return self._run(self._stub.ReplicationState(pb.Empty())).state

    def plugin_env(self) -> logical.PluginEnvironment:
        reply = self._run(self._stub.PluginEnv(pb.Empty()))
        if reply.err:
            raise logical.StorageError(reply.err)
        env = reply.plugin_environment
        return logical.PluginEnvironment(
            env.vault_version, env.vault_version_prerelease, env.vault_version_metadata
        )
