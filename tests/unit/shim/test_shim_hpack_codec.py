"""The header decoder against an independent encoder (the hpack package's), and its refusals."""

from __future__ import annotations

import random

import hpack
import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.table import HeaderTable

from tencentcloud_secrets_shim import hpack_codec
from tencentcloud_secrets_shim.hpack_codec import CompressionError, HeaderDecoder


def test_static_table_is_rfc_7541s() -> None:
    assert hpack_codec.STATIC_TABLE == HeaderTable.STATIC_TABLE


def _grpc_request(rng: random.Random, i: int) -> list[tuple[bytes, bytes]]:
    headers = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", rng.choice([b"/pb.Backend/HandleRequest", b"/pb.Backend/Setup"])),
        (b":authority", b"localhost"),
        (b"content-type", b"application/grpc"),
        (b"user-agent", b"grpc-go/1.72.0"),
        (b"te", b"trailers"),
        (b"grpc-timeout", f"{rng.randrange(1, 10**8)}u".encode()),
        (b"multiplex_id", rng.choice([b"0a1b-2c3d", b"ffff-0000-9999"])),
    ]
    if i % 7 == 0:  # an entry large enough to evict most of the table
        headers.append((b"x-large", bytes(rng.randrange(97, 123) for _ in range(3000))))
    if i % 5 == 0:
        headers.append((b"x-secret", b"never indexed"))
    return headers


@pytest.mark.parametrize("huffman", [True, False])
def test_decodes_what_an_independent_encoder_writes_across_many_blocks(huffman: bool) -> None:
    rng = random.Random(7)
    encoder = hpack.Encoder()
    decoder = HeaderDecoder()
    for i in range(400):
        headers = _grpc_request(rng, i)
        if i == 150:
            encoder.header_table_size = 256  # the encoder announces a smaller table
        if i == 300:
            encoder.header_table_size = 4096
        wire = [
            hpack.NeverIndexedHeaderTuple(n, v) if n == b"x-secret" else (n, v) for n, v in headers
        ]
        block = encoder.encode(wire, huffman=huffman)
        assert decoder.decode(block) == headers, f"block {i}"
        assert decoder.table_size == encoder.header_table._current_size


def test_an_entry_larger_than_the_table_empties_it() -> None:
    encoder = hpack.Encoder()
    decoder = HeaderDecoder()
    decoder.decode(encoder.encode([(b"a", b"1")]))
    assert decoder.table_size == 34
    decoder.decode(encoder.encode([(b"big", b"x" * 5000)]))
    assert decoder.table_size == 0


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (b"\x80", "index 0"),
        (b"\xbf", "past the static table, dynamic empty"),  # index 63
        (b"\xff\x80", "integer ends early"),
        (b"\x40\x05ab", "string runs past the block"),
        (b"\x00", "block ends inside a field"),
        (b"\x3f\xe2\x1f", "table size above the limit"),  # 4097
        (b"\x82\x20", "size update after a field"),
        (b"\x00\x81\xff\x01v", "bad Huffman (EOS)"),
        (b"\xff" + b"\xff" * 6 + b"\x01", "integer too large"),
    ],
)
def test_refuses_malformed_blocks(block: bytes, reason: str) -> None:
    with pytest.raises(CompressionError):
        HeaderDecoder().decode(block)


def test_the_fields_it_encodes_read_back_with_an_independent_decoder() -> None:
    block = (
        hpack_codec.indexed(8)
        + hpack_codec.literal_with_static_name(31, b"application/grpc")
        + hpack_codec.literal(b"grpc-message", b"m" * 300)  # a length past the 7-bit prefix
    )
    assert hpack.Decoder().decode(block, raw=True) == [
        (b":status", b"200"),
        (b"content-type", b"application/grpc"),
        (b"grpc-message", b"m" * 300),
    ]


def test_huffman_decoding_matches_an_independent_encoder_on_every_byte() -> None:
    encoder = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
    rng = random.Random(3)
    samples = [bytes(range(256)), b"", b"59999m", b"application/grpc"]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(300)]
    for text in samples:
        assert hpack_codec.decode_huffman(encoder.encode(text)) == text


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff\xff\xff",  # EOS (30 ones) inside the string
        b"\x1f\xff",  # 'a' (00011) then 11 ones of padding: more than 7 bits
        b"\x18",  # 'a' then padding 000: not the start of EOS
    ],
)
def test_huffman_refuses_eos_long_padding_and_zero_padding(data: bytes) -> None:
    with pytest.raises(CompressionError):
        hpack_codec.decode_huffman(data)
