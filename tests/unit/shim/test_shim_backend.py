"""The Backend service: one routing per request."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tencentcloud_secrets_shim import logical
from tencentcloud_secrets_shim._proto.vault import backend_pb2 as pb
from tencentcloud_secrets_shim.backend import BackendService, Mount

Run = Callable[[], logical.Response | None]


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
