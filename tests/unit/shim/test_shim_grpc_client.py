"""The blocking client against an independent gRPC server (grpclib's)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import hpack
import pytest
from google.protobuf.wrappers_pb2 import BytesValue
from grpclib.const import Cardinality, Handler
from grpclib.const import Status as GrpclibStatus
from grpclib.exceptions import GRPCError
from grpclib.server import Server

from tencentcloud_secrets_shim import rpc
from tencentcloud_secrets_shim.grpc_client import BrokenConnectionError, UnaryClient


class _Service:
    def __init__(self) -> None:
        self.calls = 0

    async def echo(self, stream: Any) -> None:
        request = await stream.recv_message()
        self.calls += 1
        size = int(request.value[:12]) if request.value[:1].isdigit() else 0
        await stream.send_message(BytesValue(value=(request.value[::-1] + b"r" * size)))

    async def fail(self, stream: Any) -> None:
        await stream.recv_message()
        raise GRPCError(GrpclibStatus.NOT_FOUND, "no such key: ü 100%")

    async def slow(self, stream: Any) -> None:
        await stream.recv_message()
        await asyncio.sleep(3)
        await stream.send_message(BytesValue())

    def __mapping__(self) -> dict[str, Handler]:
        return {
            f"/t.S/{name}": Handler(
                getattr(self, name), Cardinality.UNARY_UNARY, BytesValue, BytesValue
            )
            for name in ("echo", "fail", "slow")
        }


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[str, _Service]]:
    path = str(tmp_path / "s.sock")
    service = _Service()
    loop = asyncio.new_event_loop()

    async def start() -> Server:
        server = Server([service])
        await server.start(path=path)
        return server

    server = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield path, service
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def test_calls_in_sequence_share_one_connection(served: tuple[str, _Service]) -> None:
    path, service = served
    client = UnaryClient(path, None)
    for i in range(50):
        reply = client.call("/t.S/echo", BytesValue(value=b"x%d" % i), BytesValue, 5)
        assert reply.value == (b"x%d" % i)[::-1]
    assert service.calls == 50
    client.close()


def test_large_messages_wait_for_and_return_window_updates(served: tuple[str, _Service]) -> None:
    # 3 MB out: the server's window is 64 KiB, so the client must wait for its updates.
    # 10 MB back: more than the client's 4 MiB window, so it must top the server's up.
    path, _ = served
    client = UnaryClient(path, None)
    request = b"%012d" % (10 * 1024 * 1024) + os.urandom(3 * 1024 * 1024)
    reply = client.call("/t.S/echo", BytesValue(value=request), BytesValue, 30)
    assert reply.value == request[::-1] + b"r" * (10 * 1024 * 1024)
    client.close()


def test_a_status_from_the_server_is_an_rpc_error_with_its_message(
    served: tuple[str, _Service],
) -> None:
    path, _ = served
    client = UnaryClient(path, None)
    with pytest.raises(rpc.RpcError) as caught:
        client.call("/t.S/fail", BytesValue(), BytesValue, 5)
    assert caught.value.status is rpc.Status.NOT_FOUND
    assert caught.value.message == "no such key: ü 100%"
    # The connection is still good for the next call.
    assert client.call("/t.S/echo", BytesValue(value=b"ab"), BytesValue, 5).value == b"ba"


def test_no_answer_in_time_is_a_timeout_and_the_next_call_reconnects(
    served: tuple[str, _Service],
) -> None:
    path, _ = served
    client = UnaryClient(path, None)
    with pytest.raises(TimeoutError):
        client.call("/t.S/slow", BytesValue(), BytesValue, 0.3)
    assert client.call("/t.S/echo", BytesValue(value=b"ab"), BytesValue, 5).value == b"ba"


def test_an_unknown_method_is_unimplemented(served: tuple[str, _Service]) -> None:
    path, _ = served
    with pytest.raises(rpc.RpcError) as caught:
        UnaryClient(path, None).call("/t.S/nope", BytesValue(), BytesValue, 5)
    assert caught.value.status is rpc.Status.UNIMPLEMENTED


def test_timeouts_and_messages_round_trip() -> None:
    for seconds in (0.0004, 0.5, 59.9, 10**6, 10**9):
        text = rpc.encode_timeout(seconds)
        assert 0 < len(text) <= 9
        assert rpc.decode_timeout(text) >= seconds
    for bad in ("", "m", "123456789m", "12x", "-1S"):
        with pytest.raises(ValueError, match="grpc-timeout"):
            rpc.decode_timeout(bad)
    for text in ("plain", "100% sure", "ü\n\x7f", "%zz"):
        assert rpc.decode_message(rpc.encode_message(text)) == text
    assert rpc.encode_message("a%b\n") == b"a%25b%0A"
    assert rpc.decode_message(b"broken %z escape %4") == "broken %z escape %4"


def test_padded_and_continued_header_blocks_and_padded_data_are_read(tmp_path: Any) -> None:
    """What grpclib's server never sends: a reply whose headers are padded and split over
    CONTINUATION, padded DATA, and trailers with a priority field."""
    path = str(tmp_path / "raw.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def frame(kind: int, flags: int, payload: bytes) -> bytes:
        return (
            struct.pack(">HBBBL", len(payload) >> 8, len(payload) & 255, kind, flags, 1) + payload
        )

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while b"\x00\x01\x00\x00\x00\x01" not in received:  # DATA with END_STREAM, stream 1
                received += conn.recv(65536)
            encoder = hpack.Encoder()
            head = encoder.encode([(":status", "200"), ("content-type", "application/grpc")])
            body = BytesValue(value=b"padded").SerializeToString()
            message = struct.pack(">BL", 0, len(body)) + body
            trailers = encoder.encode([("grpc-status", "0")])
            conn.sendall(
                struct.pack(">HBBBL", 0, 0, 4, 0, 0)  # SETTINGS
                + frame(1, 0x08, bytes([2]) + head[:3] + b"\x00\x00")  # HEADERS, PADDED
                + frame(9, 0x04, head[3:])  # CONTINUATION, END_HEADERS
                + frame(0, 0x08, bytes([4]) + message + b"\x00" * 4)  # DATA, PADDED
                + frame(1, 0x20 | 0x04 | 0x01, b"\x00\x00\x00\x00\x10" + trailers)  # PRIORITY
            )
            conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = UnaryClient(path, None)
    reply = client.call("/t.S/echo", BytesValue(value=b"x"), BytesValue, 5)
    client.close()
    thread.join(5)
    listener.close()
    assert reply.value == b"padded"


def _serve_once(tmp_path: Any, reply: bytes) -> tuple[str, threading.Thread, socket.socket]:
    """A server that answers the first request with ``reply`` (raw frames) and stays open."""
    path = str(tmp_path / "raw.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while b"\x00\x01\x00\x00\x00\x01" not in received:  # DATA with END_STREAM, stream 1
                received += conn.recv(65536)
            conn.sendall(struct.pack(">HBBBL", 0, 0, 4, 0, 0) + reply)
            with contextlib.suppress(OSError):
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return path, thread, listener


def _raw(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    length = len(payload)
    return struct.pack(">HBBBL", length >> 8, length & 255, kind, flags, stream_id) + payload


@pytest.mark.parametrize(
    "reply",
    [
        _raw(8, 0, 0, b"\x00\x00\x01"),  # WINDOW_UPDATE of 3 bytes
        _raw(8, 0, 1, b""),  # and of none, on the stream
        _raw(4, 0, 0, b"\x00\x04\x00\x01\x00\x00\x00"),  # SETTINGS of 7 bytes
        _raw(7, 0, 0, b"\x00\x00\x00\x00"),  # GOAWAY of 4 bytes
        _raw(3, 0, 1, b"\x00"),  # RST_STREAM of 1 byte
        _raw(6, 0, 0, b"1234"),  # PING of 4 bytes
    ],
)
def test_a_malformed_frame_from_vault_is_a_broken_connection(tmp_path: Any, reply: bytes) -> None:
    path, thread, listener = _serve_once(tmp_path, reply)
    client = UnaryClient(path, None)
    with pytest.raises(BrokenConnectionError):
        client.call("/t.S/echo", BytesValue(value=b"x"), BytesValue, 5)
    client.close()
    thread.join(5)
    listener.close()


def test_a_reply_announced_larger_than_the_limit_is_refused_from_its_prefix(
    tmp_path: Any,
) -> None:
    head = hpack.Encoder().encode([(":status", "200"), ("content-type", "application/grpc")])
    reply = _raw(1, 0x04, 1, head) + _raw(0, 0, 1, struct.pack(">BL", 0, 2**32 - 1) + b"x" * 100)
    path, thread, listener = _serve_once(tmp_path, reply)
    client = UnaryClient(path, None)
    with pytest.raises(rpc.RpcError) as caught:
        client.call("/t.S/echo", BytesValue(value=b"x"), BytesValue, 5)
    assert caught.value.status is rpc.Status.RESOURCE_EXHAUSTED
    client.close()
    thread.join(5)
    listener.close()
