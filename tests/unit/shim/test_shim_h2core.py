"""The shared HTTP/2 core: each check both ends rely on, fed the malformed frames a peer may
send. Every refusal is one of the core's two errors, never a struct.error or IndexError."""

from __future__ import annotations

import struct

import pytest

from tencentcloud_secrets_shim import h2core, hpack_codec, rpc
from tencentcloud_secrets_shim.http2 import ConnectionProtocolError


def _code(call: object) -> int:
    assert callable(call)
    with pytest.raises(ConnectionProtocolError) as caught:
        call()
    return caught.value.code


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x00\x04\x00\x00\x00", 6),  # 5 bytes: not a multiple of 6
        (struct.pack(">HL", 4, 2**31), 3),  # INITIAL_WINDOW_SIZE above 2^31-1
        (struct.pack(">HL", 5, 100), 1),  # MAX_FRAME_SIZE below 16,384
        (struct.pack(">HL", 5, 2**24), 1),  # and above 2^24-1
        (struct.pack(">HL", 2, 2), 1),  # ENABLE_PUSH neither 0 nor 1
    ],
)
def test_settings_are_refused_for_bad_lengths_and_values(payload: bytes, code: int) -> None:
    assert _code(lambda: h2core.PeerSettings().apply(0, 0, payload)) == code


def test_settings_change_open_windows_and_the_frame_size() -> None:
    peer = h2core.PeerSettings()
    delta = peer.apply(0, 0, struct.pack(">HLHL", 4, 100_000, 5, 20_000))
    assert (delta, peer.initial_window, peer.max_frame) == (100_000 - 65_535, 100_000, 20_000)
    assert peer.apply(1, 0, b"") is None  # an ACK
    assert _code(lambda: peer.apply(1, 0, b"\x00" * 6)) == 6


def test_the_stream_limit_is_unlimited_until_settings_set_one() -> None:
    peer = h2core.PeerSettings()
    assert peer.max_streams > 2**31
    assert peer.apply(0, 0, struct.pack(">HL", 3, 2)) == 0
    assert peer.max_streams == 2


@pytest.mark.parametrize("payload", [b"", b"\x00\x00\x01", b"\x00\x00\x00\x01\x00"])
def test_window_update_of_a_bad_length_is_a_frame_size_error(payload: bytes) -> None:
    assert _code(lambda: h2core.PeerSettings().window_update(0, payload)) == 6


def test_window_update_zero_and_overflow() -> None:
    peer = h2core.PeerSettings()
    assert _code(lambda: peer.window_update(0, b"\x00" * 4)) == 1
    with pytest.raises(h2core.StreamError) as caught:
        peer.window_update(3, b"\x00" * 4)
    assert (caught.value.stream_id, caught.value.code) == (3, 1)
    assert _code(lambda: peer.window_update(0, struct.pack(">L", 2**31 - 1))) == 3
    with pytest.raises(h2core.StreamError):
        h2core.grow_window(5, 2**31 - 10, 11)


def test_goaway_rst_stream_ping_and_priority_lengths() -> None:
    assert _code(lambda: h2core.goaway_fields(0, b"\x00" * 7)) == 6
    assert h2core.goaway_fields(0, struct.pack(">LL", 0x80000007, 2) + b"debug") == (7, 2)
    assert _code(lambda: h2core.rst_stream_code(1, b"\x00" * 3)) == 6
    assert _code(lambda: h2core.rst_stream_code(0, b"\x00" * 4)) == 1
    assert _code(lambda: h2core.check_ping(0, b"\x00" * 7)) == 6
    assert _code(lambda: h2core.check_ping(1, b"\x00" * 8)) == 1
    with pytest.raises(h2core.StreamError):
        h2core.check_priority(1, b"\x00" * 4)


def test_frame_reader_refuses_a_long_frame_from_its_header_and_checks_the_preface() -> None:
    reader = h2core.FrameReader()
    reader.feed(struct.pack(">HBBBL", 64, 1, 0, 0, 1))  # 16,385 bytes announced
    assert _code(reader.next_frame) == 6
    reader = h2core.FrameReader(preface=True)
    reader.feed(b"PRI * HTTP/2.0\r\n")
    assert reader.next_frame() is None
    reader.feed(b"\r\nSM\r\n\r\n" + struct.pack(">HBBBL", 0, 8, 6, 0, 0) + b"12345678")
    assert reader.next_frame() == (6, 0, 0, b"12345678")
    reader = h2core.FrameReader(preface=True)
    reader.feed(b"GET / HTTP/1.1\r\n")
    assert _code(reader.next_frame) == 1


def test_header_blocks_are_assembled_and_bounded() -> None:
    blocks = h2core.HeaderBlocks(max_block=10)
    assert blocks.headers(0x08 | 0x01, 1, bytes([2]) + b"abc" + b"\x00\x00") is None  # PADDED
    assert _code(lambda: blocks.check(6)) == 1  # nothing but CONTINUATION now
    assert blocks.continuation(0, 1, b"def") is None
    assert _code(lambda: blocks.continuation(0, 1, b"12345")) == 1  # 11 bytes: too large
    blocks = h2core.HeaderBlocks(max_block=10)
    blocks.headers(0, 1, b"abc")
    assert _code(lambda: blocks.continuation(4, 3, b"x")) == 1  # another stream's
    blocks = h2core.HeaderBlocks(max_block=10)
    blocks.headers(0x01, 1, b"abc")
    assert blocks.continuation(4, 1, b"de") == (1, 1, b"abcde")
    blocks.check(0)  # complete: any frame may follow
    assert _code(lambda: blocks.headers(0x24, 1, b"\x00" * 4)) == 6  # PRIORITY too short


def test_receive_window_refuses_overruns_and_grants_up_to_a_target() -> None:
    window = h2core.ReceiveWindow(0, 1000)
    window.receive(600)
    assert window.grant(1000) == 600  # more than a quarter used
    window.receive(100)
    assert window.grant(1000) == 0  # less than a quarter: wait
    assert window.grant(500) == 0  # nothing held back beyond the target
    window.receive(800)
    assert window.grant(200) == 100  # nearly empty: whatever the target allows
    assert _code(lambda: window.receive(201)) == 3
    with pytest.raises(h2core.StreamError):
        h2core.ReceiveWindow(1, 10).receive(11)


def test_message_reader_refuses_a_large_message_from_its_prefix() -> None:
    reader = rpc.MessageReader(max_size=100)
    assert reader.feed(b"\x00\x00\x00\x00\x02a") == []
    assert reader.feed(b"b\x00\x00\x00\x00\x01") == [(False, b"ab")]
    assert reader.pending == 5
    with pytest.raises(rpc.RpcError) as caught:
        rpc.MessageReader(max_size=100).feed(b"\x00\xff\xff\xff\xff")
    assert caught.value.status is rpc.Status.RESOURCE_EXHAUSTED


def test_decoded_header_lists_are_bounded_but_the_table_stays_in_step() -> None:
    import hpack

    encoder = hpack.Encoder()
    decoder = hpack_codec.HeaderDecoder(max_list_size=1000)
    # 300 references to one 100-byte entry: a small block, a 40 KB list.
    first = encoder.encode([(b"x-big", b"v" * 100)])
    big = first + bytes(encoder.encode([(b"x-big", b"v" * 100)])) * 299
    with pytest.raises(hpack_codec.HeaderListTooLarge):
        decoder.decode(big)
    after = encoder.encode([(b"x-big", b"v" * 100), (b"a", b"b")])
    assert decoder.decode(after) == [(b"x-big", b"v" * 100), (b"a", b"b")]
    with pytest.raises(hpack_codec.CompressionError):  # one string longer than the list
        decoder.decode(hpack.Encoder().encode([(b"x", b"y" * 1001)], huffman=False))
    with pytest.raises(hpack_codec.CompressionError):
        decoder.decode(hpack.Encoder().encode([(b"x", b"y" * 1001)], huffman=True))


def test_the_huffman_cache_is_bounded_by_bytes_and_skips_long_strings() -> None:
    import hpack

    encoder = hpack.Encoder()
    decoder = hpack_codec.HeaderDecoder()
    for i in range(100):
        value = b"%d" % i + b"a" * 10_000  # long: decoded every time, never kept
        decoder.decode(encoder.encode([(b"x-long", value)], huffman=True))
    assert decoder.huffman_cache_bytes < 64  # the name only
    for i in range(5000):
        decoder.decode(encoder.encode([(b"grpc-timeout", b"%dm" % (i * 7919))], huffman=True))
        assert decoder.huffman_cache_bytes <= 1 << 16
