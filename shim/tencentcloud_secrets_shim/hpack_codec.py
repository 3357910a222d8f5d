"""HTTP/2 header compression (HPACK, RFC 7541) as the plugin's gRPC server needs it.

Decoding is complete: Vault's client may use every representation HPACK has, and the decoder's
dynamic table must track the client's exactly or every later request is misread. It is
written for the shape of a gRPC request: after the first request on a connection almost every
field is a one-byte reference to the dynamic table, and the one literal that changes per
request (``grpc-timeout``) is short, so short Huffman-coded strings are decoded once and
remembered (in a cache bounded by bytes; a long string is never cached).

What a block may cost is bounded without losing the table: every field is decoded (the table
must follow the peer's), but the decoded list is kept only up to ``max_list_size`` bytes
(counted as HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE counts them: name, value and 32 per field)
and a longer list is refused with ``HeaderListTooLarge`` once the block is decoded, which only
costs the peer its stream. No single string may be longer than that limit either (as in Go's
HPACK decoder): decoding one is a connection error, since it could never be part of a list we
accept nor fit in a table of the size we allow.

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
# Remembered Huffman decodings: only strings as short as a grpc-timeout or an id, and at most
# this many bytes (coded and decoded) in all per connection.
_HUFFMAN_CACHE_STRING = 64
_HUFFMAN_CACHE_BYTES = 1 << 16
DEFAULT_MAX_LIST_SIZE = 16 << 10

Header = tuple[bytes, bytes]


class CompressionError(Exception):
    """The header block cannot be decoded; HTTP/2 makes this fatal to the connection."""


class HeaderListTooLarge(Exception):  # noqa: N818 (the block was fine: the list is refused)
    """The block decoded (the table is in step) to more than the list size we accept; only
    its stream is refused."""


class HeaderDecoder:
    """One connection's decoding context: feed it every header block, in order."""

    def __init__(
        self,
        max_table_size: int = DEFAULT_TABLE_SIZE,
        max_list_size: int = DEFAULT_MAX_LIST_SIZE,
    ) -> None:
        self._limit = max_table_size  # what our SETTINGS allow the peer to use
        self._max = max_table_size  # what the peer last chose, at most the limit
        self.max_list_size = max_list_size
        self._entries: collections.deque[Header] = collections.deque()  # newest first
        self._size = 0
        self._huffman: dict[bytes, bytes] = {}
        self._huffman_bytes = 0

    @property
    def table_size(self) -> int:
        return self._size

    @property
    def huffman_cache_bytes(self) -> int:
        return self._huffman_bytes

    def decode(self, block: bytes) -> list[Header]:
        headers: list[Header] = []
        kept = 0  # the list's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it
        limit = self.max_list_size
        fields = 0
        pos = 0
        end = len(block)
        entries = self._entries
        while pos < end:
            first = block[pos]
            if first & 0x80:  # indexed field
                index = first & 0x7F
                if 0 < index <= _STATIC_COUNT:  # the common case, inline: one byte, static
                    pos += 1
                    field = STATIC_TABLE[index - 1]
                elif _STATIC_COUNT < index < 0x7F and index - _STATIC_COUNT <= len(entries):
                    pos += 1
                    field = entries[index - _STATIC_COUNT - 1]
                else:
                    index, pos = _integer(block, pos, 0x7F)
                    field = self._field(index)
            elif first & 0x40:  # literal, added to the table
                index, pos = _integer(block, pos, 0x3F)
                name, pos = self._name(block, pos, index)
                value, pos = self._string(block, pos)
                field = (name, value)
                self._add(name, value)
            elif first & 0x20:  # table size update: only before the first field
                if fields:
                    raise CompressionError("table size update after a header field")
                size, pos = _integer(block, pos, 0x1F)
                if size > self._limit:
                    raise CompressionError(f"table size {size} above the allowed {self._limit}")
                self._max = size
                self._evict(0)
                continue
            else:  # literal not added to the table (0000) or never to be (0001)
                index, pos = _integer(block, pos, 0x0F)
                name, pos = self._name(block, pos, index)
                value, pos = self._string(block, pos)
                field = (name, value)
            fields += 1
            kept += len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
            if kept <= limit:
                headers.append(field)
        if kept > limit:
            raise HeaderListTooLarge(f"header list of {kept} bytes, above {limit}")
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
            if length > self.max_list_size:
                raise CompressionError(f"header string of {length} bytes")
            return raw, stop
        text = self._huffman.get(raw)
        if text is None:
            text = decode_huffman(raw, self.max_list_size)
            if length <= _HUFFMAN_CACHE_STRING:
                cost = length + len(text)
                if self._huffman_bytes + cost > _HUFFMAN_CACHE_BYTES:
                    self._huffman.clear()
                    self._huffman_bytes = 0
                self._huffman[raw] = text
                self._huffman_bytes += cost
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


def decode_huffman(data: bytes, max_length: int | None = None) -> bytes:
    """A Huffman-coded string. The padding must be the start of EOS (all ones) and shorter
    than a byte, and EOS itself must not appear (RFC 7541, 5.2). A string that would decode
    to more than ``max_length`` bytes is refused before it is decoded (every code is at most
    30 bits, so its coded length gives its shortest decoding) or as soon as it passes it."""
    if max_length is not None and (len(data) * 8 - 7) // 30 > max_length:
        raise CompressionError(f"header string longer than {max_length} bytes")
    limit = len(data) * 8 if max_length is None else max_length
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
                if len(out) > limit:
                    raise CompressionError(f"header string longer than {limit} bytes")
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
