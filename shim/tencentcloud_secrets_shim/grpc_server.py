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
A peer that breaks the protocol gets GOAWAY with the matching error code and the connection
is closed; it never reaches a handler. It does not offer server push, compression, or
priorities (none is used by gRPC clients).

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
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from . import hpack_codec
from .http2 import (
    COMPRESSION_ERROR,
    CONTINUATION,
    DATA,
    DEFAULT_FRAME_SIZE,
    DEFAULT_WINDOW,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    GOAWAY,
    HEADERS,
    MAX_FRAME_SIZE_LIMIT,
    MAX_WINDOW,
    NO_ERROR,
    PING,
    PREFACE,
    PRIORITY,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    REFUSED_STREAM,
    RST_STREAM,
    SETTING,
    SETTINGS,
    SETTINGS_ENABLE_PUSH,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_CONCURRENT_STREAMS,
    SETTINGS_MAX_FRAME_SIZE,
    SETTINGS_MAX_HEADER_LIST_SIZE,
    STREAM_CLOSED,
    U32,
    WINDOW_UPDATE,
    ConnectionProtocolError,
    frame,
    frame_header,
    header_fragment,
    unpad,
)
from .rpc import RpcError, Status, decode_timeout, encode_message

log = logging.getLogger(__name__)

# What we let the peer send: a request body of any size streams through without waiting for a
# window update, because windows are topped up as soon as a quarter has been used.
STREAM_WINDOW = 1 << 20
CONNECTION_WINDOW = 1 << 24
# Calls in progress at once on one connection: beyond it Vault queues them on its side
# instead of the plugin holding a task and a queued job for each (they run 32 at a time
# per mount anyway).
MAX_STREAMS = 1000
MAX_HEADER_BLOCK = 1 << 20  # bytes of one encoded header block, CONTINUATIONs included
MAX_GRPC_MESSAGE_CHARS = 4096  # of an error message in a trailer, after percent-encoding

_MESSAGE_PREFIX = struct.Struct(">BL")

_CONTENT_TYPE_GRPC = hpack_codec.literal_with_static_name(31, b"application/grpc")
RESPONSE_HEADERS = hpack_codec.indexed(8) + _CONTENT_TYPE_GRPC  # :status 200
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
        self, services: Iterable[dict[bytes, Method]], *, max_streams: int = MAX_STREAMS
    ) -> None:
        self.max_streams = max_streams
        self._methods: dict[bytes, Method] = {}
        for methods in services:
            self._methods.update(methods)
        self._server: asyncio.AbstractServer | None = None
        self.connections: set[Connection] = set()

    def method(self, path: bytes) -> Method | None:
        return self._methods.get(path)

    async def start(self, *, path: str, ssl: ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: Connection(self), path, ssl=ssl)

    def close(self) -> None:
        """Stop accepting; tell every peer we are going away and close its connection."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.go_away(NO_ERROR, "server shutting down")

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()


class Connection(asyncio.Protocol):
    """One HTTP/2 connection: parses frames, keeps flow control, owns its streams."""

    def __init__(self, server: GrpcServer) -> None:
        self._server = server
        self.loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._preface_seen = False
        self._decoder = hpack_codec.HeaderDecoder()
        self.streams: dict[int, ServerStream[Any]] = {}
        self._last_stream_id = 0
        self._going_away = False
        # Header block being assembled from HEADERS + CONTINUATION: stream, flags, bytes.
        self._partial: tuple[int, int, bytearray] | None = None
        # Sending: the peer's limits.
        self.send_window = DEFAULT_WINDOW
        self.peer_initial_window = DEFAULT_WINDOW
        self.peer_max_frame = DEFAULT_FRAME_SIZE
        self._blocked: dict[int, ServerStream[Any]] = {}  # streams waiting for window, in order
        # Receiving: bytes consumed since our last WINDOW_UPDATE for the connection.
        self._unacked = 0
        self._out: list[bytes] = []

    # --- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(self)
        settings = b"".join(
            SETTING.pack(key, value)
            for key, value in (
                (SETTINGS_ENABLE_PUSH, 0),
                (SETTINGS_MAX_CONCURRENT_STREAMS, self._server.max_streams),
                (SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW),
                (SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BLOCK),
            )
        )
        self.write(frame(SETTINGS, 0, 0, settings))
        self.write(frame(WINDOW_UPDATE, 0, 0, U32.pack(CONNECTION_WINDOW - DEFAULT_WINDOW)))

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._out.clear()
        for stream in list(self.streams.values()):
            stream.abandon()
        self.streams.clear()
        self._blocked.clear()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        pos = 0
        try:
            if not self._preface_seen:
                if len(buffer) < len(PREFACE):
                    if not PREFACE.startswith(bytes(buffer)):
                        raise ConnectionProtocolError(PROTOCOL_ERROR, "not an HTTP/2 preface")
                    return
                if buffer[: len(PREFACE)] != PREFACE:
                    raise ConnectionProtocolError(PROTOCOL_ERROR, "not an HTTP/2 preface")
                self._preface_seen = True
                pos = len(PREFACE)
            end = len(buffer)
            while end - pos >= 9:
                length, kind, flags, stream_id = frame_header(buffer, pos)
                if length > DEFAULT_FRAME_SIZE:
                    raise ConnectionProtocolError(FRAME_SIZE_ERROR, f"{length}-byte frame")
                if end - pos - 9 < length:
                    break
                payload = bytes(buffer[pos + 9 : pos + 9 + length])
                pos += 9 + length
                self._frame(kind, flags, stream_id, payload)
                if self._transport is None or self._transport.is_closing():
                    return
        except ConnectionProtocolError as exc:
            self.go_away(exc.code, str(exc))
            return
        del buffer[:pos]

    # --- receiving -------------------------------------------------------------------------

    def _frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self._partial is not None and kind != CONTINUATION:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "header block interrupted")
        if kind == DATA:
            self._on_data(flags, stream_id, payload)
        elif kind == HEADERS:
            self._on_headers(flags, stream_id, payload)
        elif kind == CONTINUATION:
            self._on_continuation(flags, stream_id, payload)
        elif kind == WINDOW_UPDATE:
            self._on_window_update(stream_id, payload)
        elif kind == SETTINGS:
            self._on_settings(flags, stream_id, payload)
        elif kind == PING:
            if len(payload) != 8 or stream_id:
                raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed PING")
            if not flags & FLAG_ACK:
                self.write(frame(PING, FLAG_ACK, 0, payload))
        elif kind == RST_STREAM:
            if len(payload) != 4 or not stream_id:
                raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed RST_STREAM")
            stream = self._forget(stream_id)
            if stream is not None:
                stream.abandon()
        elif kind == GOAWAY:
            # The peer opens no more streams; those it has are still answered.
            self._going_away = True
        elif kind == PUSH_PROMISE:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "a client cannot push")
        elif kind == PRIORITY and len(payload) != 5:
            raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed PRIORITY")
        # Unknown frame types are ignored (RFC 9113, 4.1).

    def _on_data(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "DATA on stream 0")
        counted = len(payload)  # padding counts against the window too
        self._unacked += counted
        if self._unacked >= CONNECTION_WINDOW // 4:
            self.replenish(0, self._unacked)
            self._unacked = 0
        if flags & FLAG_PADDED:
            payload = unpad(payload)
        stream = self.streams.get(stream_id)
        if stream is None:
            if stream_id > self._last_stream_id:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "DATA on an idle stream")
            self.reset(stream_id, STREAM_CLOSED)
            return
        stream.data_received(payload, counted, bool(flags & FLAG_END_STREAM))

    def _on_headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "HEADERS on stream 0")
        payload = header_fragment(flags, payload)
        if flags & FLAG_END_HEADERS:
            self._header_block(stream_id, flags, payload)
        else:
            self._partial = (stream_id, flags, bytearray(payload))

    def _on_continuation(self, flags: int, stream_id: int, payload: bytes) -> None:
        if self._partial is None or self._partial[0] != stream_id:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "unexpected CONTINUATION")
        block = self._partial[2]
        block += payload
        if len(block) > MAX_HEADER_BLOCK:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "header block too large")
        if flags & FLAG_END_HEADERS:
            first_flags = self._partial[1]
            self._partial = None
            self._header_block(stream_id, first_flags, bytes(block))

    def _header_block(self, stream_id: int, flags: int, block: bytes) -> None:
        # Decode every block, even one we will refuse: the table must follow the peer's.
        try:
            headers = self._decoder.decode(block)
        except hpack_codec.CompressionError as exc:
            raise ConnectionProtocolError(COMPRESSION_ERROR, str(exc)) from None
        end_stream = bool(flags & FLAG_END_STREAM)
        stream = self.streams.get(stream_id)
        if stream is not None:  # trailers from the client
            if not end_stream:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "second HEADERS without END_STREAM")
            stream.data_received(b"", 0, True)
            return
        if stream_id % 2 == 0 or stream_id <= self._last_stream_id:
            raise ConnectionProtocolError(PROTOCOL_ERROR, f"client cannot open stream {stream_id}")
        self._last_stream_id = stream_id
        if self._going_away or len(self.streams) >= self._server.max_streams:
            # Not processed, so the client may send it again (grpc-go does, transparently).
            self.reset(stream_id, REFUSED_STREAM)
            return
        self._open_stream(stream_id, headers, end_stream)

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
            elif name == b"grpc-timeout":
                timeout = value
            elif name == b"user-agent":
                user_agent = value
            elif name not in _NOT_METADATA:
                key, item = _metadata_item(name, value)
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
                self.end_stream(stream_id, Status.INVALID_ARGUMENT, "malformed grpc-timeout")
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

    def _on_window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed WINDOW_UPDATE")
        increment = U32.unpack(payload)[0] & 0x7FFFFFFF
        if not stream_id:
            if not increment:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "zero window increment")
            self.send_window += increment
            if self.send_window > MAX_WINDOW:
                raise ConnectionProtocolError(FLOW_CONTROL_ERROR, "connection window overflow")
            self._unblock()
            return
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        if not increment or stream.send_window + increment > MAX_WINDOW:
            self.reset(stream_id, PROTOCOL_ERROR if not increment else FLOW_CONTROL_ERROR)
            stream.abandon()
            return
        stream.send_window += increment
        if stream_id in self._blocked:
            self._blocked.pop(stream_id)
            self.flush_stream(stream)

    def _on_settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & FLAG_ACK:
            if payload:
                raise ConnectionProtocolError(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        if len(payload) % 6:
            raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed SETTINGS")
        for offset in range(0, len(payload), 6):
            key, value = SETTING.unpack_from(payload, offset)
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise ConnectionProtocolError(FLOW_CONTROL_ERROR, "initial window too large")
                delta = value - self.peer_initial_window
                self.peer_initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta
            elif key == SETTINGS_MAX_FRAME_SIZE:
                if not DEFAULT_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT:
                    raise ConnectionProtocolError(PROTOCOL_ERROR, "bad SETTINGS_MAX_FRAME_SIZE")
                self.peer_max_frame = value
            elif key == SETTINGS_ENABLE_PUSH and value > 1:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "bad SETTINGS_ENABLE_PUSH")
            # The header table size only limits an encoder that uses the table; ours does not.
        self.write(frame(SETTINGS, FLAG_ACK, 0))
        self._unblock()

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
        while pending:
            size = min(len(pending), self.send_window, stream.send_window, self.peer_max_frame)
            if size <= 0:
                self._blocked[stream.stream_id] = stream
                return
            self.write(frame(DATA, 0, stream.stream_id, bytes(pending[:size])))
            del pending[:size]
            self.send_window -= size
            stream.send_window -= size
        if stream.trailers is not None:
            flags = FLAG_END_HEADERS | FLAG_END_STREAM
            self.write(frame(HEADERS, flags, stream.stream_id, stream.trailers))
            stream.trailers = None
            self.streams.pop(stream.stream_id, None)

    def _unblock(self) -> None:
        for stream_id in list(self._blocked):
            stream = self._blocked.pop(stream_id)
            self.flush_stream(stream)
            if self.send_window <= 0:
                return

    def end_stream(self, stream_id: int, status: Status, message: str | None) -> None:
        """Answer a call that has sent nothing yet: one HEADERS frame, response headers and
        status together (gRPC's trailers-only reply)."""
        self._forget(stream_id)
        block = RESPONSE_HEADERS + _trailers(status, message)
        self.write(frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, stream_id, block))

    def reset(self, stream_id: int, code: int) -> None:
        self._forget(stream_id)
        self.write(frame(RST_STREAM, 0, stream_id, U32.pack(code)))

    def _forget(self, stream_id: int) -> ServerStream[Any] | None:
        self._blocked.pop(stream_id, None)
        return self.streams.pop(stream_id, None)

    def replenish(self, stream_id: int, consumed: int) -> None:
        self.write(frame(WINDOW_UPDATE, 0, stream_id, U32.pack(consumed)))

    def go_away(self, code: int, reason: str) -> None:
        if code != NO_ERROR:
            log.warning("closing a connection from Vault", extra={"reason": reason})
        payload = U32.pack(self._last_stream_id) + U32.pack(code)
        self.write(frame(GOAWAY, 0, 0, payload))
        self._flush()
        if self._transport is not None:
            self._transport.close()


def _metadata_item(name: bytes, value: bytes) -> tuple[str, str | bytes]:
    key = name.decode("latin-1")
    if key.endswith("-bin"):
        return key, base64.b64decode(value + b"=" * (-len(value) % 4))
    return key, value.decode("latin-1")


class ServerStream(Generic[R]):
    """One call as its handler sees it: the request messages (``recv_message``, or ``async
    for``), the caller's metadata and deadline, and the replies it sends. A handler that
    raises ``RpcError`` ends the call with that status; one that returns ends it OK."""

    def __init__(
        self,
        connection: Connection,
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
        self.send_window = connection.peer_initial_window
        self.outbox = bytearray()
        self.trailers: bytes | None = None
        self._inbox: collections.deque[bytes | None] = collections.deque()
        self._partial = bytearray()
        self._remote_closed = False
        self._unacked = 0
        self._waiter: asyncio.Future[None] | None = None
        self._headers_sent = False
        self._finished = False
        self._abandoned = False
        self._expired = False
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = self._connection.loop
        self._task = loop.create_task(self._run())
        if self.deadline is not None:
            self._timer = loop.call_later(self.deadline - time.monotonic(), self._expire)

    # --- from the connection ---------------------------------------------------------------

    def data_received(self, data: bytes, counted: int, end: bool) -> None:
        if self._remote_closed:
            self._connection.reset(self.stream_id, STREAM_CLOSED)
            self.abandon()
            return
        if data:
            partial = self._partial
            partial += data
            while len(partial) >= 5:
                compressed, length = _MESSAGE_PREFIX.unpack_from(partial)
                if len(partial) < 5 + length:
                    break
                # A compressed message (never offered, so never expected) is refused when read.
                self._inbox.append(None if compressed else bytes(partial[5 : 5 + length]))
                del partial[: 5 + length]
        if end:
            self._remote_closed = True
        elif counted:
            self._unacked += counted
            if self._unacked >= STREAM_WINDOW // 4:
                self._connection.replenish(self.stream_id, self._unacked)
                self._unacked = 0
        self._wake()

    def abandon(self) -> None:
        """The peer reset the stream or the connection is gone: stop the handler, send nothing."""
        self._abandoned = True
        self._finished = True
        self._wake()
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _expire(self) -> None:
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
                if self._partial:
                    raise RpcError(Status.INTERNAL, "stream ended inside a message")
                return None
            self._waiter = self._connection.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._inbox.popleft()
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
        self.outbox += _MESSAGE_PREFIX.pack(0, len(body))
        self.outbox += body
        self._connection.flush_stream(self)

    def _finish(self, status: Status, message: str | None) -> None:
        if self._finished:
            return
        self._finished = True
        if self._timer is not None:
            self._timer.cancel()
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
