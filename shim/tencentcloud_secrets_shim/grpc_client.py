"""A blocking gRPC client for unary calls, one connection per calling thread: how the engine
reaches the Storage and SystemView services Vault serves for each mount.

Why blocking, and why not grpclib: engine code is synchronous and runs on worker threads, and
each worker makes one call at a time. An event loop per thread would run only for the length
of one call, so all it would add is its own cost: a task, futures, and a general-purpose
HTTP/2 state machine (h2) that also keeps a record of every closed stream, up to 65,536 per
connection. Here a call is one ``sendall`` of HEADERS and DATA and a read loop until the
trailers arrive; the connection keeps only its windows and its header decoder.
Frames are read and checked by the same core as the server's (``h2core``), and a call's
stream and reply by the same code as the asyncio client's (``grpc_call``), so a reply is held
to the same limits (header list, message size) and means the same to both clients.

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

__all__ = ["BrokenConnectionError", "UnaryClient"]

M = TypeVar("M", bound=Message)


class UnaryClient:
    """One HTTP/2 connection to a Unix socket, for unary calls made one at a time."""

    def __init__(self, path: str, context: ssl.SSLContext | None) -> None:
        self._path = path
        self._context = context
        self._headers = RequestHeaders(tls=context is not None)
        self._sock: socket.socket | None = None
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
            if self._sock is None or self._going_away or self._next_stream > MAX_STREAM_ID:
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
        sock.sendall(opening(self._window))

    # --- one call --------------------------------------------------------------------------

    def _call(self, method: str, request: Message, reply_type: type[M], deadline: float) -> M:
        sock = self._sock
        assert sock is not None
        call = UnaryCall(request.SerializeToString())
        call.open(self._next_stream, self._peer.initial_window)
        self._next_stream += 2
        block = self._headers.block(method, deadline - time.monotonic())
        out = [frame(HEADERS, FLAG_END_HEADERS, call.stream_id, block)]
        while True:
            call.data_frames(self._peer, out)
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
                return call.reply(trailers, reply_type)

    def _frame(
        self, call: UnaryCall, kind: int, flags: int, sid: int, payload: bytes, out: list[bytes]
    ) -> list[hpack_codec.Header] | None:
        """Handle one frame; returns the call's trailers once they arrive."""
        self._blocks.check(kind)
        if kind == DATA:
            data = data_payload(flags, sid, payload)
            self._window.receive(len(payload))
            if increment := self._window.grant(RECEIVE_WINDOW):
                out.append(frame(WINDOW_UPDATE, 0, 0, U32.pack(increment)))
            if sid == call.stream_id:
                increment = call.receive(data, len(payload), flags & FLAG_END_STREAM)
                if increment:
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
        self, call: UnaryCall, sid: int, end_stream: int, block: bytes
    ) -> list[hpack_codec.Header] | None:
        try:
            fields = decode_headers(self._decoder, block)  # every block: the table must follow
        except rpc.RpcError:  # over our header list limit
            if sid != call.stream_id:
                return None
            raise
        if sid != call.stream_id:
            return None
        return call.header_block(fields, end_stream)

    def _reset(self, sock: socket.socket, stream_id: int, code: int) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(frame(RST_STREAM, 0, stream_id, U32.pack(code)))

    def _read_frame(self, sock: socket.socket, deadline: float) -> Frame:
        reader = self._reader
        while (item := reader.next_frame()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Vault in time")
            sock.settimeout(left)
            data = sock.recv(READ_SIZE)
            if not data:
                raise BrokenConnectionError("Vault closed the connection")
            reader.feed(data)
        return item
