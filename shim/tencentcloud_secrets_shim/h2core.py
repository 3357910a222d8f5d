"""The HTTP/2 rules the shim's gRPC server and client share, with no I/O of their own.

Why one core: the server (asyncio, many streams) and the client (blocking, one call at a
time) read the same frames from peers that may be wrong, and a malformed frame must mean the
same on both sides: the same error, never a crash or a silent truncation on one of them.
Everything here takes bytes and returns values or raises one of two errors, and the two ends
only decide what to write and when:

- ``ConnectionProtocolError`` (from ``http2``): the connection ends with GOAWAY and that code;
- ``StreamError``: only that stream is reset with RST_STREAM and that code.
"""

from __future__ import annotations

from .http2 import (
    CONTINUATION,
    DEFAULT_FRAME_SIZE,
    DEFAULT_WINDOW,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    MAX_FRAME_SIZE_LIMIT,
    MAX_WINDOW,
    PREFACE,
    PROTOCOL_ERROR,
    SETTING,
    SETTINGS_ENABLE_PUSH,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_CONCURRENT_STREAMS,
    SETTINGS_MAX_FRAME_SIZE,
    U32,
    ConnectionProtocolError,
    frame_header,
    header_fragment,
    unpad,
)

Frame = tuple[int, int, int, bytes]  # type, flags, stream id, payload
UNLIMITED_STREAMS = 2**32  # above any SETTINGS value: no limit until the peer sets one


class StreamError(Exception):
    """The peer broke HTTP/2 on one stream; that stream ends with RST_STREAM ``code``."""

    def __init__(self, stream_id: int, code: int, message: str) -> None:
        super().__init__(message)
        self.stream_id = stream_id
        self.code = code


class FrameReader:
    """Frames out of the bytes received so far. A frame longer than ``max_frame_size`` (what
    we advertised: the default, since we never raise it) is refused from its header alone,
    before its payload is buffered."""

    def __init__(self, *, preface: bool = False, max_frame_size: int = DEFAULT_FRAME_SIZE) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self._want_preface = preface
        self.max_frame_size = max_frame_size

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as frames."""
        return len(self._buffer) - self._pos

    def clear(self) -> None:
        self._buffer.clear()
        self._pos = 0

    def feed(self, data: bytes | memoryview) -> None:
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def next_frame(self) -> Frame | None:
        """The next whole frame, or None until more bytes arrive."""
        buffer = self._buffer
        pos = self._pos
        if self._want_preface:
            size = len(PREFACE)
            head = bytes(buffer[pos : pos + size])
            if not PREFACE.startswith(head):
                raise ConnectionProtocolError(PROTOCOL_ERROR, "not an HTTP/2 preface")
            if len(head) < size:
                return None
            self._want_preface = False
            pos = self._pos = pos + size
        if len(buffer) - pos < 9:
            return None
        length, kind, flags, stream_id = frame_header(buffer, pos)
        if length > self.max_frame_size:
            raise ConnectionProtocolError(FRAME_SIZE_ERROR, f"{length}-byte frame")
        end = pos + 9 + length
        if len(buffer) < end:
            return None
        self._pos = end
        return kind, flags, stream_id, bytes(buffer[pos + 9 : end])


class HeaderBlocks:
    """Header blocks out of HEADERS and CONTINUATION frames, padding and priority removed.

    Only CONTINUATION for the same stream may follow a HEADERS frame without END_HEADERS
    (``check`` says so for every other frame), and a block is refused once its encoded size
    passes ``max_block``: without that, CONTINUATION frames could grow it without end."""

    def __init__(self, max_block: int) -> None:
        self.max_block = max_block
        self._stream = 0
        self._flags = 0
        self._block = bytearray()

    def check(self, kind: int) -> None:
        """Refuse any frame but CONTINUATION while a block is incomplete."""
        if self._stream and kind != CONTINUATION:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "header block interrupted")

    def headers(self, flags: int, stream_id: int, payload: bytes) -> tuple[int, bytes] | None:
        """A HEADERS frame: (END_STREAM flag, whole block), or None until its CONTINUATIONs."""
        if not stream_id:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "HEADERS on stream 0")
        fragment = header_fragment(flags, payload)
        if flags & FLAG_END_HEADERS:
            self._limit(len(fragment))
            return flags & FLAG_END_STREAM, fragment
        self._limit(len(fragment))
        self._stream, self._flags = stream_id, flags & FLAG_END_STREAM
        self._block = bytearray(fragment)
        return None

    def continuation(
        self, flags: int, stream_id: int, payload: bytes
    ) -> tuple[int, int, bytes] | None:
        """A CONTINUATION frame: (stream, END_STREAM flag, whole block) once it ends the block."""
        if not self._stream or stream_id != self._stream:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "unexpected CONTINUATION")
        self._limit(len(self._block) + len(payload))
        self._block += payload
        if not flags & FLAG_END_HEADERS:
            return None
        block, self._block = bytes(self._block), bytearray()
        self._stream = 0
        return stream_id, self._flags, block

    def _limit(self, size: int) -> None:
        if size > self.max_block:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "header block too large")


class PeerSettings:
    """What the peer's SETTINGS and connection WINDOW_UPDATEs allow us to send (and, for a
    client, how many streams it may open at once)."""

    def __init__(self) -> None:
        self.initial_window = DEFAULT_WINDOW
        self.max_frame = DEFAULT_FRAME_SIZE
        self.send_window = DEFAULT_WINDOW  # the connection's
        self.max_streams = UNLIMITED_STREAMS

    def apply(self, flags: int, stream_id: int, payload: bytes) -> int | None:
        """A SETTINGS frame: None for an ACK, else the change to every open stream's send
        window (the caller acknowledges). Refuses a bad length and values RFC 9113 forbids."""
        if stream_id:
            raise ConnectionProtocolError(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & FLAG_ACK:
            if payload:
                raise ConnectionProtocolError(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return None
        if len(payload) % 6:
            raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed SETTINGS")
        delta = 0
        for offset in range(0, len(payload), 6):
            key, value = SETTING.unpack_from(payload, offset)
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise ConnectionProtocolError(FLOW_CONTROL_ERROR, "initial window too large")
                delta += value - self.initial_window
                self.initial_window = value
            elif key == SETTINGS_MAX_FRAME_SIZE:
                if not DEFAULT_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT:
                    raise ConnectionProtocolError(PROTOCOL_ERROR, "bad SETTINGS_MAX_FRAME_SIZE")
                self.max_frame = value
            elif key == SETTINGS_MAX_CONCURRENT_STREAMS:
                self.max_streams = value
            elif key == SETTINGS_ENABLE_PUSH and value > 1:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "bad SETTINGS_ENABLE_PUSH")
            # The header table size only limits an encoder that uses the table; ours do not.
        return delta

    def window_update(self, stream_id: int, payload: bytes) -> int:
        """A WINDOW_UPDATE frame's increment; one for the connection is applied here."""
        if len(payload) != 4:
            raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed WINDOW_UPDATE")
        increment: int = U32.unpack(payload)[0] & 0x7FFFFFFF
        if not stream_id:
            if not increment:
                raise ConnectionProtocolError(PROTOCOL_ERROR, "zero window increment")
            if self.send_window + increment > MAX_WINDOW:
                raise ConnectionProtocolError(FLOW_CONTROL_ERROR, "connection window overflow")
            self.send_window += increment
        elif not increment:
            raise StreamError(stream_id, PROTOCOL_ERROR, "zero window increment")
        return increment


def grow_window(stream_id: int, window: int, increment: int) -> int:
    """A stream's send window after ``increment``; past 2^31-1 is that stream's error."""
    window += increment
    if window > MAX_WINDOW:
        raise StreamError(stream_id, FLOW_CONTROL_ERROR, "stream window overflow")
    return window


class ReceiveWindow:
    """What the peer may still send us on one stream or the connection, and how much to give
    back. Data beyond it is the peer's flow-control error; ``grant`` tops it up to what the
    caller can hold, in steps of at least a quarter unless it is nearly empty."""

    def __init__(self, stream_id: int, size: int, available: int | None = None) -> None:
        self.stream_id = stream_id
        self.size = size
        self.available = size if available is None else available

    def receive(self, count: int) -> None:
        if count > self.available:
            message = "the peer sent more than its window"
            if self.stream_id:
                raise StreamError(self.stream_id, FLOW_CONTROL_ERROR, message)
            raise ConnectionProtocolError(FLOW_CONTROL_ERROR, message)
        self.available -= count

    def grant(self, target: int) -> int:
        """The WINDOW_UPDATE increment that brings the window to ``target`` (at most its
        size), or 0 when none is due yet."""
        increment = min(target, self.size) - self.available
        quarter = self.size // 4
        if increment <= 0 or (increment < quarter and self.available >= quarter):
            return 0
        self.available += increment
        return increment


def data_payload(flags: int, stream_id: int, payload: bytes) -> bytes:
    """A DATA frame's data, without padding (which still counted against the windows)."""
    if not stream_id:
        raise ConnectionProtocolError(PROTOCOL_ERROR, "DATA on stream 0")
    return unpad(payload) if flags & FLAG_PADDED else payload


def rst_stream_code(stream_id: int, payload: bytes) -> int:
    if len(payload) != 4:
        raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed RST_STREAM")
    if not stream_id:
        raise ConnectionProtocolError(PROTOCOL_ERROR, "RST_STREAM on stream 0")
    code: int = U32.unpack(payload)[0]
    return code


def goaway_fields(stream_id: int, payload: bytes) -> tuple[int, int]:
    """A GOAWAY frame's last stream id and error code."""
    if stream_id:
        raise ConnectionProtocolError(PROTOCOL_ERROR, "GOAWAY on a stream")
    if len(payload) < 8:
        raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed GOAWAY")
    last = U32.unpack_from(payload)[0] & 0x7FFFFFFF
    code = U32.unpack_from(payload, 4)[0]
    return last, code


def check_ping(stream_id: int, payload: bytes) -> None:
    if len(payload) != 8:
        raise ConnectionProtocolError(FRAME_SIZE_ERROR, "malformed PING")
    if stream_id:
        raise ConnectionProtocolError(PROTOCOL_ERROR, "PING on a stream")


def check_priority(stream_id: int, payload: bytes) -> None:
    if not stream_id:
        raise ConnectionProtocolError(PROTOCOL_ERROR, "PRIORITY on stream 0")
    if len(payload) != 5:
        raise StreamError(stream_id, FRAME_SIZE_ERROR, "malformed PRIORITY")
