"""A blocking gRPC client for unary calls, one connection per calling thread: how the engine
reaches the Storage and SystemView services Vault serves for each mount.

Why blocking, and why not grpclib: engine code is synchronous and runs on worker threads, and
each worker makes one call at a time. An event loop per thread (what this replaced) was only
ever run for the length of one call, so all it added was its own cost: a task, futures, and a
general-purpose HTTP/2 state machine (h2) that also keeps a record of every closed stream, up
to 65,536 per connection. Here a call is one ``sendall`` of HEADERS and DATA and a read loop
until the trailers arrive; the connection keeps only its windows and its header decoder.

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
from .http2 import (
    CONTINUATION,
    DATA,
    DEFAULT_FRAME_SIZE,
    DEFAULT_WINDOW,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLAG_PRIORITY,
    GOAWAY,
    HEADERS,
    MAX_WINDOW,
    PING,
    PREFACE,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    RST_STREAM,
    SETTING,
    SETTINGS,
    SETTINGS_ENABLE_PUSH,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_FRAME_SIZE,
    U32,
    WINDOW_UPDATE,
    ConnectionProtocolError,
    frame,
    frame_header,
    header_fragment,
    unpad,
)

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


class UnaryClient:
    """One HTTP/2 connection to a Unix socket, for unary calls made one at a time."""

    def __init__(self, path: str, context: ssl.SSLContext | None) -> None:
        self._path = path
        self._context = context
        self._scheme = hpack_codec.indexed(7 if context else 6)  # :scheme https / http
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._path_blocks: dict[str, bytes] = {}
        self._start_state()

    def _start_state(self) -> None:
        """What a new connection starts with: HTTP/2's defaults until the peer's SETTINGS."""
        self._buffer.clear()
        self._decoder = hpack_codec.HeaderDecoder()
        self._next_stream = 1
        self._send_window = DEFAULT_WINDOW
        self._peer_initial_window = DEFAULT_WINDOW
        self._peer_max_frame = DEFAULT_FRAME_SIZE
        self._unacked = 0
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

        Raises ``rpc.RpcError`` when Vault answers with a status, ``BrokenConnectionError`` or
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
        settings = SETTING.pack(SETTINGS_ENABLE_PUSH, 0) + SETTING.pack(
            SETTINGS_INITIAL_WINDOW_SIZE, RECEIVE_WINDOW
        )
        sock.sendall(
            PREFACE
            + frame(SETTINGS, 0, 0, settings)
            + frame(WINDOW_UPDATE, 0, 0, U32.pack(RECEIVE_WINDOW - DEFAULT_WINDOW))
        )

    # --- one call --------------------------------------------------------------------------

    def _call(self, method: str, request: Message, reply_type: type[M], deadline: float) -> M:
        sock = self._sock
        assert sock is not None
        stream_id = self._next_stream
        self._next_stream += 2
        body = request.SerializeToString()
        outgoing = memoryview(b"\x00" + U32.pack(len(body)) + body)
        remaining = max(deadline - time.monotonic(), 0.001)
        block = self._headers_for(method) + hpack_codec.literal(
            b"grpc-timeout", rpc.encode_timeout(remaining).encode()
        )
        stream_window = self._peer_initial_window
        out = [frame(HEADERS, FLAG_END_HEADERS, stream_id, block)]
        sent = 0
        reply = bytearray()
        headers_seen = False
        stream_unacked = 0
        # A header block waiting for CONTINUATION: its stream, its HEADERS flags, the bytes.
        partial: tuple[int, int, bytearray] | None = None

        while True:
            # Send what the windows allow; the last DATA frame ends our side of the stream.
            while sent < len(outgoing):
                size = min(
                    len(outgoing) - sent, self._send_window, stream_window, self._peer_max_frame
                )
                if size <= 0:
                    break
                last = sent + size == len(outgoing)
                chunk = bytes(outgoing[sent : sent + size])
                out.append(frame(DATA, FLAG_END_STREAM if last else 0, stream_id, chunk))
                sent += size
                self._send_window -= size
                stream_window -= size
            if out:
                sock.sendall(b"".join(out))
                out.clear()

            kind, flags, sid, payload = self._read_frame(sock, deadline)
            if partial is not None:
                if kind != CONTINUATION or sid != partial[0]:
                    raise ConnectionProtocolError(PROTOCOL_ERROR, "header block interrupted")
                partial[2].extend(payload)
                if not flags & FLAG_END_HEADERS:
                    continue
                kind, payload = HEADERS, bytes(partial[2])
                flags = partial[1] | FLAG_END_HEADERS
                partial = None
            if kind == DATA:
                self._unacked += len(payload)
                if self._unacked >= RECEIVE_WINDOW // 4:
                    out.append(frame(WINDOW_UPDATE, 0, 0, U32.pack(self._unacked)))
                    self._unacked = 0
                if sid != stream_id:
                    continue
                stream_unacked += len(payload)
                if flags & FLAG_PADDED:
                    payload = unpad(payload)
                reply += payload
                if flags & FLAG_END_STREAM:
                    raise BrokenConnectionError("the reply ended without trailers")
                if stream_unacked >= RECEIVE_WINDOW // 4:
                    out.append(frame(WINDOW_UPDATE, 0, stream_id, U32.pack(stream_unacked)))
                    stream_unacked = 0
            elif kind == HEADERS:
                payload = header_fragment(flags, payload)
                flags &= ~(FLAG_PADDED | FLAG_PRIORITY)  # what they describe is gone now
                if not flags & FLAG_END_HEADERS:
                    partial = (sid, flags, bytearray(payload))
                    continue
                try:
                    fields = self._decoder.decode(payload)
                except hpack_codec.CompressionError as exc:
                    raise BrokenConnectionError(f"undecodable headers from Vault: {exc}") from None
                if sid != stream_id:
                    continue
                if not headers_seen:
                    headers_seen = True
                    status = dict(fields).get(b":status")
                    if status != b"200":
                        raise BrokenConnectionError(f"HTTP status {status!r} from Vault")
                if flags & FLAG_END_STREAM:
                    return _reply(fields, reply, reply_type)
            elif kind == SETTINGS:
                if not flags & FLAG_ACK:
                    stream_window += self._apply_settings(payload)
                    out.append(frame(SETTINGS, FLAG_ACK, 0))
            elif kind == WINDOW_UPDATE:
                increment = U32.unpack(payload)[0] & 0x7FFFFFFF
                if sid == 0:
                    self._send_window += increment
                elif sid == stream_id:
                    stream_window += increment
                if self._send_window > MAX_WINDOW or stream_window > MAX_WINDOW:
                    raise BrokenConnectionError("flow-control window overflow")
            elif kind == PING:
                if not flags & FLAG_ACK:
                    out.append(frame(PING, FLAG_ACK, 0, payload))
            elif kind == RST_STREAM and sid == stream_id:
                code = U32.unpack(payload)[0]
                if code == REFUSED_STREAM:
                    raise BrokenConnectionError("Vault refused the stream")
                raise rpc.RpcError(rpc.Status.INTERNAL, f"Vault reset the call (code {code})")
            elif kind == GOAWAY:
                self._going_away = True
                last_stream = U32.unpack(payload[:4])[0] & 0x7FFFFFFF
                if last_stream < stream_id:  # ours was never processed: safe to repeat
                    raise BrokenConnectionError("Vault is closing the connection")

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

    def _apply_settings(self, payload: bytes) -> int:
        """Apply the peer's SETTINGS; returns the change to every open stream's window."""
        delta = 0
        for offset in range(0, len(payload) - len(payload) % 6, 6):
            key, value = SETTING.unpack_from(payload, offset)
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                delta += value - self._peer_initial_window
                self._peer_initial_window = value
            elif key == SETTINGS_MAX_FRAME_SIZE:
                self._peer_max_frame = value
        return delta

    def _read_frame(self, sock: socket.socket, deadline: float) -> tuple[int, int, int, bytes]:
        buffer = self._buffer
        while True:
            if len(buffer) >= 9:
                length, kind, flags, sid = frame_header(buffer)
                if len(buffer) >= 9 + length:
                    payload = bytes(buffer[9 : 9 + length])
                    del buffer[: 9 + length]
                    return kind, flags, sid, payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Vault in time")
            sock.settimeout(left)
            data = sock.recv(_READ_SIZE)
            if not data:
                raise BrokenConnectionError("Vault closed the connection")
            buffer += data


def _reply(trailers: list[hpack_codec.Header], body: bytearray, reply_type: type[M]) -> M:
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
    if len(body) < 5 or body[0] != 0 or U32.unpack_from(body, 1)[0] != len(body) - 5:
        raise BrokenConnectionError("the reply is not one uncompressed message")
    return reply_type.FromString(bytes(body[5:]))
