"""The Backend service: one routing per request, and who answers for which failure."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tencentcloud_secrets_shim import backend, logical, translate
from tencentcloud_secrets_shim._proto.vault import backend_pb2 as pb
from tencentcloud_secrets_shim.backend import BackendService, Mount
from tencentcloud_secrets_shim.remote import (
    BrokerTarget,
    FetchedRead,
    MountConnections,
    PendingRead,
    RemoteStorage,
)
from tests.support.storage_server import StorageServer

SHIM = Path(__file__).resolve().parents[3] / "shim" / "tencentcloud_secrets_shim"
SHIM_LOGGER = "tencentcloud_secrets_shim.backend"

Run = Callable[[], logical.Response | logical.Awaiting | None]


class _Engine:
    """An engine whose requests all run ``run``; it counts how often it was asked to route."""

    def __init__(self, run: Run, *, inline: bool = False, exists: Callable[[], bool] = bool):
        self.run = run
        self.inline = inline
        self.exists = exists
        self.prepared = 0

    def setup(self, config: logical.BackendConfig) -> None: ...

    def initialize(self) -> None: ...

    def prepare(self, request: logical.Request) -> logical.Prepared:
        self.prepared += 1
        return logical.Prepared(run=self.run, inline=self.inline)

    def handle_existence_check(self, request: logical.Request) -> tuple[bool, bool]:
        return True, self.exists()

    def special_paths(self) -> logical.SpecialPaths:
        return logical.SpecialPaths()

    def backend_type(self) -> int:
        return logical.TYPE_LOGICAL

    def invalidate(self, key: str) -> None: ...

    def cleanup(self) -> None: ...


class _Stream:
    """One call's stream as the service sees it: a request in, the reply out."""

    def __init__(self, message: Any) -> None:
        self.metadata = {"multiplex_id": ["mount-1"]}
        self.deadline: float | None = None
        self.message = message
        self.sent: list[Any] = []

    async def recv_message(self) -> Any:
        return self.message

    async def send_message(self, message: Any) -> None:
        self.sent.append(message)


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    executor = concurrent.futures.ThreadPoolExecutor(2)
    yield executor
    executor.shutdown()


def _service(engine: _Engine, pool: concurrent.futures.ThreadPoolExecutor) -> BackendService:
    service = BackendService(lambda: engine, broker=None, executor=pool)  # type: ignore[arg-type]
    service.mounts["mount-1"] = Mount(engine, logical.InmemStorage(), None, pool)
    return service


def _request(operation: str = "read") -> pb.Request:
    return pb.Request(operation=operation, path="things/a", id="req-1")


def _handle(engine: _Engine, pool: concurrent.futures.ThreadPoolExecutor) -> pb.HandleRequestReply:
    stream = _Stream(pb.HandleRequestArgs(request=_request()))
    asyncio.run(_service(engine, pool).HandleRequest(stream))  # type: ignore[arg-type]
    [reply] = stream.sent
    assert isinstance(reply, pb.HandleRequestReply)
    return reply


def _check(
    engine: _Engine, pool: concurrent.futures.ThreadPoolExecutor
) -> pb.HandleExistenceCheckReply:
    stream = _Stream(pb.HandleExistenceCheckArgs(request=_request("update")))
    asyncio.run(_service(engine, pool).HandleExistenceCheck(stream))  # type: ignore[arg-type]
    [reply] = stream.sent
    assert isinstance(reply, pb.HandleExistenceCheckReply)
    return reply


def test_an_inline_request_is_routed_once_and_rerun_on_a_worker_when_it_would_block(
    pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    threads: list[int] = []

    def run() -> logical.Response | None:
        threads.append(threading.get_ident())
        if len(threads) == 1:
            raise logical.WouldBlock()
        return logical.Response(data={"answer": 42})

    engine = _Engine(run, inline=True)
    reply = _handle(engine, pool)
    assert json.loads(reply.response.data) == {"answer": 42}
    assert engine.prepared == 1
    loop_thread = threading.get_ident()  # asyncio.run ran the loop on this thread
    assert threads[0] == loop_thread
    assert threads[1] != loop_thread


@pytest.mark.parametrize("inline", [True, False])
def test_what_a_request_awaits_is_finished_on_the_loop_from_either_thread(
    pool: concurrent.futures.ThreadPoolExecutor, inline: bool
) -> None:
    """A handler that hands back ``Awaiting`` (inline, or from a worker) is answered with what
    ``finish`` returns, awaited on the loop's own thread; its failures are answered as the
    handler's would be."""
    ran: list[int] = []
    finished: list[int] = []

    async def finish() -> logical.Response:
        await asyncio.sleep(0)
        finished.append(threading.get_ident())
        return logical.Response(data={"answer": 42})

    def run() -> logical.Awaiting:
        ran.append(threading.get_ident())
        return logical.Awaiting(finish)

    reply = _handle(_Engine(run, inline=inline), pool)
    assert json.loads(reply.response.data) == {"answer": 42}
    loop_thread = threading.get_ident()
    assert finished == [loop_thread]
    assert (ran == [loop_thread]) is inline

    async def refuse() -> logical.Response:
        raise logical.CodedError(502, "the cloud said no")

    reply = _handle(_Engine(lambda: logical.Awaiting(refuse), inline=inline), pool)
    assert (reply.err.err_code, reply.err.err_msg) == (502, "the cloud said no")


def test_a_cancelled_request_stops_what_it_awaits(
    pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    """Vault resets the stream: the task is cancelled, and so is the engine's awaited I/O (no
    reply, nothing left running)."""
    started = asyncio.Event()
    outcome: list[str] = []

    async def finish() -> logical.Response:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return logical.Response()

    engine = _Engine(lambda: logical.Awaiting(finish), inline=True)
    stream = _Stream(pb.HandleRequestArgs(request=_request()))

    async def scenario() -> None:
        task = asyncio.create_task(_service(engine, pool).HandleRequest(stream))  # type: ignore[arg-type]
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert outcome == ["cancelled"]
    assert stream.sent == []


def test_an_inline_request_that_reads_from_vault_is_answered_on_the_loop(
    pool: concurrent.futures.ThreadPoolExecutor, tmp_path: Path
) -> None:
    """Each read the request needs is fetched without blocking the loop and the request run
    again with the answers: no worker thread takes part."""
    server = StorageServer(str(tmp_path / "broker.sock"))
    connections = MountConnections(BrokerTarget(server.path, None))
    storage = RemoteStorage(connections)
    threads: list[int] = []

    def run() -> logical.Response | None:
        threads.append(threading.get_ident())
        entry = storage.get("k")
        assert entry is not None
        return logical.Response(data={"value": entry.value.decode(), "keys": storage.list("")})

    engine = _Engine(run, inline=True)
    service = BackendService(lambda: engine, broker=None, executor=pool)  # type: ignore[arg-type]
    service.mounts["mount-1"] = Mount(engine, storage, connections, pool)
    stream = _Stream(pb.HandleRequestArgs(request=_request()))
    try:
        asyncio.run(service.HandleRequest(stream))  # type: ignore[arg-type]
    finally:
        connections.close()
        server.stop()
    [reply] = stream.sent
    assert json.loads(reply.response.data) == {"value": "v", "keys": ["k"]}
    assert threads == [threading.get_ident()] * 3  # ran three times, all on the loop's thread


def test_the_reads_of_a_request_are_fetched_up_front_the_next_time_while_it_uses_them(
    pool: concurrent.futures.ThreadPoolExecutor, tmp_path: Path
) -> None:
    """The second identical request finds both its reads fetched before it runs, so it runs
    once; when the engine stops reading (it has cached the value), the remembered reads are
    forgotten after that request, and the next one fetches nothing first."""
    server = StorageServer(str(tmp_path / "broker.sock"))
    connections = MountConnections(BrokerTarget(server.path, None))
    storage = RemoteStorage(connections)
    runs: list[str] = []
    cached: list[logical.Response] = []

    def run() -> logical.Response | None:
        runs.append("run")
        if cached:
            return cached[0]
        entry = storage.get("k")
        assert entry is not None
        return logical.Response(data={"value": entry.value.decode(), "keys": storage.list("")})

    engine = _Engine(run, inline=True)
    service = BackendService(lambda: engine, broker=None, executor=pool)  # type: ignore[arg-type]
    mount = service.mounts["mount-1"] = Mount(engine, storage, connections, pool)

    async def handle() -> tuple[int, Any]:
        runs.clear()
        stream = _Stream(pb.HandleRequestArgs(request=_request()))
        await service.HandleRequest(stream)  # type: ignore[arg-type]
        [reply] = stream.sent
        return len(runs), json.loads(reply.response.data)

    async def requests() -> list[tuple[int, Any]]:
        answers = [await handle(), await handle()]
        remembered = [p.method for p in mount.reads[("read", "things/a")]]
        assert remembered == ["/pb.Storage/Get", "/pb.Storage/List"]
        cached.append(logical.Response(data={"value": "cached"}))
        answers.append(await handle())
        assert mount.reads == {}
        answers.append(await handle())
        return answers

    try:
        answers = asyncio.run(requests())
    finally:
        connections.close()
        server.stop()
    full = {"value": "v", "keys": ["k"]}
    assert answers == [(3, full), (1, full), (1, {"value": "cached"}), (1, {"value": "cached"})]


def test_remembered_reads_are_bounded() -> None:
    reads: dict[Any, Any] = {}
    pending = PendingRead("/pb.Storage/Get", pb.StorageGetArgs(key="k"), pb.StorageGetReply)
    used = FetchedRead(pb.StorageGetReply(), 0, pending, used=True)
    for n in range(backend.MAX_REMEMBERED_READS + 10):
        backend._remember_reads(reads, ("read", f"p{n}"), {pending.key: used})
    assert len(reads) == backend.MAX_REMEMBERED_READS
    assert ("read", "p0") not in reads  # the oldest went first
    assert reads[("read", f"p{backend.MAX_REMEMBERED_READS + 9}")] == (pending,)


def test_a_request_not_declared_inline_runs_once_on_a_worker(
    pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    threads: list[int] = []

    def run() -> logical.Response | None:
        threads.append(threading.get_ident())
        return None

    engine = _Engine(run)
    reply = _handle(engine, pool)
    assert not reply.HasField("response")
    assert not reply.HasField("err")
    assert engine.prepared == 1
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


def test_the_engines_errors_reach_vault_as_the_engine_worded_them(
    pool: concurrent.futures.ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    message = "internal error (request id req-1); the plugin log has the details"

    def run() -> logical.Response | None:
        raise logical.CodedError(500, message)

    with caplog.at_level(logging.DEBUG, logger=SHIM_LOGGER):
        reply = _handle(_Engine(run), pool)
    assert (reply.err.err_type, reply.err.err_code, reply.err.err_msg) == (
        translate.ERR_CODED,
        500,
        message,
    )
    # The engine logged it; the shim does not log it again.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_failed_storage_call_is_the_shims_generic_500(
    pool: concurrent.futures.ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> Any:
        raise logical.StorageError("storage call to Vault failed (detail-xyz)")

    with caplog.at_level(logging.ERROR, logger=SHIM_LOGGER):
        reply = _handle(_Engine(fail), pool)
        checked = _check(_Engine(fail, exists=fail), pool)
    for err in (reply.err, checked.err):
        assert (err.err_type, err.err_msg) == (
            translate.ERR_INTERNAL,
            translate.INTERNAL_ERROR_MESSAGE,
        )
    assert [r.getMessage() for r in caplog.records] == ["request failed", "existence check failed"]
    assert all("detail-xyz" in str(r.exc_info) for r in caplog.records)


def test_any_other_exception_is_not_the_shims_to_answer(
    pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    """An engine owns its unexpected failures (the framework makes them a 500 naming the
    request id); one that lets an exception escape breaks the contract, and the call ends
    without an answer from this service (the gRPC server logs it and ends the call)."""

    def bug() -> Any:
        raise RuntimeError("engine bug")

    with pytest.raises(RuntimeError, match="engine bug"):
        _handle(_Engine(bug), pool)
    with pytest.raises(RuntimeError, match="engine bug"):
        _check(_Engine(bug, exists=bug), pool)


def test_an_invalid_existence_check_is_a_user_error(
    pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    def exists() -> bool:
        raise logical.InvalidRequest("bad name")

    reply = _check(_Engine(lambda: None, exists=exists), pool)
    assert (reply.err.err_type, reply.err.err_msg) == (translate.ERR_USER, "bad name")


def test_the_shim_names_no_engine_and_no_cloud() -> None:
    """Messages that need the engine's words come from the engine."""
    named = [
        f"{path.relative_to(SHIM)}:{number}"
        for path in sorted(SHIM.rglob("*.py"))
        if "_proto" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "tencent" in line.lower().replace("tencentcloud_secrets_shim", "")
    ]
    assert named == []
