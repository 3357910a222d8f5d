"""Vault's Backend, PluginVersion and PluginMultiplexing services, one process for all mounts.

Every Backend call carries gRPC metadata ``multiplex_id``; each id gets its own engine
instance, brokered connection, storage and system view. Engine calls run in the mount's own
bounded thread pool, so a slow cloud call never blocks the event loop or another mount.
Operations the engine declares inline are first tried on the event loop, and moved to the
pool the moment they would wait for Vault (``logical.WouldBlock``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from . import logical, remote, translate
from ._proto.vault import backend_pb2 as pb
from ._proto.vault import multiplexing_pb2 as mpb
from ._proto.vault.logical import version_pb2 as vpb
from .goplugin import Broker
from .grpc_server import ServerStream
from .remote import MountConnections, RemoteStorage, RemoteSystemView
from .rpc import RpcError, Status

log = logging.getLogger(__name__)
T = TypeVar("T")
BackendFactory = Callable[[], logical.Backend]
METADATA_MODE_ERROR = "plugin server can not perform action while in metadata mode"


class _MetadataModeStorage:
    """Storage while Vault runs us in metadata mode: there is no broker to reach."""

    def list(self, prefix: str) -> list[str]:
        raise logical.StorageError(METADATA_MODE_ERROR)

    def get(self, key: str) -> logical.StorageEntry | None:
        raise logical.StorageError(METADATA_MODE_ERROR)

    def put(self, entry: logical.StorageEntry) -> None:
        raise logical.StorageError(METADATA_MODE_ERROR)

    def delete(self, key: str) -> None:
        raise logical.StorageError(METADATA_MODE_ERROR)


# Worker threads of one mount, made as requests need them. Each mount has its own pool, so a
# mount whose cloud calls hang (up to the retry budget) uses up its own threads and never
# another mount's. A credential's worker mostly waits on the network (an STS call is one
# round trip), so the pool must hold as many requests as clients send at once: with 32
# workers, 64 clients waited in line for half of their time.
MOUNT_WORKERS = 128
# Reads an inline request may have fetched on the loop before it goes to a worker instead.
MAX_INLINE_READS = 4
# Requests (operation and path) whose reads a mount remembers, to fetch them up front the
# next time; the oldest is forgotten first.
MAX_REMEMBERED_READS = 1024

ReadsKey = tuple[str, str]


@dataclasses.dataclass
class Mount:
    backend: logical.Backend
    storage: logical.Storage
    connections: MountConnections | None
    executor: concurrent.futures.ThreadPoolExecutor
    # What the last inline run of each (operation, path) read from Vault and used.
    reads: dict[ReadsKey, tuple[remote.PendingRead, ...]] = dataclasses.field(default_factory=dict)


def multiplex_id(stream: ServerStream[Any]) -> str:
    ids = stream.metadata.get("multiplex_id", [])
    if len(ids) != 1 or not ids[0]:
        raise RpcError(Status.INVALID_ARGUMENT, "missing or ambiguous multiplex_id metadata")
    return str(ids[0])


class BackendService:
    def __init__(
        self,
        factory: BackendFactory,
        broker: Broker,
        executor: concurrent.futures.ThreadPoolExecutor,
        *,
        metadata_mode: bool = False,
    ) -> None:
        self._factory = factory
        self._broker = broker
        self._executor = executor
        self._metadata_mode = metadata_mode
        self.mounts: dict[str, Mount] = {}

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run on the shared control pool: setup and cleanup, short and mount-independent."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    @staticmethod
    async def _in_mount(mount: Mount, fn: Callable[..., T], *args: Any) -> T:
        """Run on the mount's own pool: requests and everything else engine code does."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(mount.executor, functools.partial(fn, *args))

    def _mount(self, stream: ServerStream[Any]) -> Mount:
        mid = multiplex_id(stream)
        mount = self.mounts.get(mid)
        if mount is None:
            raise RpcError(Status.FAILED_PRECONDITION, f"no backend set up for multiplex id {mid}")
        return mount

    async def Setup(self, stream: ServerStream[pb.SetupArgs]) -> None:
        args = await stream.recv_message()
        assert args is not None
        mid = multiplex_id(stream)
        try:
            connections: MountConnections | None = None
            if self._metadata_mode:
                storage: logical.Storage = _MetadataModeStorage()
                system_view: logical.SystemView = logical.StaticSystemView()
            else:
                connections = MountConnections(await self._broker.dial(args.broker_id))
                storage = RemoteStorage(connections)
                system_view = RemoteSystemView(connections)
            backend = await self._in_thread(self._factory)
            config = logical.BackendConfig(
                storage=storage,
                system_view=system_view,
                config=dict(args.Config),
                backend_uuid=args.backendUUID,
                mount_id=mid,
            )
            await self._in_thread(backend.setup, config)
        except Exception as exc:
            log.error("setup failed", exc_info=exc, extra={"multiplex_id": mid})
            if connections is not None:
                await self._in_thread(connections.close)
            await stream.send_message(pb.SetupReply(err=f"setup failed: {exc}"))
            return
        old = self.mounts.pop(mid, None)
        if old is not None:
            await self._release(old)
        executor = concurrent.futures.ThreadPoolExecutor(
            MOUNT_WORKERS, thread_name_prefix=f"mount-{mid[:8]}"
        )
        self.mounts[mid] = Mount(backend, storage, connections, executor)
        log.debug(
            "mount set up",
            extra={"multiplex_id": mid, "mount": args.Config.get("plugin_name", "")},
        )
        await stream.send_message(pb.SetupReply())

    async def Initialize(self, stream: ServerStream[pb.InitializeArgs]) -> None:
        await stream.recv_message()
        mount = self._mount(stream)
        reply = pb.InitializeReply()
        try:
            await self._in_mount(mount, mount.backend.initialize)
        except Exception as exc:
            log.error("initialize failed", exc_info=exc)
            reply.err.CopyFrom(translate.error_to_proto(exc))
        await stream.send_message(reply)

    async def Type(self, stream: ServerStream[pb.Empty]) -> None:
        await stream.recv_message()
        mount = self.mounts.get(multiplex_id(stream))
        kind = mount.backend.backend_type() if mount else logical.TYPE_LOGICAL
        await stream.send_message(pb.TypeReply(type=kind))

    async def SpecialPaths(self, stream: ServerStream[pb.Empty]) -> None:
        await stream.recv_message()
        paths = self._mount(stream).backend.special_paths()
        await stream.send_message(
            pb.SpecialPathsReply(paths=translate.special_paths_to_proto(paths))
        )

    async def _request(self, stream: ServerStream[Any]) -> tuple[Mount, logical.Request]:
        """Receive a request message, decode it, and hand it the mount's storage."""
        args = await stream.recv_message()
        assert args is not None
        mount = self._mount(stream)
        request = translate.request_from_proto(args.request)
        request.storage = mount.storage
        if stream.deadline is not None:
            request.deadline = stream.deadline
        return mount, request

    async def HandleRequest(self, stream: ServerStream[pb.HandleRequestArgs]) -> None:
        mount, request = await self._request(stream)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "handling request",
                extra={
                    "operation": request.operation,
                    "path": request.path,
                    "mount": request.mount_point,
                },
            )
        # Routed once: where the request runs and what runs both come from this.
        prepared = mount.backend.prepare(request)
        reply = None
        if prepared.inline:
            reply = await self._inline(mount, prepared, request)
        if reply is None:
            try:
                reply = await self._in_mount(mount, _answer, prepared, request)
            except asyncio.CancelledError:
                # Vault reset the stream or the deadline passed: the worker thread runs on,
                # and must learn that its answer will reach nobody.
                request.cancelled.set()
                raise
        if isinstance(reply, logical.Awaiting):
            # The engine's own I/O, awaited here: cancelled with the stream, it stops too.
            reply = await _finish(reply, request)
        await stream.send_message(reply)

    @staticmethod
    async def _inline(
        mount: Mount, prepared: logical.Prepared, request: logical.Request
    ) -> pb.HandleRequestReply | logical.Awaiting | None:
        """Answer on this thread, from the engine's memory or with what it reads from Vault:
        each time it needs a read, the read is fetched without blocking the loop and the
        request runs again with the answer. None when it must run on a worker instead (it
        writes, it needs more reads than ``MAX_INLINE_READS``, or a fetch failed).

        What the same operation on the same path read last time is fetched before the first
        run: a read that misses the engine's cache each time (one storage get per request, as
        a Go plugin's) then runs once instead of twice. A remembered read the request no
        longer uses (the engine has cached it since) is forgotten after one extra fetch."""
        connections = mount.connections
        fetched: dict[tuple[str, bytes], remote.FetchedRead] = {}
        key = (request.operation, request.path)
        if connections is not None:
            for remembered in mount.reads.get(key, ()):
                answer = await connections.fetch(remembered)
                if answer is None:
                    break
                fetched[remembered.key] = answer
        for _ in range(MAX_INLINE_READS + 1):
            token = remote.FETCHED.set(fetched)
            try:
                reply = _answer(prepared, request)
            except logical.WouldBlock as exc:
                pending = exc.pending
            else:
                if connections is not None:
                    _remember_reads(mount.reads, key, fetched)
                return reply
            finally:
                remote.FETCHED.reset(token)
            if not isinstance(pending, remote.PendingRead) or connections is None:
                return None
            if len(fetched) >= MAX_INLINE_READS:
                return None
            answer = await connections.fetch(pending)
            if answer is None:
                return None
            fetched[pending.key] = answer
        return None

    async def HandleExistenceCheck(self, stream: ServerStream[pb.HandleExistenceCheckArgs]) -> None:
        mount, request = await self._request(stream)
        reply = await self._in_mount(mount, _existence_check, mount.backend, request)
        await stream.send_message(reply)

    async def InvalidateKey(self, stream: ServerStream[pb.InvalidateKeyArgs]) -> None:
        args = await stream.recv_message()
        assert args is not None
        mount = self._mount(stream)
        if mount.connections is not None:
            # What an inline request fetched before this must not be used after it.
            mount.connections.change_started()
        try:
            await self._in_mount(mount, mount.backend.invalidate, args.key)
        except Exception as exc:
            log.error("invalidate failed", exc_info=exc)
        finally:
            if mount.connections is not None:
                mount.connections.change_done()
        await stream.send_message(pb.Empty())

    async def Cleanup(self, stream: ServerStream[pb.Empty]) -> None:
        await stream.recv_message()
        mount = self.mounts.pop(multiplex_id(stream), None)
        if mount is not None:
            await self._release(mount)
        await stream.send_message(pb.Empty())

    async def _release(self, mount: Mount, *, vault_gone: bool = False) -> None:
        """End a mount. When Vault asked (Cleanup), the engine may still call Vault while it
        cleans up; when Vault is gone, its connections close first, so any such call fails
        at once instead of waiting for an answer that cannot come."""
        if vault_gone and mount.connections is not None:
            await self._in_thread(mount.connections.close)
        try:
            await self._in_thread(mount.backend.cleanup)
        except Exception as exc:
            log.error("cleanup failed", exc_info=exc)
        if mount.connections is not None:
            await self._in_thread(mount.connections.close)
        # Threads still inside a request finish on their own; no new work is taken.
        mount.executor.shutdown(wait=False, cancel_futures=True)

    async def cleanup_all(self) -> None:
        """The process is ending (Vault went away, or asked it to stop)."""
        for mid in list(self.mounts):
            await self._release(self.mounts.pop(mid), vault_gone=True)


def _remember_reads(
    reads: dict[ReadsKey, tuple[remote.PendingRead, ...]],
    key: ReadsKey,
    fetched: dict[tuple[str, bytes], remote.FetchedRead],
) -> None:
    """Keep what a request read and used, for the next one like it (none: forget it)."""
    used = tuple(a.pending for a in fetched.values() if a.used and a.pending is not None)
    if used:
        if key not in reads and len(reads) >= MAX_REMEMBERED_READS:
            del reads[next(iter(reads))]
        reads[key] = used
    else:
        reads.pop(key, None)


def _answer(
    prepared: logical.Prepared, request: logical.Request
) -> pb.HandleRequestReply | logical.Awaiting:
    """Run a prepared request and put its outcome in the reply (or hand back what it still
    awaits, for the event loop to finish).

    The engine owns its failures: it answers with logical errors, an unexpected exception
    already logged and turned into one (a 500 naming the request id). The shim handles only
    its own, a storage call to Vault that failed, with a generic message. Anything else the
    engine lets escape breaks the contract and ends the call (the gRPC server logs it).
    """
    try:
        response = prepared.run()
    except (logical.LogicalError, logical.StorageError) as exc:
        return _failed(exc, request)
    if isinstance(response, logical.Awaiting):
        return response
    return _answered(response)


async def _finish(awaiting: logical.Awaiting, request: logical.Request) -> pb.HandleRequestReply:
    """The reply once what the engine awaited has come, on the same terms as ``_answer``."""
    try:
        response = await awaiting.finish()
    except (logical.LogicalError, logical.StorageError) as exc:
        return _failed(exc, request)
    return _answered(response)


def _answered(response: logical.Response | None) -> pb.HandleRequestReply:
    reply = pb.HandleRequestReply()
    if response is not None:
        reply.response.CopyFrom(translate.response_to_proto(response))
    return reply


def _failed(
    exc: logical.LogicalError | logical.StorageError, request: logical.Request
) -> pb.HandleRequestReply:
    reply = pb.HandleRequestReply()
    if isinstance(exc, logical.InvalidRequest):
        # Vault drops the message of ErrInvalidRequest; it shows the response's instead.
        reply.response.CopyFrom(translate.response_to_proto(logical.error_response(str(exc))))
        reply.err.CopyFrom(translate.error_to_proto(exc))
    elif isinstance(exc, logical.LogicalError):
        reply.err.CopyFrom(translate.error_to_proto(exc))
    else:
        _log_storage_failure("request failed", exc, request)
        reply.err.CopyFrom(translate.internal_error())
    return reply


def _existence_check(
    backend: logical.Backend, request: logical.Request
) -> pb.HandleExistenceCheckReply:
    try:
        found, exists = backend.handle_existence_check(request)
    except logical.InvalidRequest as exc:
        # Vault answers 400 with the message only for a user error here; anything else
        # becomes its generic "internal error".
        err = pb.ProtoError(err_type=translate.ERR_USER, err_msg=str(exc))
        return pb.HandleExistenceCheckReply(err=err)
    except logical.LogicalError as exc:
        return pb.HandleExistenceCheckReply(err=translate.error_to_proto(exc))
    except logical.StorageError as exc:
        _log_storage_failure("existence check failed", exc, request)
        return pb.HandleExistenceCheckReply(err=translate.internal_error())
    return pb.HandleExistenceCheckReply(check_found=found, exists=exists)


def _log_storage_failure(message: str, exc: logical.StorageError, request: logical.Request) -> None:
    log.error(
        message,
        exc_info=exc,
        extra={"operation": request.operation, "path": request.path},
    )


class VersionService:
    def __init__(self, version: str) -> None:
        self._version = version

    async def Version(self, stream: ServerStream[vpb.Empty]) -> None:
        await stream.recv_message()
        await stream.send_message(vpb.VersionReply(plugin_version=self._version))


class MultiplexingService:
    async def MultiplexingSupport(
        self,
        stream: ServerStream[mpb.MultiplexingSupportRequest],
    ) -> None:
        await stream.recv_message()
        await stream.send_message(mpb.MultiplexingSupportResponse(supported=True))
