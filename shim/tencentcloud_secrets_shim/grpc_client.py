"""A blocking gRPC client for unary calls, one connection per calling thread: how the engine
reaches the Storage and SystemView services Vault serves for each mount.

Why blocking, and why not grpclib: engine code is synchronous and runs on worker threads, and
each worker makes one call at a time. An event loop per thread would run only for the length
of one call, so all it would add is its own cost: a task, futures, and a general-purpose
HTTP/2 state machine (h2) that also keeps a record of every closed stream, up to 65,536 per
connection. Here a call is one ``sendall`` of HEADERS and DATA and a read loop until the
trailers arrive; the connection keeps only its windows and its header decoder.
Frames are read and checked by the same core as the server's (``h2core``), and a reply is
held to the same limits (header list, message size).

Between calls nobody reads the socket, so Vault's keepalive pings wait for the next call;
a connection Vault closed meanwhile shows up as a broken call, which the caller
(``remote.py``) repeats once on a fresh connection. Vault's PINGs and SETTINGS that arrive
during a call are answered at once.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from typing import TypeVar

from google.protobuf.message import Message

from . import hpack_codec, rpc
from .h2core import (
    Frame,
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
    CONTINUATION,
    DATA,
    DEFAULT_WINDOW,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    GOAWAY,
    HEADERS,
    MAX_HEADER_BLOCK,
    MAX_HEADER_LIST_SIZE,
    PING,
    PREFACE,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    REFUSED_STREAM,
    RST_STREAM,
    SETTING,
    SETTINGS,
    SETTINGS_ENABLE_PUSH,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_HEADER_LIST_SIZE,
    U32,
    WINDOW_UPDATE,
    ConnectionProtocolError,
    frame,
)
from .rpc import MAX_MESSAGE_SIZE, MESSAGE_PREFIX, MessageReader

M = TypeVar("M", bound=Message)

RECEIVE_WINDOW = 1 << 22  # per stream and for the connection; topped up at a quarter used
_READ_SIZE = 1 << 16
_MAX_STREAM_ID = 2**31 - 1
_POST = hpack_codec.indexed(3)  # :method POST
_GRPC = hpack_codec.literal_with_static_name(31, b"application/grpc") + hpack_codec.literal(
    b"te", b"trailers"
)


class BrokenConnectionError(Exception):
    """The connection failed underneath the call (closed, reset, GOAWAY before our stream,
    a protocol error): a fresh connection may succeed."""


class _Call:
    """One call in progress: what is left to send and what has come back."""

    def __init__(self, stream_id: int, body: bytes, send_window: int) -> None:
        self.stream_id = stream_id
        self.outgoing = memoryview(MESSAGE_PREFIX.pack(0, len(body)) + body)
        self.sent = 0
        self.send_window = send_window
        self.window = ReceiveWindow(stream_id, RECEIVE_WINDOW)
        self.reader = MessageReader(MAX_MESSAGE_SIZE)
        self.messages: list[tuple[bool, bytes]] = []
        self.headers_seen = False


class UnaryClient:
    """One HTTP/2 connection to a Unix socket, for unary calls made one at a time."""

    def __init__(self, path: str, context: ssl.SSLContext | None) -> None:
        self._path = path
        self._context = context
        self._scheme = hpack_codec.indexed(7 if context else 6)  # :scheme https / http
        self._sock: socket.socket | None = None
        self._path_blocks: dict[str, bytes] = {}
        self._start_state()

    def _start_state(self) -> None:
        """What a new connection starts with: HTTP/2's defaults until the peer's SETTINGS."""
        self._reader = FrameReader()
        self._blocks = HeaderBlocks(MAX_HEADER_BLOCK)
        self._decoder = hpack_codec.HeaderDecoder(max_list_size=MAX_HEADER_LIST_SIZE)
        self._next_stream = 1
        self._peer = PeerSettings()
        self._window = ReceiveWindow(0, RECEIVE_WINDOW, DEFAULT_WINDOW)
        self._going_away = False

    def close(self) -> None:
        """Close the connection; a call blocked on it in another thread fails at once."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def call(self, method: str, request: Message, reply_type: type[M], timeout: float) -> M:
        """Call ``method`` (``/package.Service/Method``) and return its reply.

        Raises ``rpc.RpcError`` when Vault answers with a status (or its reply breaks a limit
        of ours: the stream is reset, the connection kept), ``BrokenConnectionError`` or
        ``OSError`` when the connection fails, ``TimeoutError`` when no answer comes in time
        (the connection is closed in the last three cases)."""
        deadline = time.monotonic() + timeout
        try:
            if self._sock is None or self._going_away or self._next_stream > _MAX_STREAM_ID:
                self.close()
                self._connect(timeout)
            return self._call(method, request, reply_type, deadline)
        except OSError:  # TimeoutError included
            self.close()
            raise
        except (BrokenConnectionError, ConnectionProtocolError) as exc:
            self.close()
            raise BrokenConnectionError(str(exc)) from None
        finally:
            if self._going_away:
                self.close()

    # --- connection ------------------------------------------------------------------------

    def _connect(self, timeout: float) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(self._path)
            if self._context is not None:
                sock = self._context.wrap_socket(sock, server_hostname="localhost")
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._start_state()
        settings = (
            SETTING.pack(SETTINGS_ENABLE_PUSH, 0)
            + SETTING.pack(SETTINGS_INITIAL_WINDOW_SIZE, RECEIVE_WINDOW)
            + SETTING.pack(SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST_SIZE)
        )
        increment = self._window.grant(RECEIVE_WINDOW)
        sock.sendall(
            PREFACE
            + frame(SETTINGS, 0, 0, settings)
            + frame(WINDOW_UPDATE, 0, 0, U32.pack(increment))
        )

    # --- one call --------------------------------------------------------------------------

    def _call(self, method: str, request: Message, reply_type: type[M], deadline: float) -> M:
        sock = self._sock
        assert sock is not None
        call = _Call(self._next_stream, request.SerializeToString(), self._peer.initial_window)
        self._next_stream += 2
        remaining = max(deadline - time.monotonic(), 0.001)
        block = self._headers_for(method) + hpack_codec.literal(
            b"grpc-timeout", rpc.encode_timeout(remaining).encode()
        )
        out = [frame(HEADERS, FLAG_END_HEADERS, call.stream_id, block)]
        while True:
            self._send_data(call, out)
            if out:
                sock.sendall(b"".join(out))
                out.clear()
            kind, flags, sid, payload = self._read_frame(sock, deadline)
            try:
                trailers = self._frame(call, kind, flags, sid, payload, out)
            except StreamError as exc:
                self._reset(sock, exc.stream_id, exc.code)
                if exc.stream_id == call.stream_id:
                    raise rpc.RpcError(rpc.Status.INTERNAL, str(exc)) from None
                continue
            except rpc.RpcError:  # the reply broke a limit of ours: only this call fails
                self._reset(sock, call.stream_id, CANCEL)
                raise
            if trailers is not None:
                return _reply(trailers, call, reply_type)

    def _send_data(self, call: _Call, out: list[bytes]) -> None:
        """Queue what the windows allow; the last DATA frame ends our side of the stream."""
        outgoing = call.outgoing
        peer = self._peer
        while call.sent < len(outgoing):
            left = len(outgoing) - call.sent
            size = min(left, peer.send_window, call.send_window, peer.max_frame)
            if size <= 0:
                return
            end = call.sent + size
            flags = FLAG_END_STREAM if end == len(outgoing) else 0
            out.append(frame(DATA, flags, call.stream_id, bytes(outgoing[call.sent : end])))
            call.sent = end
            peer.send_window -= size
            call.send_window -= size

    def _frame(
        self, call: _Call, kind: int, flags: int, sid: int, payload: bytes, out: list[bytes]
    ) -> list[hpack_codec.Header] | None:
        """Handle one frame; returns the call's trailers once they arrive."""
        self._blocks.check(kind)
        if kind == DATA:
            data = data_payload(flags, sid, payload)
            self._window.receive(len(payload))
            if increment := self._window.grant(RECEIVE_WINDOW):
                out.append(frame(WINDOW_UPDATE, 0, 0, U32.pack(increment)))
            if sid == call.stream_id:
                call.window.receive(len(payload))
                call.messages += call.reader.feed(data)
                if flags & FLAG_END_STREAM:
                    raise BrokenConnectionError("the reply ended without trailers")
                if increment := call.window.grant(RECEIVE_WINDOW):
                    out.append(frame(WINDOW_UPDATE, 0, sid, U32.pack(increment)))
        elif kind == HEADERS:
            block = self._blocks.headers(flags, sid, payload)
            if block is not None:
                return self._header_block(call, sid, *block)
        elif kind == CONTINUATION:
            whole = self._blocks.continuation(flags, sid, payload)
            if whole is not None:
                return self._header_block(call, *whole)
        elif kind == SETTINGS:
            delta = self._peer.apply(flags, sid, payload)
            if delta is not None:
                call.send_window += delta
                out.append(frame(SETTINGS, FLAG_ACK, 0))
        elif kind == WINDOW_UPDATE:
            increment = self._peer.window_update(sid, payload)
            if sid == call.stream_id:
                call.send_window = grow_window(sid, call.send_window, increment)
        elif kind == PING:
            check_ping(sid, payload)
            if not flags & FLAG_ACK:
                out.append(frame(PING, FLAG_ACK, 0, payload))
        elif kind == RST_STREAM:
            code = rst_stream_code(sid, payload)
            if sid == call.stream_id:
                if code == REFUSED_STREAM:
                    raise BrokenConnectionError("Vault refused the stream")
                raise rpc.RpcError(rpc.Status.INTERNAL, f"Vault reset the call (code {code})")
        elif kind == GOAWAY:
            last_stream, _ = goaway_fields(sid, payload)
            self._going_away = True
            if last_stream < call.stream_id:  # ours was never processed: safe to repeat
                raise BrokenConnectionError("Vault is closing the connection")
        elif kind == PUSH_PROMISE:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "push was disabled")
        return None

    def _header_block(
        self, call: _Call, sid: int, end_stream: int, block: bytes
    ) -> list[hpack_codec.Header] | None:
        try:
            fields = self._decoder.decode(block)
        except hpack_codec.CompressionError as exc:
            raise BrokenConnectionError(f"undecodable headers from Vault: {exc}") from None
        except hpack_codec.HeaderListTooLarge as exc:
            if sid != call.stream_id:
                return None
            raise rpc.RpcError(rpc.Status.INTERNAL, str(exc)) from None
        if sid != call.stream_id:
            return None
        if not call.headers_seen:
            call.headers_seen = True
            status = dict(fields).get(b":status")
            if status != b"200":
                raise BrokenConnectionError(f"HTTP status {status!r} from Vault")
        return fields if end_stream else None

    def _reset(self, sock: socket.socket, stream_id: int, code: int) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(frame(RST_STREAM, 0, stream_id, U32.pack(code)))

    def _headers_for(self, method: str) -> bytes:
        block = self._path_blocks.get(method)
        if block is None:
            block = self._path_blocks[method] = (
                _POST
                + self._scheme
                + hpack_codec.literal_with_static_name(4, method.encode())  # :path
                + hpack_codec.literal_with_static_name(1, b"localhost")  # :authority
                + _GRPC
            )
        return block

    def _read_frame(self, sock: socket.socket, deadline: float) -> Frame:
        reader = self._reader
        while (item := reader.next_frame()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Vault in time")
            sock.settimeout(left)
            data = sock.recv(_READ_SIZE)
            if not data:
                raise BrokenConnectionError("Vault closed the connection")
            reader.feed(data)
        return item


def _reply(trailers: list[hpack_codec.Header], call: _Call, reply_type: type[M]) -> M:
    status = message = None
    for name, value in trailers:
        if name == b"grpc-status":
            status = value
        elif name == b"grpc-message":
            message = value
    if status is None:
        raise BrokenConnectionError("the reply has no grpc-status")
    try:
        code = rpc.Status(int(status))
    except ValueError:
        code = rpc.Status.UNKNOWN
    if code is not rpc.Status.OK:
        raise rpc.RpcError(code, rpc.decode_message(message) if message else "")
    if len(call.messages) != 1 or call.messages[0][0] or call.reader.pending:
        raise BrokenConnectionError("the reply is not one uncompressed message")
    return reply_type.FromString(call.messages[0][1])
