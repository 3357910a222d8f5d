"""Vault's Storage and SystemView for one mount, reached over the brokered connection.

Engine code is synchronous and runs on worker threads: each thread calls Vault over a
connection of its own with a blocking client (``grpc_client``), so a storage call runs
right where the engine made it, with no thread switch and no event loop.

The server's own thread never waits for Vault: a call made there (an inline request that
missed the engine's cache) raises ``logical.WouldBlock`` at once, and the shim runs the
request again on a worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import threading
from typing import TypeVar

from google.protobuf.message import Message

from . import logical, rpc
from ._proto.vault import backend_pb2 as pb
from .grpc_client import BrokenConnectionError, UnaryClient

M = TypeVar("M", bound=Message)
CALL_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class BrokerTarget:
    """Where Vault serves a mount's Storage and SystemView, and how to reach it."""

    path: str
    ssl: ssl.SSLContext | None


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class MountConnections:
    """One mount's brokered connections, one per calling thread, closed together."""

    def __init__(self, target: BrokerTarget) -> None:
        self._target = target
        self._clients: dict[int, UnaryClient] = {}
        self._lock = threading.Lock()
        self._closed = False

    def call(self, method: str, request: Message, reply_type: type[M]) -> M:
        if _loop_running():
            raise logical.WouldBlock()
        client = self._client()
        for attempt in (1, 2):
            try:
                return client.call(method, request, reply_type, CALL_TIMEOUT)
            except TimeoutError:  # an OSError too, but Vault is there and slow: no retry
                raise logical.StorageError("Vault did not answer in time") from None
            except (OSError, BrokenConnectionError, rpc.RpcError) as exc:
                # Vault closes a connection that sat idle past its keepalive (nobody reads
                # it between calls, so pings go unanswered), and a restarted Vault leaves a
                # dead socket: one fresh connection, then the call again. Every Storage and
                # SystemView call is idempotent, so repeating is safe.
                refused = isinstance(exc, rpc.RpcError) and exc.status is not rpc.Status.UNAVAILABLE
                if attempt == 2 or refused or self._closed:
                    # The documented failure of a storage call, whatever broke underneath:
                    # engines catch one type.
                    reason = "the mount was cleaned up" if self._closed else type(exc).__name__
                    raise logical.StorageError(f"storage call to Vault failed ({reason})") from None
        raise AssertionError("unreachable")

    def _client(self) -> UnaryClient:
        thread = threading.get_ident()
        client = self._clients.get(thread)
        if client is None:
            with self._lock:
                if self._closed:
                    raise logical.StorageError("the mount was cleaned up")
                client = self._clients[thread] = UnaryClient(self._target.path, self._target.ssl)
        return client

    def close(self) -> None:
        """Close every thread's connection; a call in progress on one fails at once."""
        with self._lock:
            self._closed = True
            clients, self._clients = self._clients, {}
        for client in clients.values():
            client.close()


class RemoteStorage:
    """logical.Storage backed by Vault's pb.Storage service; errors become StorageError."""

    def __init__(self, connections: MountConnections) -> None:
        self._connections = connections

    def list(self, prefix: str) -> list[str]:
        args = pb.StorageListArgs(prefix=prefix)
        reply = self._connections.call("/pb.Storage/List", args, pb.StorageListReply)
        if reply.err:
            raise logical.StorageError(reply.err)
        return list(reply.keys)

    def get(self, key: str) -> logical.StorageEntry | None:
        args = pb.StorageGetArgs(key=key)
        reply = self._connections.call("/pb.Storage/Get", args, pb.StorageGetReply)
        if reply.err:
            raise logical.StorageError(reply.err)
        if not reply.HasField("entry"):
            return None
        return logical.StorageEntry(reply.entry.key, reply.entry.value, reply.entry.seal_wrap)

    def put(self, entry: logical.StorageEntry) -> None:
        msg = pb.StorageEntry(key=entry.key, value=entry.value, seal_wrap=entry.seal_wrap)
        args = pb.StoragePutArgs(entry=msg)
        reply = self._connections.call("/pb.Storage/Put", args, pb.StoragePutReply)
        if reply.err:
            raise logical.StorageError(reply.err)

    def delete(self, key: str) -> None:
        args = pb.StorageDeleteArgs(key=key)
        reply = self._connections.call("/pb.Storage/Delete", args, pb.StorageDeleteReply)
        if reply.err:
            raise logical.StorageError(reply.err)


class RemoteSystemView:
    """logical.SystemView backed by Vault's pb.SystemView service."""

    def __init__(self, connections: MountConnections) -> None:
        self._connections = connections

    def _call(self, method: str, reply_type: type[M]) -> M:
        return self._connections.call(f"/pb.SystemView/{method}", pb.Empty(), reply_type)

    def default_lease_ttl(self) -> float:
        reply = self._call("DefaultLeaseTTL", pb.TTLReply)
        return reply.TTL / 1e9

    def max_lease_ttl(self) -> float:
        reply = self._call("MaxLeaseTTL", pb.TTLReply)
        return reply.TTL / 1e9

    def tainted(self) -> bool:
        return self._call("Tainted", pb.TaintedReply).tainted

    def local_mount(self) -> bool:
        return self._call("LocalMount", pb.LocalMountReply).local

    def replication_state(self) -> int:
        reply = self._call("ReplicationState", pb.ReplicationStateReply)
        return reply.state

    def plugin_env(self) -> logical.PluginEnvironment:
        reply = self._call("PluginEnv", pb.PluginEnvReply)
        if reply.err:
            raise logical.StorageError(reply.err)
        env = reply.plugin_environment
        return logical.PluginEnvironment(
            env.vault_version, env.vault_version_prerelease, env.vault_version_metadata
        )
