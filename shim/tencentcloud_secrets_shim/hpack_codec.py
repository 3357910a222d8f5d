"""HTTP/2 header compression (HPACK, RFC 7541) as the plugin's gRPC server needs it.

Decoding is complete: Vault's client may use every representation HPACK has, and the decoder's
dynamic table must track the client's exactly or every later request is misread. It is
written for the shape of a gRPC request: after the first request on a connection almost every
field is a one-byte reference to the dynamic table, and the one literal that changes per
request (``grpc-timeout``) is short, so Huffman-coded strings are decoded once and remembered.

Encoding is minimal on purpose: the server sends a handful of fixed fields, as literals that
never enter the peer's dynamic table, so there is no encoder state to keep in step.
"""

from __future__ import annotations

import collections

from .huffman_code import CODES, EOS

# RFC 7541, Appendix A. Index 1 is the first entry.
STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = (
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
)
_STATIC_COUNT = len(STATIC_TABLE)
ENTRY_OVERHEAD = 32  # bytes each dynamic-table entry counts beyond its name and value
DEFAULT_TABLE_SIZE = 4096
_MAX_INTEGER = 1 << 32  # far beyond any length or index a sane peer sends
_HUFFMAN_CACHE_ENTRIES = 1024

Header = tuple[bytes, bytes]


class CompressionError(Exception):
    """The header block cannot be decoded; HTTP/2 makes this fatal to the connection."""


class HeaderDecoder:
    """One connection's decoding context: feed it every header block, in order."""

    def __init__(self, max_table_size: int = DEFAULT_TABLE_SIZE) -> None:
        self._limit = max_table_size  # what our SETTINGS allow the peer to use
        self._max = max_table_size  # what the peer last chose, at most the limit
        self._entries: collections.deque[Header] = collections.deque()  # newest first
        self._size = 0
        self._huffman: dict[bytes, bytes] = {}

    @property
    def table_size(self) -> int:
        return self._size

    def decode(self, block: bytes) -> list[Header]:
        headers: list[Header] = []
        pos = 0
        end = len(block)
        while pos < end:
            first = block[pos]
            if first & 0x80:  # indexed field
                index, pos = _integer(block, pos, 0x7F)
                headers.append(self._field(index))
            elif first & 0x40:  # literal, added to the table
                index, pos = _integer(block, pos, 0x3F)
                name, pos = self._name(block, pos, index)
                value, pos = self._string(block, pos)
                headers.append((name, value))
                self._add(name, value)
            elif first & 0x20:  # table size update: only before the first field
                if headers:
                    raise CompressionError("table size update after a header field")
                size, pos = _integer(block, pos, 0x1F)
                if size > self._limit:
                    raise CompressionError(f"table size {size} above the allowed {self._limit}")
                self._max = size
                self._evict(0)
            else:  # literal not added to the table (0000) or never to be (0001)
                index, pos = _integer(block, pos, 0x0F)
                name, pos = self._name(block, pos, index)
                value, pos = self._string(block, pos)
                headers.append((name, value))
        return headers

    def _field(self, index: int) -> Header:
        if 0 < index <= _STATIC_COUNT:
            return STATIC_TABLE[index - 1]
        dynamic = index - _STATIC_COUNT - 1
        if index == 0 or dynamic >= len(self._entries):
            raise CompressionError(f"header index {index} is not in the table")
        return self._entries[dynamic]

    def _name(self, block: bytes, pos: int, index: int) -> tuple[bytes, int]:
        if index:
            return self._field(index)[0], pos
        return self._string(block, pos)

    def _string(self, block: bytes, pos: int) -> tuple[bytes, int]:
        if pos >= len(block):
            raise CompressionError("header block ends inside a field")
        huffman = block[pos] & 0x80
        length, pos = _integer(block, pos, 0x7F)
        stop = pos + length
        if stop > len(block):
            raise CompressionError("header string runs past the block")
        raw = block[pos:stop]
        if not huffman:
            return raw, stop
        text = self._huffman.get(raw)
        if text is None:
            text = decode_huffman(raw)
            if len(self._huffman) >= _HUFFMAN_CACHE_ENTRIES:
                self._huffman.clear()
            self._huffman[raw] = text
        return text, stop

    def _add(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + ENTRY_OVERHEAD
        if size > self._max:  # an entry larger than the table empties it (RFC 7541, 4.4)
            self._entries.clear()
            self._size = 0
            return
        self._evict(size)
        self._entries.appendleft((name, value))
        self._size += size

    def _evict(self, room: int) -> None:
        while self._entries and self._size + room > self._max:
            name, value = self._entries.pop()
            self._size -= len(name) + len(value) + ENTRY_OVERHEAD


# (length in bits, code) -> symbol; codes are 5 to 30 bits long.
_SYMBOLS = {(length, code): symbol for symbol, (code, length) in enumerate(CODES)}
_SHORTEST = min(length for _, length in CODES)


def decode_huffman(data: bytes) -> bytes:
    """A Huffman-coded string. The padding must be the start of EOS (all ones) and shorter
    than a byte, and EOS itself must not appear (RFC 7541, 5.2)."""
    out = bytearray()
    code = 0
    length = 0
    symbols = _SYMBOLS
    for byte in data:
        for shift in range(7, -1, -1):
            code = (code << 1) | ((byte >> shift) & 1)
            length += 1
            if length < _SHORTEST:
                continue
            symbol = symbols.get((length, code))
            if symbol is not None:
                if symbol == EOS:
                    raise CompressionError("EOS inside a Huffman string")
                out.append(symbol)
                code = 0
                length = 0
            elif length > 30:
                raise CompressionError("invalid Huffman code")
    if length > 7 or code != (1 << length) - 1:
        raise CompressionError("invalid Huffman padding")
    return bytes(out)


def _integer(block: bytes, pos: int, mask: int) -> tuple[int, int]:
    """An HPACK integer whose prefix is ``mask``'s bits of ``block[pos]``."""
    value = block[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    while True:
        if pos >= len(block):
            raise CompressionError("header block ends inside an integer")
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if value > _MAX_INTEGER:
            raise CompressionError("header integer too large")
        if not byte & 0x80:
            return value, pos
        shift += 7


def encode_integer(value: int, prefix_bits: int, flags: int = 0) -> bytes:
    """``value`` with a ``prefix_bits``-bit prefix; ``flags`` fills the first byte's high bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string_literal(text: bytes) -> bytes:
    return encode_integer(len(text), 7) + text


def literal(name: bytes, value: bytes) -> bytes:
    """A field with a literal name and value, not added to the peer's table."""
    return b"\x00" + _string_literal(name) + _string_literal(value)


def literal_with_static_name(index: int, value: bytes) -> bytes:
    """A field named by the static table entry ``index``, not added to the peer's table."""
    return encode_integer(index, 4) + _string_literal(value)


def indexed(index: int) -> bytes:
    """A field that is wholly the static table entry ``index``."""
    return encode_integer(index, 7, 0x80)
