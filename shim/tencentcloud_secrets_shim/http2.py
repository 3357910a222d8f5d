"""HTTP/2's wire vocabulary (RFC 9113), shared by the plugin's gRPC server and client: frame
types, flags, settings, error codes, and the few helpers both sides build frames with."""

from __future__ import annotations

import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
READ_SIZE = 1 << 16  # bytes read from a connection at a time, by the server and both clients

# Frame types (RFC 9113, 6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
# Flags
FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20
# Settings
SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6
# Error codes
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB

DEFAULT_WINDOW = 65_535
MAX_WINDOW = 2**31 - 1
DEFAULT_FRAME_SIZE = 16_384
MAX_FRAME_SIZE_LIMIT = 2**24 - 1
# The decoded header list either end accepts (name + value + 32 per field, as
# SETTINGS_MAX_HEADER_LIST_SIZE counts it), and one encoded header block with its
# CONTINUATIONs. Vault's metadata and replies' headers are a few hundred bytes; gRPC suggests
# accepting 8 KiB; grpc-go's default (16 MiB) bounds nothing in practice. HPACK needs at most
# about four times the decoded size to encode it (a Huffman code is at most 30 bits a byte).
MAX_HEADER_LIST_SIZE = 16 << 10
MAX_HEADER_BLOCK = 4 * MAX_HEADER_LIST_SIZE
FRAME_HEADER = struct.Struct(">HBBBL")  # 24-bit length as 16 + 8 bits, type, flags, stream
SETTING = struct.Struct(">HL")
U32 = struct.Struct(">L")


class ConnectionProtocolError(Exception):
    """The peer broke HTTP/2; the connection ends with GOAWAY carrying ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    length = len(payload)
    return FRAME_HEADER.pack(length >> 8, length & 0xFF, kind, flags, stream_id) + payload


def frame_header(buffer: bytes | bytearray, pos: int = 0) -> tuple[int, int, int, int]:
    """The frame header at ``pos``: payload length, type, flags, stream id (reserved bit off)."""
    high, low, kind, flags, stream_id = FRAME_HEADER.unpack_from(buffer, pos)
    return (high << 8) | low, kind, flags, stream_id & 0x7FFFFFFF


def header_fragment(flags: int, payload: bytes) -> bytes:
    """A HEADERS frame's header block fragment, without its padding and priority fields."""
    if flags & FLAG_PADDED:
        payload = unpad(payload)
    if flags & FLAG_PRIORITY:
        if len(payload) < 5:
            raise ConnectionProtocolError(FRAME_SIZE_ERROR, "HEADERS too short")
        payload = payload[5:]
    return payload


def unpad(payload: bytes) -> bytes:
    if not payload or payload[0] >= len(payload):
        raise ConnectionProtocolError(PROTOCOL_ERROR, "padding longer than the frame")
    return payload[1 : len(payload) - payload[0]]
