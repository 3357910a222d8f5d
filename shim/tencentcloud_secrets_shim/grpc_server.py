"""The plugin's gRPC server: HTTP/2 (RFC 9113) and gRPC's framing over it, written for the one
peer it has, Vault's plugin client.

Why not grpclib's server: every Vault request is one unary call, and under load the plugin
spent about half of its CPU in grpclib's server and the general-purpose HTTP/2 state machine
under it (h2, hpack, hyperframe), more than in everything the request itself does. This server
does the same protocol work in a fraction of the steps: frames are parsed straight from the
connection's buffer, a request's headers are one pass over a mostly indexed header block, the
reply's fixed headers are prebuilt bytes, and everything a loop iteration writes leaves in one
TLS record and one system call.

What it keeps from the protocol, because a peer may rely on it: the connection preface and
SETTINGS exchange, PING answers, both directions of flow control (a reply larger than the
peer's window waits for WINDOW_UPDATE), header blocks split over CONTINUATION frames, padding,
RST_STREAM (the handler is cancelled), GOAWAY, gRPC deadlines (``grpc-timeout``: the handler
is cancelled and the call ends DEADLINE_EXCEEDED), metadata, and trailers-only error replies.
Frames are read and checked by the core both ends share (``h2core``): a peer that breaks the
protocol gets GOAWAY with the matching error code and the connection is closed, a stream-level
error resets only its stream; neither reaches a handler. What a peer can make it hold is
bounded (``Limits``): the decoded header list, a message's size (from its prefix), what is
buffered for handlers (windows are given back only as handlers take their messages), and
what is queued for a peer that does not read (reading stops until it does). It does not
offer server push, compression, or priorities (none is used by gRPC clients).

A service is an object with a method per RPC, served under a service descriptor from the
generated protobuf modules (``service(descriptor, implementation)``); each handler receives
one :class:`ServerStream`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from . import hpack_codec
from .h2core import (
    FrameReader,
    HeaderBlocks,
    PeerSettings,
    ReceiveWindow,
    StreamError,
    check_ping,
    check_priority,
    data_payload,
    goaway_fields,
    grow_window,
    rst_stream_code,
)
from .http2 import (
    COMPRESSION_ERROR,
    CONTINUATION,
    DATA,
    DEFAULT_WINDOW,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    GOAWAY,
    HEADERS,
    MAX_HEADER_BLOCK,
    MAX_HEADER_LIST_SIZE,
    MAX_WINDOW,
    NO_ERROR,
    PING,
    PRIORITY,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    READ_SIZE,
    REFUSED_STREAM,
    RST_STREAM,
    SETTING,
    SETTINGS,
    SETTINGS_ENABLE_PUSH,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_CONCURRENT_STREAMS,
    SETTINGS_MAX_HEADER_LIST_SIZE,
    STREAM_CLOSED,
    U32,
    WINDOW_UPDATE,
    ConnectionProtocolError,
    frame,
)
from .rpc import (
    MAX_MESSAGE_SIZE,
    MESSAGE_PREFIX,
    MessageReader,
    RpcError,
    Status,
    decode_timeout,
    encode_message,
)
from .socket_transport import UnixServer

log = logging.getLogger(__name__)

# Calls in progress at once on one connection: beyond it Vault queues them on its side
# instead of the plugin holding a task and a queued job for each (they run 32 at a time
# per mount anyway).
MAX_STREAMS = 1000
MAX_GRPC_MESSAGE_CHARS = 4096  # of an error message in a trailer, after percent-encoding


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one connection lets its peer make it hold.

    The windows are what the peer may send ahead: a stream's is given back only as its
    handler takes messages (or as a message within ``max_message`` grows, so one larger than
    the window still flows), the connection's only while everything buffered on it stays
    under ``max_buffered`` (one largest message, plus a full window for the other streams)."""

    stream_window: int = 1 << 20
    connection_window: int = 1 << 24
    max_message: int = MAX_MESSAGE_SIZE
    max_buffered: int = MAX_MESSAGE_SIZE + (1 << 24)
    max_header_list: int = MAX_HEADER_LIST_SIZE  # advertised in SETTINGS
    max_header_block: int = MAX_HEADER_BLOCK


_CONTENT_TYPE_GRPC = hpack_codec.literal_with_static_name(31, b"application/grpc")
RESPONSE_HEADERS = hpack_codec.indexed(8) + _CONTENT_TYPE_GRPC  # :status 200
# How early a deadline may be taken as passed: the loop runs a timer when it is due within
# its clock's resolution, so the time read in it may fall just short of the deadline.
DEADLINE_SLACK = 1e-3
_OK_TRAILERS = hpack_codec.literal(b"grpc-status", b"0")
# Request headers that are the protocol's, not the caller's metadata.
_NOT_METADATA = frozenset(
    (
        b"content-type",
        b"user-agent",
        b"te",
        b"grpc-timeout",
        b"grpc-encoding",
        b"grpc-accept-encoding",
        b"grpc-message-type",
    )
)


R = TypeVar("R", bound=Message)


class StreamTerminated(Exception):  # noqa: N818 (not an error: the call is simply over)
    """The peer reset the stream or the connection went away."""


@dataclasses.dataclass(frozen=True)
class Method:
    """One RPC as the server dispatches it."""

    func: Callable[[ServerStream[Any]], Awaitable[None]]
    request_type: type[Message]


def service(descriptor: ServiceDescriptor, implementation: object) -> dict[bytes, Method]:
    """The RPCs of ``descriptor`` served by the methods of the same names on
    ``implementation``; one it does not have is answered UNIMPLEMENTED."""
    methods = {}
    for rpc_method in descriptor.methods:
        func = getattr(implementation, rpc_method.name, None)
        if func is not None:
            path = f"/{descriptor.full_name}/{rpc_method.name}".encode()
            methods[path] = Method(func, GetMessageClass(rpc_method.input_type))
    return methods


def _trailers(status: Status, message: str | None) -> bytes:
    if status is Status.OK and not message:
        return _OK_TRAILERS
    block = hpack_codec.literal(b"grpc-status", str(status.value).encode())
    if message:
        encoded = encode_message(message)[:MAX_GRPC_MESSAGE_CHARS]
        block += hpack_codec.literal(b"grpc-message", encoded)
    return block


class GrpcServer:
    """Serves services (``service(...)`` maps) on a Unix socket, optionally with TLS."""

    def __init__(
        self,
        services: Iterable[dict[bytes, Method]],
        *,
        max_streams: int = MAX_STREAMS,
        limits: Limits | None = None,
    ) -> None:
        self.max_streams = max_streams
        self.limits = limits or Limits()
        self._methods: dict[bytes, Method] = {}
        for methods in services:
            self._methods.update(methods)
        self._server: UnixServer | None = None
        self.connections: set[ServerConnection] = set()

    def method(self, path: bytes) -> Method | None:
        return self._methods.get(path)

    async def start(self, *, path: str, ssl: ssl.SSLContext | None) -> None:
        self._server = UnixServer(lambda: ServerConnection(self), ssl)
        await self._server.start(path)

    def close(self) -> None:
        """Stop accepting; tell every peer we are going away and close its connection."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.go_away(NO_ERROR, "server shutting down")

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()


class ServerConnection(asyncio.BufferedProtocol):
    """One HTTP/2 connection: the I/O and the streams around the shared core (``h2core``),
    which reads and checks the frames and keeps both directions' windows.

    A buffered protocol: with a plain one, asyncio allocates a fresh 256 KiB bytes object for
    every read, of the socket or out of TLS (an mmap, an mremap and an munmap each time);
    here every read lands in the connection's one buffer, from which the frame reader copies."""

    def __init__(self, server: GrpcServer) -> None:
        self._server = server
        self.limits = server.limits
        self.loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._reader = FrameReader(preface=True)
        self._blocks = HeaderBlocks(self.limits.max_header_block)
        self._decoder = hpack_codec.HeaderDecoder(max_list_size=self.limits.max_header_list)
        self.streams: dict[int, ServerStream[Any]] = {}
        self._last_stream_id = 0
        self._going_away = False
        self.peer = PeerSettings()  # what we may send
        self._blocked: dict[int, ServerStream[Any]] = {}  # streams waiting for window, in order
        # What the peer may send on the connection, and the request bytes held for handlers.
        self._window = ReceiveWindow(0, self.limits.connection_window, DEFAULT_WINDOW)
        self.buffered = 0
        self._out: list[bytes] = []
        self._received = memoryview(bytearray(READ_SIZE))
        # One timer for every stream's deadline, due at the earliest: a timer per call would
        # cost a handle, a heap push and a cancel on every call, and calls end long before
        # Vault's deadlines (90 s by default).
        self._timer: asyncio.TimerHandle | None = None

    # --- asyncio ---------------------------------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._received

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._received[:nbytes])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(self)
        settings = b"".join(
            SETTING.pack(key, value)
            for key, value in (
                (SETTINGS_ENABLE_PUSH, 0),
                (SETTINGS_MAX_CONCURRENT_STREAMS, self._server.max_streams),
                (SETTINGS_INITIAL_WINDOW_SIZE, self.limits.stream_window),
                (SETTINGS_MAX_HEADER_LIST_SIZE, self.limits.max_header_list),
            )
        )
        self.write(frame(SETTINGS, 0, 0, settings))
        self._refill()

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._out.clear()
        for stream in list(self.streams.values()):
            stream.abandon()
        self.streams.clear()
        self._blocked.clear()
        self._reader.clear()

    def pause_writing(self) -> None:
        """The transport holds more than its high-water mark for a peer that is not reading:
        stop reading (and so answering PINGs and SETTINGS) until it drains."""
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def data_received(self, data: bytes | memoryview) -> None:
        reader = self._reader
        reader.feed(data)
        try:
            while (item := reader.next_frame()) is not None:
                self._frame(*item)
                if self._transport is None or self._transport.is_closing():
                    return
        except ConnectionProtocolError as exc:
            self.go_away(exc.code, str(exc))

    # --- receiving -------------------------------------------------------------------------

    def _frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        self._blocks.check(kind)
        try:
            if kind == DATA:
                self._on_data(flags, stream_id, payload)
            elif kind == HEADERS:
                block = self._blocks.headers(flags, stream_id, payload)
                if block is not None:
                    self._header_block(stream_id, *block)
            elif kind == CONTINUATION:
                whole = self._blocks.continuation(flags, stream_id, payload)
                if whole is not None:
                    self._header_block(*whole)
            elif kind == WINDOW_UPDATE:
                self._on_window_update(stream_id, payload)
            elif kind == SETTINGS:
                self._on_settings(flags, stream_id, payload)
            elif kind == PING:
                check_ping(stream_id, payload)
                if not flags & FLAG_ACK:
                    self.write(frame(PING, FLAG_ACK, 0, payload))
            elif kind == RST_STREAM:
                rst_stream_code(stream_id, payload)
                if stream_id > self._last_stream_id:
                    raise ConnectionProtocolError(PROTOCOL_ERROR, "RST_STREAM on an idle stream")
                stream = self.forget(stream_id)
                if stream is not None:
                    stream.abandon()
            elif kind == GOAWAY:
                goaway_fields(stream_id, payload)
                # The peer opens no more streams; those it has are still answered.
                self._going_away = True
            elif kind == PUSH_PROMISE:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "a client cannot push")
            elif kind == PRIORITY:
                check_priority(stream_id, payload)
            # Unknown frame types are ignored (RFC 9113, 4.1).
        except StreamError as exc:
            self.reset(exc.stream_id, exc.code)

    def _on_data(self, flags: int, stream_id: int, payload: bytes) -> None:
        data = data_payload(flags, stream_id, payload)
        counted = len(payload)  # padding counts against the windows too
        self._window.receive(counted)
        stream = self.streams.get(stream_id)
        if stream is None:
            if stream_id > self._last_stream_id:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "DATA on an idle stream")
            # A stream we ended or reset: what the peer sent before it knew is dropped.
        else:
            stream.data_received(data, counted, bool(flags & FLAG_END_STREAM))
        self._refill()

    def _header_block(self, stream_id: int, end_stream: int, block: bytes) -> None:
        # Decode every block, even one we will refuse: the table must follow the peer's.
        headers: list[hpack_codec.Header] | None
        try:
            headers = self._decoder.decode(block)
        except hpack_codec.CompressionError as exc:
            raise ConnectionProtocolError(COMPRESSION_ERROR, str(exc)) from None
        except hpack_codec.HeaderListTooLarge:
            headers = None
        stream = self.streams.get(stream_id)
        if stream is not None:  # trailers from the client
            if not end_stream:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "second HEADERS without END_STREAM")
            stream.data_received(b"", 0, True)
            return
        if stream_id % 2 == 0 or stream_id <= self._last_stream_id:
            raise ConnectionProtocolError(PROTOCOL_ERROR, f"client cannot open stream {stream_id}")
        self._last_stream_id = stream_id
        if headers is None:
            # Over our SETTINGS_MAX_HEADER_LIST_SIZE: reset as grpc-go's server does
            # (FRAME_SIZE_ERROR, which its client reports as INTERNAL). Nothing of the call
            # was kept, and a reply's headers could not carry more than a reset says.
            self.reset(stream_id, FRAME_SIZE_ERROR)
            return
        if self._going_away or len(self.streams) >= self._server.max_streams:
            # Not processed, so the client may send it again (grpc-go does, transparently).
            self.reset(stream_id, REFUSED_STREAM)
            return
        self._open_stream(stream_id, headers, bool(end_stream))

    def _open_stream(self, stream_id: int, headers: list[hpack_codec.Header], end: bool) -> None:
        path = http_method = content_type = timeout = user_agent = b""
        metadata: dict[str, list[str | bytes]] = {}
        for name, value in headers:
            if name[:1] == b":":
                if name == b":path":
                    path = value
                elif name == b":method":
                    http_method = value
            elif name == b"content-type":
                content_type = value
            elif name == b"user-agent":
                user_agent = value
            elif name == b"grpc-timeout":
                timeout = value
            elif name not in _NOT_METADATA:
                try:
                    key, item = _metadata_item(name, value)
                except ValueError:
                    # As grpc-go: this call fails INTERNAL, the connection and others go on.
                    message = f"malformed binary metadata in header {name.decode('latin-1')!r}"
                    self.refuse(stream_id, end, Status.INTERNAL, message)
                    return
                metadata.setdefault(key, []).append(item)
        if http_method != b"POST" or not content_type.startswith(b"application/grpc"):
            # Not a gRPC call: answer in HTTP terms, as gRPC's HTTP mapping says.
            status = b"405" if http_method != b"POST" else b"415"
            block = hpack_codec.literal_with_static_name(8, status)
            self.write(frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, stream_id, block))
            return
        deadline = None
        if timeout:
            try:
                deadline = time.monotonic() + decode_timeout(timeout.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                self.refuse(stream_id, end, Status.INVALID_ARGUMENT, "malformed grpc-timeout")
                return
        method = self._server.method(path)
        if method is None:
            message = f"Method not found: {path.decode('ascii', 'replace')}"
            self.end_stream(stream_id, Status.UNIMPLEMENTED, message)
            return
        stream: ServerStream[Any] = ServerStream(
            self, stream_id, method, metadata, deadline, user_agent.decode("latin-1")
        )
        self.streams[stream_id] = stream
        if end:
            stream.data_received(b"", 0, True)
        stream.start()

    def watch_deadline(self, deadline: float) -> None:
        """A stream ends at ``deadline`` (a time.monotonic() instant) if still running."""
        timer = self._timer
        if timer is None or deadline < timer.when():
            if timer is not None:
                timer.cancel()
            self._timer = self.loop.call_at(deadline, self._expire_streams)

    def _expire_streams(self) -> None:
        """End the streams out of time; wait for the next deadline of those left."""
        self._timer = None
        limit = time.monotonic() + DEADLINE_SLACK
        left = []
        for stream in list(self.streams.values()):
            if stream.deadline is None:
                continue
            if stream.deadline <= limit:
                stream.expire()
            else:
                left.append(stream.deadline)
        if left and self._transport is not None:
            self.watch_deadline(min(left))

    def _on_window_update(self, stream_id: int, payload: bytes) -> None:
        increment = self.peer.window_update(stream_id, payload)
        if not stream_id:
            self._unblock()
            return
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        stream.send_window = grow_window(stream_id, stream.send_window, increment)
        if stream_id in self._blocked:
            self._blocked.pop(stream_id)
            self.flush_stream(stream)

    def _on_settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        delta = self.peer.apply(flags, stream_id, payload)
        if delta is None:
            return
        for stream in self.streams.values():
            stream.send_window += delta
            if stream.send_window > MAX_WINDOW:
                raise ConnectionProtocolError(FLOW_CONTROL_ERROR, "stream window overflow")
        self.write(frame(SETTINGS, FLAG_ACK, 0))
        self._unblock()

    # --- receive windows -------------------------------------------------------------------

    def hold(self, count: int) -> None:
        """A stream keeps ``count`` more request bytes for its handler."""
        self.buffered += count

    def release(self, count: int) -> None:
        """A stream's handler took (or the stream dropped) ``count`` bytes."""
        self.buffered -= count
        self._refill()

    def _refill(self) -> None:
        increment = self._window.grant(self.limits.max_buffered - self.buffered)
        if increment:
            self.write(frame(WINDOW_UPDATE, 0, 0, U32.pack(increment)))

    # --- sending ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue bytes for the peer; they leave together once the loop has run what is ready."""
        if not self._out:
            self.loop.call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        if self._out and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def send_headers(self, stream_id: int, block: bytes) -> None:
        self.write(frame(HEADERS, FLAG_END_HEADERS, stream_id, block))

    def flush_stream(self, stream: ServerStream[Any]) -> None:
        """Send as much of the stream's queued DATA as both windows allow, then its trailers."""
        pending = stream.outbox
        peer = self.peer
        while pending:
            size = min(len(pending), peer.send_window, stream.send_window, peer.max_frame)
            if size <= 0:
                self._blocked[stream.stream_id] = stream
                return
            self.write(frame(DATA, 0, stream.stream_id, bytes(pending[:size])))
            del pending[:size]
            peer.send_window -= size
            stream.send_window -= size
        if stream.trailers is not None:
            flags = FLAG_END_HEADERS | FLAG_END_STREAM
            self.write(frame(HEADERS, flags, stream.stream_id, stream.trailers))
            stream.trailers = None
            self.forget(stream.stream_id)

    def _unblock(self) -> None:
        for stream_id in list(self._blocked):
            stream = self._blocked.pop(stream_id)
            self.flush_stream(stream)
            if self.peer.send_window <= 0:
                return

    def end_stream(self, stream_id: int, status: Status, message: str | None) -> None:
        """Answer a call that has sent nothing yet: one HEADERS frame, response headers and
        status together (gRPC's trailers-only reply)."""
        self.forget(stream_id)
        block = RESPONSE_HEADERS + _trailers(status, message)
        self.write(frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, stream_id, block))

    def refuse(self, stream_id: int, ended: bool, status: Status, message: str) -> None:
        """A call that fails before its handler sees it: trailers-only, and, if the client is
        still sending, RST_STREAM NO_ERROR so it stops (RFC 9113, 8.1; grpc-go does both)."""
        self.end_stream(stream_id, status, message)
        if not ended:
            self.reset(stream_id, NO_ERROR)

    def reset(self, stream_id: int, code: int) -> None:
        """End one stream with RST_STREAM: its handler is cancelled, its buffers dropped."""
        stream = self.forget(stream_id)
        self.write(frame(RST_STREAM, 0, stream_id, U32.pack(code)))
        if stream is not None:
            stream.abandon()

    def forget(self, stream_id: int) -> ServerStream[Any] | None:
        self._blocked.pop(stream_id, None)
        stream = self.streams.pop(stream_id, None)
        if stream is not None:
            stream.drop_buffers()
        return stream

    def replenish(self, stream_id: int, increment: int) -> None:
        self.write(frame(WINDOW_UPDATE, 0, stream_id, U32.pack(increment)))

    def go_away(self, code: int, reason: str) -> None:
        if code != NO_ERROR:
            log.warning("closing a connection from Vault", extra={"reason": reason})
        payload = U32.pack(self._last_stream_id) + U32.pack(code)
        self.write(frame(GOAWAY, 0, 0, payload))
        self._flush()
        if self._transport is not None:
            self._transport.close()


def _metadata_item(name: bytes, value: bytes) -> tuple[str, str | bytes]:
    """One metadata entry; ValueError for a ``-bin`` value that is not base64 (padded or
    not, as grpc-go accepts)."""
    key = name.decode("latin-1")
    if key.endswith("-bin"):
        if len(value) % 4 == 1:
            raise ValueError("truncated base64")
        return key, base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
    return key, value.decode("latin-1")


class ServerStream(Generic[R]):
    """One call as its handler sees it: the request messages (``recv_message``, or ``async
    for``), the caller's metadata and deadline, and the replies it sends. A handler that
    raises ``RpcError`` ends the call with that status; one that returns ends it OK."""

    def __init__(
        self,
        connection: ServerConnection,
        stream_id: int,
        method: Method,
        metadata: dict[str, list[str | bytes]],
        deadline: float | None,
        user_agent: str,
    ) -> None:
        self._connection = connection
        self.stream_id = stream_id
        self._method = method
        self.metadata = metadata
        self.deadline = deadline  # a time.monotonic() instant
        self.user_agent = user_agent
        self.send_window = connection.peer.initial_window
        self.outbox = bytearray()
        self.trailers: bytes | None = None
        limits = connection.limits
        # Request messages not yet taken by the handler (None: a compressed one), their bytes
        # as the windows count them, and the one still arriving.
        self._inbox: collections.deque[tuple[bytes | None, int]] = collections.deque()
        self._inbox_bytes = 0
        self._messages_in = MessageReader(limits.max_message)
        self._window = ReceiveWindow(stream_id, limits.stream_window)
        self._remote_closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._headers_sent = False
        self._finished = False
        self._abandoned = False
        self._expired = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self._connection.loop.create_task(self._run())
        if self.deadline is not None:
            self._connection.watch_deadline(self.deadline)

    # --- from the connection ---------------------------------------------------------------

    def data_received(self, data: bytes, counted: int, end: bool) -> None:
        connection = self._connection
        if self._remote_closed:
            connection.reset(self.stream_id, STREAM_CLOSED)
            return
        self._window.receive(counted)
        if data:
            connection.hold(len(data))
            try:
                messages = self._messages_in.feed(data)
            except RpcError as exc:  # announced larger than we accept
                self._refuse(exc)
                return
            for compressed, message in messages:
                # A compressed message (never offered, so never expected) is refused when read.
                size = len(message) + MESSAGE_PREFIX.size
                self._inbox.append((None if compressed else message, size))
                self._inbox_bytes += size
        if end:
            self._remote_closed = True
        else:
            # What the handler has not taken counts against the window; a message still
            # arriving does not, so one larger than the window can complete.
            increment = self._window.grant(self._window.size - self._inbox_bytes)
            if increment:
                connection.replenish(self.stream_id, increment)
        self._wake()

    def drop_buffers(self) -> None:
        """The stream is over: what it held for its handler is given back to the connection."""
        held = self._inbox_bytes + self._messages_in.pending
        self._inbox.clear()
        self._inbox_bytes = 0
        self._messages_in.clear()
        if held:
            self._connection.release(held)

    def _refuse(self, error: RpcError) -> None:
        """Fail the call for what the client sent: the status, then a reset if the client is
        still sending (grpc-go answers a message over its limit the same way)."""
        if self._finished:
            return
        self._finished = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._headers_sent:
            flags = FLAG_END_HEADERS | FLAG_END_STREAM
            block = _trailers(error.status, error.message)
            self._connection.write(frame(HEADERS, flags, self.stream_id, block))
            if self._remote_closed:
                self._connection.forget(self.stream_id)
            else:
                self._connection.reset(self.stream_id, NO_ERROR)
        else:
            self._connection.refuse(
                self.stream_id, self._remote_closed, error.status, error.message
            )

    def abandon(self) -> None:
        """The peer reset the stream or the connection is gone: stop the handler, send nothing."""
        self._abandoned = True
        self._finished = True
        self._wake()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def expire(self) -> None:
        """Its deadline has passed: the handler is cancelled, the call ends DEADLINE_EXCEEDED."""
        self._expired = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- what handlers call ----------------------------------------------------------------

    async def recv_message(self) -> R | None:
        """The next request message, or None once the caller has sent them all."""
        while not self._inbox:
            if self._abandoned:
                raise StreamTerminated("stream reset by the peer")
            if self._remote_closed:
                if self._messages_in.pending:
                    raise RpcError(Status.INTERNAL, "stream ended inside a message")
                return None
            self._waiter = self._connection.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data, size = self._inbox.popleft()
        self._inbox_bytes -= size
        self._connection.release(size)
        if not self._remote_closed:
            increment = self._window.grant(self._window.size - self._inbox_bytes)
            if increment:
                self._connection.replenish(self.stream_id, increment)
        if data is None:
            raise RpcError(Status.UNIMPLEMENTED, "compressed messages are not supported")
        try:
            message = self._method.request_type.FromString(data)
        except Exception:
            raise RpcError(Status.INTERNAL, "could not decode the request message") from None
        return message  # type: ignore[return-value]  # the method's request type is R

    def __aiter__(self) -> AsyncIterator[R]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[R]:
        while (message := await self.recv_message()) is not None:
            yield message

    async def send_initial_metadata(self) -> None:
        if not self._headers_sent and not self._abandoned:
            self._headers_sent = True
            self._connection.send_headers(self.stream_id, RESPONSE_HEADERS)

    async def send_message(self, message: Message) -> None:
        if self._finished:
            raise StreamTerminated("the call has ended")
        await self.send_initial_metadata()
        body = message.SerializeToString()
        self.outbox += MESSAGE_PREFIX.pack(0, len(body))
        self.outbox += body
        self._connection.flush_stream(self)

    def _finish(self, status: Status, message: str | None) -> None:
        if self._finished:
            return
        self._finished = True
        if not self._headers_sent:
            # Trailers-only: nothing was sent, so the status goes with the response headers.
            self._connection.end_stream(self.stream_id, status, message)
            return
        self.trailers = _trailers(status, message)
        self._connection.flush_stream(self)

    async def _run(self) -> None:
        try:
            await self._method.func(self)
        except RpcError as exc:
            self._finish(exc.status, exc.message)
        except asyncio.CancelledError:
            if self._expired and not self._abandoned:
                self._finish(Status.DEADLINE_EXCEEDED, "Deadline exceeded")
        except StreamTerminated:
            pass
        except Exception as exc:
            name = getattr(self._method.func, "__qualname__", "?")
            log.error("request handler failed", exc_info=exc, extra={"method": name})
            self._finish(Status.UNKNOWN, "Internal Server Error")
        else:
            self._finish(Status.OK, None)
