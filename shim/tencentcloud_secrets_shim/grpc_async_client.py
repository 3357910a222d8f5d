"""An asyncio gRPC client for unary calls, many at once on one HTTP/2 connection: how the
server's event loop calls Vault's Storage and SystemView itself, for requests that only read,
instead of handing them to a worker thread and waiting for it to hand the answer back.

Why not the blocking client (``grpc_client``) on the loop: it holds the loop for a whole round
trip. Why not grpclib's client: a task, h2's general-purpose state machine and its events per
call cost more CPU than the rest of a read. Here the connection is an asyncio protocol around
the core the blocking client and the server use (``h2core``, ``grpc_call``): a call is one
future awaited and its HEADERS and DATA in one write, and its reply is cut into frames from
what each read brings, with no task and no stream object of asyncio's. The first call after
a read is written at once (a caller making one call at a time waits for no extra loop
iteration); calls that start after it in the same iteration (callers woken by the same read)
leave together in one write at its end.

Where it differs from the blocking client, because calls share the connection:

- What goes wrong for one call (a status, a reply over our limits or malformed, a reset from
  Vault, its deadline, its task cancelled) ends only that call's stream, with RST_STREAM when
  it is still open; the other calls and the connection carry on. What goes wrong for the
  connection (closed, a protocol error, undecodable headers) fails every call on it.
- The connection is read all the time, so Vault's keepalive PINGs are answered between calls.
- A new connection takes calls once Vault's SETTINGS have arrived (grpc-go's client waits for
  them too), so the first calls already know its stream limit, windows and frame size; calls
  beyond its MAX_CONCURRENT_STREAMS wait, in order, for a stream to end.
- After GOAWAY, calls on streams Vault did not process fail as broken (the caller may repeat
  them), those it did run to their end, and new calls, with any still waiting for a stream,
  go to a fresh connection.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TypeVar

from google.protobuf.message import Message

from . import hpack_codec, rpc
from .grpc_call import (
    MAX_STREAM_ID,
    RECEIVE_WINDOW,
    BrokenConnectionError,
    RequestHeaders,
    UnaryCall,
    decode_headers,
    opening,
)
from .h2core import (
    FrameReader,
    HeaderBlocks,
    PeerSettings,
    ReceiveWindow,
    StreamError,
    check_ping,
    data_payload,
    goaway_fields,
    grow_window,
    rst_stream_code,
)
from .http2 import (
    CANCEL,
    COMPRESSION_ERROR,
    CONTINUATION,
    DATA,
    DEFAULT_WINDOW,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLOW_CONTROL_ERROR,
    GOAWAY,
    HEADERS,
    MAX_HEADER_BLOCK,
    MAX_HEADER_LIST_SIZE,
    MAX_WINDOW,
    NO_ERROR,
    PING,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    READ_SIZE,
    REFUSED_STREAM,
    RST_STREAM,
    SETTINGS,
    U32,
    WINDOW_UPDATE,
    ConnectionProtocolError,
    frame,
)
from .socket_transport import connect_unix

__all__ = ["AsyncUnaryClient", "BrokenConnectionError"]

M = TypeVar("M", bound=Message)
_Trailers = list[hpack_codec.Header]
# How early a deadline may be taken as passed: the loop runs a timer when it is due within
# its clock's resolution, so the time read in it may fall just short of the deadline.
_DEADLINE_SLACK = 1e-3


class _NotSent(Exception):  # noqa: N818 (not an error: the call goes to another connection)
    """The call never left: its connection stopped taking calls before a stream was free."""


class _Stream(UnaryCall):
    """A call as its connection keeps it: the future its caller awaits and its deadline."""

    __slots__ = ("deadline", "future", "method")

    def __init__(
        self, body: bytes, method: str, deadline: float, future: asyncio.Future[_Trailers]
    ) -> None:
        super().__init__(body)
        self.method = method
        self.deadline = deadline
        self.future = future


class AsyncUnaryClient:
    """Unary calls to a Unix socket's gRPC server, on one HTTP/2 connection opened on first
    use and opened again for the next call once it breaks or Vault sends GOAWAY.

    All its methods must run on one event loop, the one its connection belongs to."""

    def __init__(self, path: str, context: ssl.SSLContext | None) -> None:
        self._path = path
        self._context = context
        self._headers = RequestHeaders(tls=context is not None)
        self._connection: _Connection | None = None  # the one new calls go to
        self._connections: set[_Connection] = set()  # with those finishing after GOAWAY
        self._opening: asyncio.Task[_Connection] | None = None
        # The loop of the last connection opened: asking asyncio for the running loop costs
        # a getpid() system call each time.
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, method: str, request: Message, reply_type: type[M], timeout: float) -> M:
        """Call ``method`` (``/package.Service/Method``) and return its reply.

        Raises ``rpc.RpcError`` when Vault answers with a status (or its reply breaks a limit
        of ours), ``BrokenConnectionError`` or ``OSError`` when the connection fails,
        ``TimeoutError`` when no answer comes in time. Only the connection's own failure
        closes it; a call that fails alone, or whose task is cancelled, resets its stream."""
        connection = self._connection
        loop = self._loop if connection is not None else None
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        body = request.SerializeToString()
        while True:
            connection = self._connection
            if connection is None or not connection.accepting:
                connection = await self._connect(deadline)
            stream = _Stream(body, method, deadline, loop.create_future())
            connection.start(stream)
            try:
                trailers = await stream.future
            except _NotSent:
                continue
            except asyncio.CancelledError:
                connection.abandon(stream)
                raise
            return stream.reply(trailers, reply_type)

    def close(self) -> None:
        """Close every connection; the calls in flight on them fail at once."""
        opening, self._opening = self._opening, None
        if opening is not None:
            opening.cancel()
        self._connection = None
        for connection in list(self._connections):
            connection.close(BrokenConnectionError("the client was closed"))

    # --- connections -----------------------------------------------------------------------

    async def _connect(self, deadline: float) -> _Connection:
        """The connection being opened, shared by every call that arrives meanwhile; each
        waits for it only until its own deadline."""
        opening = self._opening
        if opening is None:
            loop = asyncio.get_running_loop()
            opening = self._opening = loop.create_task(self._open(deadline))
        async with asyncio.timeout_at(deadline):
            return await asyncio.shield(opening)

    async def _open(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            # Bounded by the first caller's deadline: a peer that never answers must not keep
            # the next callers waiting on this attempt for ever.
            async with asyncio.timeout_at(deadline):
                transport, connection = await connect_unix(
                    lambda: _Connection(self, loop),
                    self._path,
                    ssl_context=self._context,
                    server_hostname="localhost" if self._context is not None else None,
                )
                assert isinstance(connection, _Connection)
                try:
                    await connection.ready
                except BaseException:
                    transport.close()
                    raise
        except asyncio.CancelledError:
            # close() ran: for the calls waiting on this attempt, the client was closed under
            # them (their own cancellation would say their task was cancelled).
            raise BrokenConnectionError("the client was closed") from None
        finally:
            if self._opening is asyncio.current_task():
                self._opening = None
        self._connection = connection
        return connection

    def _opened(self, connection: _Connection) -> None:
        self._connections.add(connection)

    def _lost(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        if self._connection is connection:
            self._connection = None


class _Connection(asyncio.BufferedProtocol):
    """One HTTP/2 connection and the calls on it, as I/O around the shared core.

    A buffered protocol because a plain one costs three system calls per read: asyncio's
    transport allocates a fresh 256 KiB bytes object for each (an mmap, then an mremap to
    the size read, then an munmap when it is freed); here every read lands in one buffer."""

    def __init__(self, client: AsyncUnaryClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self._headers = client._headers
        self._transport: asyncio.Transport | None = None
        self._reader = FrameReader()
        self._received = memoryview(bytearray(READ_SIZE))
        self._blocks = HeaderBlocks(MAX_HEADER_BLOCK)
        self._decoder = hpack_codec.HeaderDecoder(max_list_size=MAX_HEADER_LIST_SIZE)
        self._peer = PeerSettings()
        self._window = ReceiveWindow(0, RECEIVE_WINDOW, DEFAULT_WINDOW)
        self._next_stream = 1
        self._streams: dict[int, _Stream] = {}  # opened and not yet over
        self._waiting: dict[_Stream, None] = {}  # for a stream to be free, in order
        self._blocked: dict[int, _Stream] = {}  # with request bytes waiting for window, in order
        self._out: list[bytes] = []
        self._wrote = False  # a call's frames went out since the last read
        # One timer for every call's deadline, due at the earliest it was armed for: a timer
        # per call would cost a handle, a heap push and a cancel on every call, and most
        # calls end long before their deadline.
        self._timer: asyncio.TimerHandle | None = None
        self._going_away = False
        self._closed = False
        # Vault's first SETTINGS: until then the connection takes no calls.
        self.ready: asyncio.Future[None] = loop.create_future()
        self.ready.add_done_callback(_retrieve)

    @property
    def accepting(self) -> bool:
        """Whether a new call may start here."""
        return not (self._closed or self._going_away) and self._next_stream <= MAX_STREAM_ID

    # --- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._client._opened(self)
        self._send(opening(self._window))

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"the connection to Vault failed: {exc}" if exc else "Vault closed the connection"
        self._fail_all(BrokenConnectionError(reason))
        self._transport = None
        self._reader.clear()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._received

    def buffer_updated(self, nbytes: int) -> None:
        if self._closed:  # what arrives between close() and the transport's end is moot
            return
        self._wrote = False
        reader = self._reader
        reader.feed(self._received[:nbytes])
        try:
            while (item := reader.next_frame()) is not None:
                self._frame(*item)
                if self._closed:
                    return
        except ConnectionProtocolError as exc:
            self._abort(exc.code, BrokenConnectionError(f"protocol error from Vault: {exc}"))
        except BrokenConnectionError as exc:  # the header decoder's table is lost
            self._abort(COMPRESSION_ERROR, exc)

    # --- calls -----------------------------------------------------------------------------

    def start(self, stream: _Stream) -> None:
        """Send the call now if a stream is free, else when one is; its deadline runs from now."""
        if not self.accepting:  # it went away since the caller looked
            stream.future.set_exception(_NotSent())
            return
        timer = self._timer
        if timer is None or stream.deadline < timer.when():
            self._arm(stream.deadline)
        if len(self._streams) < self._peer.max_streams and not self._waiting:
            self._open(stream)
        else:
            self._waiting[stream] = None

    def abandon(self, stream: _Stream) -> None:
        """The caller's task was cancelled: Vault need not finish the call."""
        self._end(stream, CANCEL)

    def close(self, error: Exception) -> None:
        self._fail_all(error)
        if self._transport is not None:
            self._flush()
            self._transport.close()

    def _open(self, stream: _Stream) -> None:
        stream_id = self._next_stream
        self._next_stream += 2
        stream.open(stream_id, self._peer.initial_window)
        self._streams[stream_id] = stream
        block = self._headers.block(stream.method, stream.deadline - self._loop.time())
        out = [frame(HEADERS, FLAG_END_HEADERS, stream_id, block)]
        stream.data_frames(self._peer, out)
        if stream.sending:
            self._blocked[stream_id] = stream
        if self._out or self._wrote or self._transport is None:
            if not self._out:
                self._loop.call_soon(self._flush)
            self._out += out
        else:
            self._transport.write(b"".join(out))
            self._wrote = True

    def _admit(self) -> None:
        """Start waiting calls while streams are free. A connection going away (or out of
        stream ids) sends its waiting calls to the next one, and closes after its last call."""
        waiting = self._waiting
        if not self.accepting:
            for stream in list(waiting):
                self._fail(stream, _NotSent(), None)
            if not self._streams:
                self.close(BrokenConnectionError("Vault is closing the connection"))
            return
        while waiting and len(self._streams) < self._peer.max_streams:
            stream = next(iter(waiting))
            del waiting[stream]
            self._open(stream)

    def _end(self, stream: _Stream, reset: int | None) -> None:
        """The call is over here: its stream is forgotten (and reset with ``reset`` if it was
        still open) or it stops waiting for one."""
        if self._streams.pop(stream.stream_id, None) is stream:
            self._blocked.pop(stream.stream_id, None)
            if reset is not None:
                self._send(frame(RST_STREAM, 0, stream.stream_id, U32.pack(reset)))
            if not self._closed:
                self._admit()
        else:
            self._waiting.pop(stream, None)

    def _fail(self, stream: _Stream, error: Exception, reset: int | None) -> None:
        self._end(stream, reset)
        if not stream.future.done():
            stream.future.set_exception(error)

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        """Fail the calls out of time, and wait for the next deadline of those left."""
        self._timer = None
        limit = self._loop.time() + _DEADLINE_SLACK
        # Waiting calls first: a stream that an expired call frees must not go to one of them.
        calls = [*self._waiting, *self._streams.values()]
        for stream in calls:
            if stream.deadline <= limit:
                self._fail(stream, TimeoutError("no answer from Vault in time"), CANCEL)
        left = [stream.deadline for stream in (*self._streams.values(), *self._waiting)]
        if left and not self._closed:
            self._arm(min(left))

    def _fail_all(self, error: Exception) -> None:
        if self._closed:
            return
        self._closed = True
        self._client._lost(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        streams = [*self._streams.values(), *self._waiting]
        self._streams.clear()
        self._waiting.clear()
        self._blocked.clear()
        for stream in streams:
            self._fail(stream, error, None)
        if not self.ready.done():
            self.ready.set_exception(error)

    def _abort(self, code: int, error: BrokenConnectionError) -> None:
        """Vault broke the protocol: tell it why (GOAWAY), then close."""
        self._send(frame(GOAWAY, 0, 0, U32.pack(0) + U32.pack(code)))
        self.close(error)

    # --- sending ---------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        """Queue bytes for Vault: what one loop iteration queues leaves in one write."""
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        out = self._out
        if out and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(out))
        out.clear()

    def _push(self, stream: _Stream) -> None:
        """Send what the windows now allow of a request that was waiting for them."""
        out: list[bytes] = []
        stream.data_frames(self._peer, out)
        if out:
            self._send(b"".join(out))
        if stream.sending:
            self._blocked[stream.stream_id] = stream

    def _unblock(self) -> None:
        for stream_id in list(self._blocked):
            if self._peer.send_window <= 0:
                return
            self._push(self._blocked.pop(stream_id))

    # --- receiving -------------------------------------------------------------------------

    def _frame(self, kind: int, flags: int, sid: int, payload: bytes) -> None:
        self._blocks.check(kind)
        try:
            if kind == DATA:
                self._on_data(flags, sid, payload)
            elif kind == HEADERS:
                block = self._blocks.headers(flags, sid, payload)
                if block is not None:
                    self._header_block(sid, *block)
            elif kind == CONTINUATION:
                whole = self._blocks.continuation(flags, sid, payload)
                if whole is not None:
                    self._header_block(*whole)
            elif kind == SETTINGS:
                self._on_settings(flags, sid, payload)
            elif kind == WINDOW_UPDATE:
                self._on_window_update(sid, payload)
            elif kind == PING:
                check_ping(sid, payload)
                if not flags & FLAG_ACK:
                    self._send(frame(PING, FLAG_ACK, 0, payload))
            elif kind == RST_STREAM:
                code = rst_stream_code(sid, payload)
                stream = self._streams.get(sid)
                if stream is not None:
                    error: Exception
                    if code == REFUSED_STREAM:
                        error = BrokenConnectionError("Vault refused the stream")
                    else:
                        error = rpc.RpcError(
                            rpc.Status.INTERNAL, f"Vault reset the call (code {code})"
                        )
                    self._fail(stream, error, None)
            elif kind == GOAWAY:
                self._on_goaway(sid, payload)
            elif kind == PUSH_PROMISE:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "push was disabled")
            # PRIORITY and unknown frame types are ignored (RFC 9113, 4.1 and 5.3.2).
        except StreamError as exc:
            stream = self._streams.get(exc.stream_id)
            if stream is None:
                self._send(frame(RST_STREAM, 0, exc.stream_id, U32.pack(exc.code)))
            else:
                self._fail(stream, rpc.RpcError(rpc.Status.INTERNAL, str(exc)), exc.code)

    def _on_data(self, flags: int, sid: int, payload: bytes) -> None:
        data = data_payload(flags, sid, payload)
        counted = len(payload)  # padding counts against the windows too
        self._window.receive(counted)
        if increment := self._window.grant(RECEIVE_WINDOW):
            self._send(frame(WINDOW_UPDATE, 0, 0, U32.pack(increment)))
        stream = self._streams.get(sid)
        if stream is None:  # a call that is over here: Vault sent it before it knew
            return
        end = flags & FLAG_END_STREAM
        try:
            increment = stream.receive(data, counted, end)
        except (rpc.RpcError, BrokenConnectionError) as exc:
            # Over our message limit, or ended without trailers: this call fails alone.
            self._fail(stream, exc, CANCEL if stream.sending or not end else None)
            return
        if increment:
            self._send(frame(WINDOW_UPDATE, 0, sid, U32.pack(increment)))

    def _header_block(self, sid: int, end_stream: int, block: bytes) -> None:
        stream = self._streams.get(sid)
        still_open = stream is not None and (stream.sending or not end_stream)
        try:
            # Every block is decoded, whoever it is for: the table must follow Vault's.
            fields = decode_headers(self._decoder, block)
        except rpc.RpcError as exc:  # over our header list limit: that call's failure
            if stream is not None:
                self._fail(stream, exc, CANCEL if still_open else None)
            return
        if stream is None:
            return
        try:
            trailers = stream.header_block(fields, end_stream)
        except BrokenConnectionError as exc:  # not HTTP 200
            self._fail(stream, exc, CANCEL if still_open else None)
            return
        if trailers is not None:
            # A reply that ends before the request did: Vault needs no more of it.
            self._end(stream, NO_ERROR if stream.sending else None)
            if not stream.future.done():
                stream.future.set_result(trailers)

    def _on_settings(self, flags: int, sid: int, payload: bytes) -> None:
        delta = self._peer.apply(flags, sid, payload)
        if delta is None:  # the ACK of ours
            return
        if delta:
            for stream in self._streams.values():
                stream.send_window += delta
                if stream.send_window > MAX_WINDOW:
                    raise ConnectionProtocolError(FLOW_CONTROL_ERROR, "stream window overflow")
        self._send(frame(SETTINGS, FLAG_ACK, 0))
        if not self.ready.done():
            self.ready.set_result(None)
        self._unblock()
        self._admit()

    def _on_window_update(self, sid: int, payload: bytes) -> None:
        increment = self._peer.window_update(sid, payload)
        if not sid:
            self._unblock()
            return
        stream = self._streams.get(sid)
        if stream is None:
            return
        stream.send_window = grow_window(sid, stream.send_window, increment)
        if self._blocked.pop(sid, None) is not None:
            self._push(stream)

    def _on_goaway(self, sid: int, payload: bytes) -> None:
        last_stream, _ = goaway_fields(sid, payload)
        self._going_away = True
        for stream_id, stream in list(self._streams.items()):
            if stream_id > last_stream:  # never processed: safe to repeat
                self._fail(stream, BrokenConnectionError("Vault is closing the connection"), None)
        self._admit()


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a failed ``ready`` as seen: nobody awaits it when the opening was abandoned."""
    if not future.cancelled():
        future.exception()
