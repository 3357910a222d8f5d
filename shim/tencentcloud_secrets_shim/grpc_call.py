"""A unary gRPC call as the shim's clients make it, with no I/O: the request's header block,
what opens a connection, one call's stream (what is left to send, the reply as it arrives)
and how its trailers become the reply or an error.

Why shared: the blocking client (``grpc_client``, one call at a time on a worker thread) and
the asyncio client (``grpc_async_client``, many calls at once on the event loop) reach the
same Vault services, and a reply must mean the same to both: the same limits, the same error
for the same fault. What differs between them is only how they wait, and how a frame finds
its call.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from . import hpack_codec, rpc
from .h2core import PeerSettings, ReceiveWindow
from .http2 import (
    DATA,
    FLAG_END_STREAM,
    MAX_HEADER_LIST_SIZE,
    PREFACE,
    SETTING,
    SETTINGS,
    SETTINGS_ENABLE_PUSH,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_HEADER_LIST_SIZE,
    U32,
    WINDOW_UPDATE,
    frame,
)
from .rpc import MAX_MESSAGE_SIZE, MESSAGE_PREFIX, MessageReader

M = TypeVar("M", bound=Message)

RECEIVE_WINDOW = 1 << 22  # per stream and for the connection; topped up at a quarter used
MAX_STREAM_ID = 2**31 - 1
_POST = hpack_codec.indexed(3)  # :method POST
_GRPC = hpack_codec.literal_with_static_name(31, b"application/grpc") + hpack_codec.literal(
    b"te", b"trailers"
)
_SETTINGS = frame(
    SETTINGS,
    0,
    0,
    SETTING.pack(SETTINGS_ENABLE_PUSH, 0)
    + SETTING.pack(SETTINGS_INITIAL_WINDOW_SIZE, RECEIVE_WINDOW)
    + SETTING.pack(SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST_SIZE),
)


class BrokenConnectionError(Exception):
    """The connection failed underneath the call (closed, reset, GOAWAY before our stream,
    a protocol error): a fresh connection may succeed."""


def opening(window: ReceiveWindow) -> bytes:
    """What a client sends first on a new connection: the preface, our SETTINGS (no push,
    our stream window, our header list limit), and the connection's receive window (``window``,
    which starts at HTTP/2's default) raised to its size."""
    increment = window.grant(window.size)
    return PREFACE + _SETTINGS + frame(WINDOW_UPDATE, 0, 0, U32.pack(increment))


class RequestHeaders:
    """Request header blocks. Every field but ``grpc-timeout`` is the same on every call of a
    method, so that part is built once; none enters the peer's dynamic table, so there is no
    encoder state to keep in step with it."""

    def __init__(self, tls: bool) -> None:
        self._scheme = hpack_codec.indexed(7 if tls else 6)  # :scheme https / http
        self._fixed: dict[str, bytes] = {}

    def block(self, method: str, timeout: float) -> bytes:
        """The header block of a call to ``method`` that has ``timeout`` seconds left."""
        fixed = self._fixed.get(method)
        if fixed is None:
            fixed = self._fixed[method] = (
                _POST
                + self._scheme
                + hpack_codec.literal_with_static_name(4, method.encode())  # :path
                + hpack_codec.literal_with_static_name(1, b"localhost")  # :authority
                + _GRPC
            )
        seconds = max(timeout, 0.001)
        return fixed + hpack_codec.literal(b"grpc-timeout", rpc.encode_timeout(seconds).encode())


def decode_headers(decoder: hpack_codec.HeaderDecoder, block: bytes) -> list[hpack_codec.Header]:
    """A reply's header block. Undecodable is the connection's failure (the decoder's table
    is lost); a list over our limit is its call's (``RpcError``: the table stayed in step)."""
    try:
        return decoder.decode(block)
    except hpack_codec.CompressionError as exc:
        raise BrokenConnectionError(f"undecodable headers from Vault: {exc}") from None
    except hpack_codec.HeaderListTooLarge as exc:
        raise rpc.RpcError(rpc.Status.INTERNAL, str(exc)) from None


class UnaryCall:
    """One call's stream: what is left to send, and what has come back.

    The stream id and send window are the connection's to give (``open``): the asyncio
    client may make a call before a stream is free for it."""

    __slots__ = (
        "headers_seen",
        "messages",
        "outgoing",
        "reader",
        "send_window",
        "sent",
        "stream_id",
        "window",
    )

    def __init__(self, body: bytes) -> None:
        self.stream_id = 0
        self.outgoing = MESSAGE_PREFIX.pack(0, len(body)) + body
        self.sent = 0
        self.send_window = 0
        self.window: ReceiveWindow | None = None
        self.reader = MessageReader(MAX_MESSAGE_SIZE)
        self.messages: list[tuple[bool, bytes]] = []
        self.headers_seen = False

    def open(self, stream_id: int, send_window: int) -> None:
        self.stream_id = stream_id
        self.send_window = send_window
        self.window = ReceiveWindow(stream_id, RECEIVE_WINDOW)

    @property
    def sending(self) -> bool:
        """Whether some of the request still waits for window."""
        return self.sent < len(self.outgoing)

    def data_frames(self, peer: PeerSettings, out: list[bytes]) -> None:
        """Queue what the windows allow; the last DATA frame ends our side of the stream."""
        outgoing = self.outgoing
        total = len(outgoing)
        while self.sent < total:
            size = min(total - self.sent, peer.send_window, self.send_window, peer.max_frame)
            if size <= 0:
                return
            end = self.sent + size
            flags = FLAG_END_STREAM if end == total else 0
            out.append(frame(DATA, flags, self.stream_id, outgoing[self.sent : end]))
            self.sent = end
            peer.send_window -= size
            self.send_window -= size

    def receive(self, data: bytes, counted: int, end_stream: int) -> int:
        """DATA for this call, ``counted`` bytes against the windows (padding included): keeps
        the messages it completes and returns the stream's WINDOW_UPDATE increment (0: none
        due). Raises ``StreamError`` past the window, ``RpcError`` for a message announced
        over our limit, ``BrokenConnectionError`` for a reply that ends without trailers."""
        window = self.window
        assert window is not None
        window.receive(counted)
        self.messages += self.reader.feed(data)
        if end_stream:
            raise BrokenConnectionError("the reply ended without trailers")
        return window.grant(RECEIVE_WINDOW)

    def header_block(
        self, fields: list[hpack_codec.Header], end_stream: int
    ) -> list[hpack_codec.Header] | None:
        """A decoded header block for this call: the trailers once they arrive (the first
        block must carry HTTP status 200; trailers-only replies are one block)."""
        if not self.headers_seen:
            self.headers_seen = True
            status = dict(fields).get(b":status")
            if status != b"200":
                raise BrokenConnectionError(f"HTTP status {status!r} from Vault")
        return fields if end_stream else None

    def reply(self, trailers: list[hpack_codec.Header], reply_type: type[M]) -> M:
        """The reply the trailers complete, or the error they carry."""
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
        if len(self.messages) != 1 or self.messages[0][0] or self.reader.pending:
            raise BrokenConnectionError("the reply is not one uncompressed message")
        return reply_type.FromString(self.messages[0][1])
