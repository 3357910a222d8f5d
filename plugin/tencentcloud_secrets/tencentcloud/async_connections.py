"""Keep-alive HTTP/1.1 connections to the API on the event loop, pooled per endpoint.

The same requests, answers, bounds and error messages as ``connections.py``, for calls made
from a coroutine: while the answer is on its way no thread waits for it, so a credential
costs no hand-over to a worker and back (about a quarter of the plugin's CPU for an STS
credential).

A pool belongs to the event loop that first used it. Everything but ``close`` runs on that
loop; ``close`` may come from any thread and hands the closing to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from .connections import (
    IDLE_SECONDS,
    MAX_ANSWER_BYTES,
    MAX_IDLE,
    Answer,
    ConnectError,
    EndpointPool,
    Proxy,
    connect_error,
    exchange_error,
)
from .endpoints import Endpoint
from .http11 import AnswerReader, ProtocolError, Reading, check_tunnel, connect_head, request_head

T = TypeVar("T")

# Calls in flight per endpoint at most: as many as a mount had worker threads when each call
# held one. A burst beyond it waits for a connection to come back (within the call's connect
# timeout) instead of opening one connection, and one TLS handshake, per request.
MAX_OPEN = 128
# What one read of a connection takes at most: a TLS record's plaintext. The answers are a
# few kilobytes; a longer one arrives over several reads.
READ_SIZE = 16 * 1024


class _Connection(asyncio.BufferedProtocol):
    """One connection: its transport, what it received, and whether the peer is gone.

    A buffered protocol: with a plain one, asyncio reads each time into a fresh 256 KiB bytes
    object (an mmap, page faults, an mremap and an munmap per read, on the plain socket and
    out of TLS alike); here every read lands in the connection's own buffer, from which the
    answer's reader copies."""

    def __init__(self) -> None:
        self.reader = AnswerReader()
        self.transport: asyncio.Transport | None = None
        self.gone = False
        self._fed = False  # bytes arrived since the read last looked
        self._waiter: asyncio.Future[None] | None = None
        self._received = memoryview(bytearray(READ_SIZE))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._received

    def buffer_updated(self, nbytes: int) -> None:
        self.reader.feed(self._received[:nbytes])
        self._fed = True
        self._wake()

    def eof_received(self) -> bool:
        self.gone = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def reusable(self) -> bool:
        """Still open, and nothing arrived that no request asked for."""
        return not self.gone and not self.reader.holds_unread

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def read(self, reading: Reading[T]) -> T:
        """Drive ``reading`` with what arrives; the caller bounds the time it may take."""
        loop = asyncio.get_running_loop()
        try:
            next(reading)
            while True:
                while not self._fed and not self.gone:
                    self._waiter = loop.create_future()
                    try:
                        await self._waiter
                    finally:
                        self._waiter = None
                fed, self._fed = self._fed, False
                reading.send(fed)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def close(self) -> None:
        self.gone = True
        if self.transport is not None:
            self.transport.close()


class AsyncConnectionPool(EndpointPool):
    """Keep-alive connections to one endpoint for coroutines of one event loop; idle ones are
    reused last-in first-out, as ``ConnectionPool`` does."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        context: ssl.SSLContext | None,
        proxy: Proxy | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_open: int = MAX_OPEN,
    ) -> None:
        super().__init__(endpoint, context=context, proxy=proxy, clock=clock)
        self._idle: list[tuple[_Connection, float]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._max_open = max_open
        self._slots = asyncio.Semaphore(max_open)

    def close(self) -> None:
        """Close the idle connections (those in use close when their call ends)."""
        idle, self._idle = self._idle, []
        self._closed = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for conn, _ in idle:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(conn.close)

    def idle_count(self) -> int:
        return len(self._idle)

    async def post(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> Answer:
        """Send one POST to ``/`` and read its answer; ``headers`` must include ``Host``.
        Cancelled, the call closes its connection: an answer may still be on its way."""
        head = request_head("POST", "/", {**headers, "Content-Length": str(len(body))})
        self._bind()
        if self._slots.locked():
            try:
                async with asyncio.timeout(connect_timeout):
                    await self._slots.acquire()
            except TimeoutError:
                where = self.endpoint.host_header
                raise ConnectError(f"no connection to {where} came free in time") from None
        else:
            await self._slots.acquire()
        try:
            return await self._post(head, body, connect_timeout, read_timeout)
        finally:
            self._slots.release()

    async def _post(
        self, head: bytes, body: bytes, connect_timeout: float, read_timeout: float
    ) -> Answer:
        conn = self._reuse()
        if conn is None:
            conn = await self._open(connect_timeout)
        keep = False
        try:
            async with asyncio.timeout(read_timeout):
                conn.send(head + body)
                status, data, keep = await conn.read(conn.reader.answer(MAX_ANSWER_BYTES))
        except (ProtocolError, OSError) as exc:
            raise exchange_error(exc, self.endpoint.host_header) from None
        finally:
            if not keep:
                conn.close()
        self._keep(conn)
        return Answer(status, data)

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections of another loop (one that has ended) cannot be used from this one.
            self._idle = []
            self._slots = asyncio.Semaphore(self._max_open)
            self._loop = loop

    def _reuse(self) -> _Connection | None:
        now = self._clock()
        while self._idle:
            conn, since = self._idle.pop()
            if now - since < IDLE_SECONDS and conn.reusable:
                return conn
            conn.close()
        return None

    def _keep(self, conn: _Connection) -> None:
        if not self._closed and len(self._idle) < MAX_IDLE and conn.reusable:
            self._idle.append((conn, self._clock()))
        else:
            conn.close()

    async def _open(self, timeout: float) -> _Connection:
        endpoint = self.endpoint
        port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
        proxy = self.proxy
        host, at = (endpoint.host, port) if proxy is None else (proxy.host, proxy.port)
        loop = asyncio.get_running_loop()
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(_Connection, host, at)
                if proxy is not None:
                    conn.send(connect_head(endpoint.host, port, proxy.authorization))
                    status, _ = await conn.read(conn.reader.head())
                    check_tunnel(status, conn.reader)
                if endpoint.scheme == "https":
                    assert self._context is not None
                    assert conn.transport is not None
                    secured = await loop.start_tls(
                        conn.transport, conn, self._context, server_hostname=endpoint.host
                    )
                    assert isinstance(secured, asyncio.Transport)
                    conn.transport = secured
        except (ProtocolError, OSError) as exc:
            if conn is not None:
                conn.close()
            raise connect_error(exc, endpoint, proxy) from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        self.opened += 1
        return conn
