"""Vault's Storage and SystemView for one mount, reached over the brokered connection.

Engine code is synchronous. Handing each storage call to the server's event loop would
cost two thread switches per call, which is most of the difference to a Go plugin on a
storage-only request. So every worker thread has an event loop of its own, and every mount
one brokered connection per thread: the call runs right where the engine made it.

The server's own thread never waits for Vault: a call made there (an inline request that
missed the engine's cache) raises ``logical.WouldBlock`` at once, and the shim runs the
request again on a worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.const import Status
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

from . import logical
from ._proto.vault import backend_grpc
from ._proto.vault import backend_pb2 as pb

T = TypeVar("T")
CALL_TIMEOUT = 60.0
_BROKEN = (OSError, GRPCError, ProtocolError, StreamTerminatedError)


@dataclasses.dataclass(frozen=True)
class BrokerTarget:
    """Where Vault serves a mount's Storage and SystemView, and how to reach it."""

    path: str
    ssl: ssl.SSLContext | None


class _ThreadLoop:
    """The event loop of one calling thread; ``lock`` is held while it runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.lock = threading.RLock()


_local = threading.local()


def _thread_loop() -> _ThreadLoop:
    state: _ThreadLoop | None = getattr(_local, "loop", None)
    if state is None:
        state = _local.loop = _ThreadLoop()
    return state


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
        self._channels: dict[_ThreadLoop, Channel] = {}
        self._lock = threading.Lock()
        self._closed = False

    def call(self, make: Callable[[Channel], Awaitable[T]]) -> T:
        if _loop_running():
            raise logical.WouldBlock()
        state = _thread_loop()
        with state.lock:
            if self._closed:
                raise logical.StorageError("the mount was cleaned up")
            return state.loop.run_until_complete(self._call(state, make))

    async def _call(self, state: _ThreadLoop, make: Callable[[Channel], Awaitable[T]]) -> T:
        for attempt in (1, 2):
            try:
                return await asyncio.wait_for(make(self._channel(state)), CALL_TIMEOUT)
            except TimeoutError:  # an OSError too, but Vault is there and slow: no retry
                raise logical.StorageError("Vault did not answer in time") from None
            except _BROKEN as exc:
                self._drop(state)
                # Vault closes a connection that sat idle past its keepalive (this thread's
                # loop does not run between calls, so pings go unanswered), and a restarted
                # Vault leaves a dead socket: one fresh connection, then the call again.
                # Every Storage and SystemView call is idempotent, so repeating is safe.
                refused = isinstance(exc, GRPCError) and exc.status is not Status.UNAVAILABLE
                if attempt == 2 or refused:
                    # The documented failure of a storage call, whatever broke underneath:
                    # engines catch one type.
                    raise logical.StorageError(
                        f"storage call to Vault failed ({type(exc).__name__})"
                    ) from None
        raise AssertionError("unreachable")

    def _channel(self, state: _ThreadLoop) -> Channel:
        channel = self._channels.get(state)
        if channel is None:
            if self._closed:
                raise logical.StorageError("the mount was cleaned up")
            config = Configuration(ssl_target_name_override="localhost")
            channel = Channel(path=self._target.path, ssl=self._target.ssl, config=config)
            with self._lock:
                self._channels[state] = channel
        return channel

    def _drop(self, state: _ThreadLoop) -> None:
        with self._lock:
            channel = self._channels.pop(state, None)
        if channel is not None:
            channel.close()

    def close(self) -> None:
        """Close every thread's connection; each loop is run briefly to let it go."""
        with self._lock:
            self._closed = True
            channels, self._channels = self._channels, {}
        for state, channel in channels.items():
            with state.lock:
                channel.close()
                state.loop.run_until_complete(asyncio.sleep(0))


class RemoteStorage:
    """logical.Storage backed by Vault's pb.Storage service; errors become StorageError."""

    def __init__(self, connections: MountConnections) -> None:
        self._connections = connections

    def list(self, prefix: str) -> list[str]:
        args = pb.StorageListArgs(prefix=prefix)
        reply = self._connections.call(lambda ch: backend_grpc.StorageStub(ch).List(args))
        if reply.err:
            raise logical.StorageError(reply.err)
        return list(reply.keys)

    def get(self, key: str) -> logical.StorageEntry | None:
        args = pb.StorageGetArgs(key=key)
        reply = self._connections.call(lambda ch: backend_grpc.StorageStub(ch).Get(args))
        if reply.err:
            raise logical.StorageError(reply.err)
        if not reply.HasField("entry"):
            return None
        return logical.StorageEntry(reply.entry.key, reply.entry.value, reply.entry.seal_wrap)

    def put(self, entry: logical.StorageEntry) -> None:
        msg = pb.StorageEntry(key=entry.key, value=entry.value, seal_wrap=entry.seal_wrap)
        args = pb.StoragePutArgs(entry=msg)
        reply = self._connections.call(lambda ch: backend_grpc.StorageStub(ch).Put(args))
        if reply.err:
            raise logical.StorageError(reply.err)

    def delete(self, key: str) -> None:
        args = pb.StorageDeleteArgs(key=key)
        reply = self._connections.call(lambda ch: backend_grpc.StorageStub(ch).Delete(args))
        if reply.err:
            raise logical.StorageError(reply.err)


class RemoteSystemView:
    """logical.SystemView backed by Vault's pb.SystemView service."""

    def __init__(self, connections: MountConnections) -> None:
        self._connections = connections

    def _stub(self, channel: Channel) -> backend_grpc.SystemViewStub:
        return backend_grpc.SystemViewStub(channel)

    def default_lease_ttl(self) -> float:
        reply = self._connections.call(lambda ch: self._stub(ch).DefaultLeaseTTL(pb.Empty()))
        return reply.TTL / 1e9

    def max_lease_ttl(self) -> float:
        reply = self._connections.call(lambda ch: self._stub(ch).MaxLeaseTTL(pb.Empty()))
        return reply.TTL / 1e9

    def tainted(self) -> bool:
        return self._connections.call(lambda ch: self._stub(ch).Tainted(pb.Empty())).tainted

    def local_mount(self) -> bool:
        return self._connections.call(lambda ch: self._stub(ch).LocalMount(pb.Empty())).local

    def replication_state(self) -> int:
        reply = self._connections.call(lambda ch: self._stub(ch).ReplicationState(pb.Empty()))
        return reply.state

    def plugin_env(self) -> logical.PluginEnvironment:
        reply = self._connections.call(lambda ch: self._stub(ch).PluginEnv(pb.Empty()))
        if reply.err:
            raise logical.StorageError(reply.err)
        env = reply.plugin_environment
        return logical.PluginEnvironment(
            env.vault_version, env.vault_version_prerelease, env.vault_version_metadata
        )
