"""Vault's Storage and SystemView for one mount, reached over the brokered connection.

Engine code is synchronous and runs on worker threads: each thread calls Vault over a
connection of its own with a blocking client (``grpc_client``), so a storage call runs
right where the engine made it, with no thread switch and no event loop.

The server's own thread never waits for Vault: a call made there (an inline request that
missed the engine's cache) raises ``logical.WouldBlock`` at once. When the call only reads,
the exception carries it (``PendingRead``): the shim fetches it on the loop over a
multiplexed connection of its own (``grpc_async_client``) and runs the request again, which
then finds the answer (``FETCHED``). Anything else runs again on a worker.

An answer fetched that way is used only if this mount changed nothing in Vault meanwhile
(no write of its own and no invalidation from Vault started since the fetch began, none in
flight when it began): the engine may cache what it reads, and must never cache a value a
concurrent write already replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import ssl
import threading
from typing import Any, TypeVar

from google.protobuf.message import Message

from . import logical, rpc
from ._proto.vault import backend_pb2 as pb
from .grpc_async_client import AsyncUnaryClient
from .grpc_client import BrokenConnectionError, UnaryClient

M = TypeVar("M", bound=Message)
CALL_TIMEOUT = 60.0
# Calls that change nothing in Vault: an inline request may have them fetched on the loop.
READS = frozenset(
    {
        "/pb.Storage/Get",
        "/pb.Storage/List",
        "/pb.SystemView/DefaultLeaseTTL",
        "/pb.SystemView/MaxLeaseTTL",
        "/pb.SystemView/Tainted",
        "/pb.SystemView/LocalMount",
        "/pb.SystemView/ReplicationState",
        "/pb.SystemView/PluginEnv",
    }
)


@dataclasses.dataclass(frozen=True)
class PendingRead:
    """A read an inline request needed, as ``WouldBlock.pending`` carries it."""

    method: str
    request: Message
    reply_type: type[Message]

    @property
    def key(self) -> tuple[str, bytes]:
        return self.method, self.request.SerializeToString(deterministic=True)


@dataclasses.dataclass
class FetchedRead:
    """A read's answer, how many changes the mount had started when it was fetched, and
    whether the request has used it (what it read is fetched up front next time)."""

    reply: Message
    changes: int
    pending: PendingRead | None = None
    used: bool = False


# The answers fetched so far for the inline request running in this task.
FETCHED: contextvars.ContextVar[dict[tuple[str, bytes], FetchedRead] | None] = (
    contextvars.ContextVar("FETCHED", default=None)
)


@dataclasses.dataclass(frozen=True)
class BrokerTarget:
    """Where Vault serves a mount's Storage and SystemView, and how to reach it."""

    path: str
    ssl: ssl.SSLContext | None


class MountConnections:
    """One mount's brokered connections, one per calling thread, closed together."""

    def __init__(self, target: BrokerTarget) -> None:
        self._target = target
        self._clients: dict[int, UnaryClient] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._loop_client: AsyncUnaryClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Changes to this mount's data in Vault: its own writes and Vault's invalidations.
        self._changes_started = 0
        self._changes_done = 0
        self._changes_lock = threading.Lock()

    def call(self, method: str, request: Message, reply_type: type[M]) -> M:
        if logical.on_event_loop():
            return self._on_loop(method, request, reply_type)
        if method in READS:
            return self._call(method, request, reply_type)
        self.change_started()
        try:
            return self._call(method, request, reply_type)
        finally:
            self.change_done()

    # --- on the server's loop ----------------------------------------------------------------

    def _on_loop(self, method: str, request: Message, reply_type: type[M]) -> M:
        if method not in READS:
            raise logical.WouldBlock()
        pending = PendingRead(method, request, reply_type)
        fetched = FETCHED.get()
        found = None if fetched is None else fetched.get(pending.key)
        if found is not None and found.changes == self._changes_started:
            found.used = True
            reply: Any = found.reply
            return reply  # type: ignore[no-any-return]
        raise logical.WouldBlock(pending)

    async def fetch(self, pending: PendingRead) -> FetchedRead | None:
        """Fetch ``pending`` without blocking the loop; None when it cannot be used (a change
        is in flight, the mount is closed, or the call failed: a worker then does the request
        and reports any failure)."""
        with self._changes_lock:
            if self._changes_started != self._changes_done:
                return None
            changes = self._changes_started
        for attempt in (1, 2):
            if self._closed:
                return None
            client = self._loop_client
            if client is None:
                client = self._loop_client = AsyncUnaryClient(self._target.path, self._target.ssl)
                self._loop = asyncio.get_running_loop()
            try:
                reply = await client.call(
                    pending.method, pending.request, pending.reply_type, CALL_TIMEOUT
                )
            except (OSError, BrokenConnectionError, rpc.RpcError) as exc:
                unavailable = not isinstance(exc, rpc.RpcError) or (
                    exc.status is rpc.Status.UNAVAILABLE
                )
                if attempt == 2 or not unavailable or isinstance(exc, TimeoutError):
                    return None
                continue
            return FetchedRead(reply, changes, pending)
        return None

    def change_started(self) -> None:
        """A change to this mount's data begins (a write, or an invalidation from Vault)."""
        with self._changes_lock:
            self._changes_started += 1

    def change_done(self) -> None:
        with self._changes_lock:
            self._changes_done += 1

    # --- on worker threads ---------------------------------------------------------------------

    def _call(self, method: str, request: Message, reply_type: type[M]) -> M:
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
        """Close every thread's connection, and the loop's; a call in progress on one fails at
        once. May be called from any thread."""
        with self._lock:
            self._closed = True
            clients, self._clients = self._clients, {}
        for client in clients.values():
            client.close()
        loop_client, self._loop_client = self._loop_client, None
        if loop_client is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended: nothing to close
                self._loop.call_soon_threadsafe(loop_client.close)


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
