"""The plugin's gRPC server, driven by an independent client (grpclib's) for calls and by raw
HTTP/2 frames (encoded with the hpack package) for what a client library never does wrong."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import hpack
import pytest
from google.protobuf.wrappers_pb2 import BytesValue
from grpclib.client import Channel, StreamStreamMethod, UnaryUnaryMethod
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from tencentcloud_secrets_shim import rpc
from tencentcloud_secrets_shim.grpc_server import GrpcServer, Limits, Method, ServerStream

Stream = ServerStream[BytesValue]
HandlerFunc = Callable[[Stream], Awaitable[None]]


class _Service:
    """A service in grpclib's generated shape, whose methods the tests choose."""

    def __init__(self) -> None:
        self._methods: dict[str, HandlerFunc] = {}
        self.cancelled: list[str] = []
        self.seen_metadata: list[Any] = []

    def methods(self) -> dict[bytes, Method]:
        return {
            f"/test.Svc/{name}".encode(): Method(func, BytesValue)
            for name, func in self._methods.items()
        }


async def _echo(stream: Stream) -> None:
    request = await stream.recv_message()
    assert request is not None
    await stream.send_message(BytesValue(value=request.value[::-1]))


def _service() -> _Service:
    service = _Service()

    async def echo_metadata(stream: Stream) -> None:
        service.seen_metadata.append(stream.metadata)
        await _echo(stream)

    async def fail(stream: Stream) -> None:
        request = await stream.recv_message()
        assert request is not None
        raise rpc.RpcError(rpc.Status.NOT_FOUND, request.value.decode() + " ü%")

    async def crash(stream: Stream) -> None:
        await stream.recv_message()
        raise RuntimeError("secret detail")

    async def hang(stream: Stream) -> None:
        await stream.recv_message()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            service.cancelled.append("hang")
            raise

    async def chat(stream: Stream) -> None:
        count = 0
        async for message in stream:
            count += 1
            await stream.send_message(BytesValue(value=message.value.upper()))
        await stream.send_message(BytesValue(value=str(count).encode()))

    async def stall(stream: Stream) -> None:  # never reads its request
        await asyncio.sleep(3600)

    service._methods = {
        "Stall": stall,
        "Echo": _echo,
        "EchoMetadata": echo_metadata,
        "Fail": fail,
        "Crash": crash,
        "Hang": hang,
        "Chat": chat,
    }
    return service


@contextlib.asynccontextmanager
async def _serving(
    service: _Service, max_streams: int = 1000, limits: Limits | None = None
) -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.sock")
        server = GrpcServer([service.methods()], max_streams=max_streams, limits=limits)
        await server.start(path=path, ssl=None)
        try:
            yield path
        finally:
            server.close()
            await server.wait_closed()


def _unary(channel: Channel, name: str) -> UnaryUnaryMethod[BytesValue, BytesValue]:
    return UnaryUnaryMethod(channel, f"/test.Svc/{name}", BytesValue, BytesValue)


def test_unary_calls_metadata_and_many_concurrent_calls() -> None:
    service = _service()

    async def main() -> None:
        async with _serving(service) as path:
            channel = Channel(path=path)
            try:
                sent: dict[str, str | bytes] = {"multiplex_id": "m-1", "x-bin": b"\x00\xff"}
                reply = await _unary(channel, "EchoMetadata")(
                    BytesValue(value=b"abc"), metadata=sent
                )
                assert reply.value == b"cba"
                replies = await asyncio.gather(
                    *(_unary(channel, "Echo")(BytesValue(value=b"%d" % i)) for i in range(200))
                )
                assert [r.value for r in replies] == [(b"%d" % i)[::-1] for i in range(200)]
            finally:
                channel.close()

    asyncio.run(main())
    metadata = service.seen_metadata[0]
    assert metadata["multiplex_id"] == ["m-1"]
    assert metadata["x-bin"] == [b"\x00\xff"]
    assert "content-type" not in metadata
    assert "te" not in metadata


def test_messages_larger_than_every_window_go_both_ways() -> None:
    # 3 MB exceeds our stream window (1 MiB) and grpclib's 64 KiB default receive window, so
    # both sides must top each other's windows up for the call to finish at all.
    payload = os.urandom(3 * 1024 * 1024)

    async def main() -> bytes:
        async with _serving(_service()) as path:
            channel = Channel(path=path)
            try:
                reply = await _unary(channel, "Echo")(BytesValue(value=payload), timeout=20)
                return reply.value
            finally:
                channel.close()

    assert asyncio.run(main()) == payload[::-1]


def test_errors_reach_the_client_with_status_and_message_but_no_internals() -> None:
    async def main() -> tuple[GRPCError, GRPCError, GRPCError]:
        async with _serving(_service()) as path:
            channel = Channel(path=path)
            errors = []
            try:
                for name in ("Fail", "Crash", "Missing"):
                    with pytest.raises(GRPCError) as caught:
                        await _unary(channel, name)(BytesValue(value=b"role x"))
                    errors.append(caught.value)
            finally:
                channel.close()
            return errors[0], errors[1], errors[2]

    fail, crash, missing = asyncio.run(main())
    assert (fail.status, fail.message) == (Status.NOT_FOUND, "role x ü%")
    assert crash.status is Status.UNKNOWN
    assert "secret" not in (crash.message or "")
    assert missing.status is Status.UNIMPLEMENTED
    assert "/test.Svc/Missing" in (missing.message or "")


def test_a_bidirectional_stream_ends_when_the_client_ends_it() -> None:
    async def main() -> list[bytes]:
        async with _serving(_service()) as path:
            channel = Channel(path=path)
            method = StreamStreamMethod(channel, "/test.Svc/Chat", BytesValue, BytesValue)
            try:
                async with method.open() as stream:
                    got = []
                    for word in (b"a", b"b"):
                        await stream.send_message(BytesValue(value=word))
                        reply = await stream.recv_message()
                        assert reply is not None
                        got.append(reply.value)
                    await stream.end()
                    last = await stream.recv_message()
                    assert last is not None
                    got.append(last.value)
                    return got
            finally:
                channel.close()

    assert asyncio.run(main()) == [b"A", b"B", b"2"]


# --- raw HTTP/2 ----------------------------------------------------------------------------


class _RawClient:
    """Speaks HTTP/2 frame by frame; headers are coded by the hpack package."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()

    @classmethod
    async def connect(cls, path: str, *, settings: bytes = b"") -> _RawClient:
        reader, writer = await asyncio.open_unix_connection(path)
        client = cls(reader, writer)
        writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        client.send(4, 0, 0, settings)
        return client

    def send(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        length = len(payload)
        self.writer.write(struct.pack(">HBBBL", length >> 8, length & 255, kind, flags, stream_id))
        self.writer.write(payload)

    def request_block(self, method: str, **extra: str) -> bytes:
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", f"/test.Svc/{method}"),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            *extra.items(),
        ]
        return bytes(self.encoder.encode([(k.replace("_", "-"), v) for k, v in headers]))

    @staticmethod
    def message(value: bytes) -> bytes:
        body = BytesValue(value=value).SerializeToString()
        return struct.pack(">BL", 0, len(body)) + body

    async def frame(self) -> tuple[int, int, int, bytes]:
        header = await self.reader.readexactly(9)
        high, low, kind, flags, stream_id = struct.unpack(">HBBBL", header)
        payload = await self.reader.readexactly((high << 8) | low)
        return kind, flags, stream_id, payload

    async def until(self, kind: int, stream_id: int | None = None) -> tuple[int, bytes]:
        """Frames up to the next one of ``kind`` (HEADERS are decoded on the way, in order)."""
        while True:
            got, flags, sid, payload = await asyncio.wait_for(self.frame(), 5)
            if got == 1:
                decoded = self.decoder.decode(payload)
                if got == kind and (stream_id is None or sid == stream_id):
                    return flags, repr(dict(decoded)).encode()
            elif got == kind and (stream_id is None or sid == stream_id):
                return flags, payload


def _raw_test(
    body: Callable[[str, _Service], Awaitable[None]],
    max_streams: int = 1000,
    limits: Limits | None = None,
) -> _Service:
    service = _service()

    async def main() -> None:
        async with _serving(service, max_streams, limits) as path:
            await body(path, service)

    asyncio.run(main())
    return service


def test_ping_is_answered_with_the_same_payload() -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        client.send(6, 0, 0, b"12345678")
        flags, payload = await client.until(6)
        assert (flags, payload) == (1, b"12345678")

    _raw_test(body)


def test_a_header_block_split_over_continuations_with_padding_is_read() -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        block = client.request_block("Echo")
        padded = bytes([3]) + block[:5] + b"\x00\x00\x00"
        client.send(1, 0x08, 1, padded)  # HEADERS, PADDED, no END_HEADERS
        client.send(9, 0, 1, block[5:9])  # CONTINUATION
        client.send(9, 0x04, 1, block[9:])  # CONTINUATION, END_HEADERS
        message = client.message(b"hello")
        client.send(0, 0x08 | 0x01, 1, bytes([2]) + message + b"\x00\x00")  # padded DATA, END
        _, data = await client.until(0, 1)
        assert BytesValue.FromString(data[5:]).value == b"olleh"
        flags, trailers = await client.until(1, 1)
        assert flags & 0x01
        assert b"'grpc-status': '0'" in trailers

    _raw_test(body)


def test_a_reply_waits_for_the_peers_window() -> None:
    async def body(path: str, service: _Service) -> None:
        # The client allows 10 bytes per stream: the reply's 5-byte prefix and 1,000-byte body
        # must come in window-sized pieces, each after a WINDOW_UPDATE.
        client = await _RawClient.connect(path, settings=struct.pack(">HL", 4, 10))
        client.send(1, 0x04, 1, client.request_block("Echo"))
        client.send(0, 0x01, 1, client.message(b"x" * 1000))
        received = b""
        _, data = await client.until(0, 1)
        received += data
        assert len(data) == 10
        while len(received) < 1008:
            client.send(8, 0, 1, struct.pack(">L", 500))
            _, data = await client.until(0, 1)
            assert len(data) <= 500
            received += data
        flags, trailers = await client.until(1, 1)
        assert flags & 0x01
        assert b"'grpc-status': '0'" in trailers
        assert BytesValue.FromString(received[5:]).value == b"x" * 1000

    _raw_test(body)


def test_the_deadline_ends_the_call_with_deadline_exceeded() -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        client.send(1, 0x04, 1, client.request_block("Hang", grpc_timeout="100m"))
        client.send(0, 0x01, 1, client.message(b""))
        flags, trailers = await client.until(1, 1)
        assert flags & 0x01
        assert b"'grpc-status': '4'" in trailers
        assert service.cancelled == ["hang"]

    _raw_test(body)


def test_each_stream_ends_at_its_own_deadline() -> None:
    """Deadlines share one timer: a later call with an earlier deadline still ends first, the
    one after it at its own, and a call without a deadline runs on."""

    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        for stream_id, timeout in ((1, "400m"), (3, "100m"), (5, None)):
            extra = {"grpc_timeout": timeout} if timeout else {}
            client.send(1, 0x04, stream_id, client.request_block("Hang", **extra))
            client.send(0, 0x01, stream_id, client.message(b""))
        ended = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(2):
            while True:
                kind, flags, stream_id, payload = await asyncio.wait_for(client.frame(), 5)
                if kind == 1:
                    trailers = repr(dict(client.decoder.decode(payload))).encode()
                    if flags & 0x01:
                        break
            assert b"'grpc-status': '4'" in trailers
            ended.append((stream_id, loop.time() - start))
        assert [stream_id for stream_id, _ in ended] == [3, 1]
        assert ended[1][1] >= 0.39  # not before its own deadline
        assert service.cancelled == ["hang", "hang"]  # the third still hangs

    _raw_test(body)


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([(1, 0x05, 2, "block")], 1),  # a client cannot open an even stream
        ([(1, 0x04, 1, b"\x80")], 9),  # header index 0: COMPRESSION_ERROR
        ([(1, 0x00, 1, "block"), (6, 0, 0, b"12345678")], 1),  # PING inside a header block
        ([(0, 0x01, 7, b"\x00")], 1),  # DATA on a stream never opened
        ([(6, 0, 0, b"1234")], 6),  # a PING of 4 bytes: FRAME_SIZE_ERROR
        ([(4, 0, 0, struct.pack(">HL", 5, 100))], 1),  # MAX_FRAME_SIZE below 16,384
        ([(8, 0, 0, b"\x00\x00\x00\x00")], 1),  # a zero window increment
    ],
)
def test_protocol_errors_end_the_connection_with_goaway(
    frames: list[tuple[int, int, int, bytes | str]], code: int
) -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        for kind, flags, stream_id, payload in frames:
            data = client.request_block("Echo") if payload == "block" else payload
            assert isinstance(data, bytes)
            client.send(kind, flags, stream_id, data)
        _, payload = await client.until(7)
        assert struct.unpack(">L", payload[4:8])[0] == code
        assert await asyncio.wait_for(client.reader.read(), 5) == b""  # and closes

    _raw_test(body)


def test_a_connection_that_is_not_http2_is_closed() -> None:
    async def body(path: str, service: _Service) -> None:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
        assert data[3] == 4  # our SETTINGS, then GOAWAY, then the end
        assert b"\x07\x00\x00\x00\x00\x00" in data

    _raw_test(body)


@pytest.mark.parametrize("ending", ["RST_STREAM", "connection closed"])
def test_a_call_the_peer_abandons_has_its_handler_cancelled(ending: str) -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        client.send(1, 0x04, 1, client.request_block("Hang"))
        client.send(0, 0x01, 1, client.message(b""))
        await asyncio.sleep(0.2)
        if ending == "RST_STREAM":
            client.send(3, 0, 1, struct.pack(">L", 8))  # CANCEL
        else:
            client.writer.close()
        for _ in range(50):
            if service.cancelled:
                break
            await asyncio.sleep(0.02)
        assert service.cancelled == ["hang"]  # before the server closes anything itself

    _raw_test(body)


def test_calls_beyond_the_advertised_limit_are_refused_for_the_client_to_retry() -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        _, settings = await client.until(4)
        entries = dict(struct.iter_unpack(">HL", settings))
        assert entries[3] == 2  # SETTINGS_MAX_CONCURRENT_STREAMS
        for stream_id in (1, 3, 5):  # the third is one too many
            client.send(1, 0x04, stream_id, client.request_block("Hang"))
            client.send(0, 0x01, stream_id, client.message(b""))
        _, payload = await client.until(3, 5)  # RST_STREAM on stream 5
        assert struct.unpack(">L", payload)[0] == 7  # REFUSED_STREAM
        client.send(3, 0, 1, struct.pack(">L", 8))  # one call ends: room for another
        await asyncio.sleep(0.1)
        client.send(1, 0x04, 7, client.request_block("Echo"))
        client.send(0, 0x01, 7, client.message(b"ok"))
        _, data = await client.until(0, 7)
        assert BytesValue.FromString(data[5:]).value == b"ko"

    _raw_test(body, max_streams=2)


# --- limits --------------------------------------------------------------------------------


def test_the_header_list_limit_is_advertised_and_resets_only_its_stream() -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        _, settings = await client.until(4)
        assert dict(struct.iter_unpack(">HL", settings))[6] == 16384
        # One 200-byte entry added to the table, then referenced 100 times: a block of a
        # few hundred bytes that decodes to 24 KB.
        big = client.request_block("Echo", x_big="v" * 200)
        block = big + bytes(client.encoder.encode([("x-big", "v" * 200)])) * 100
        client.send(1, 0x05, 1, block)
        _, payload = await client.until(3, 1)
        assert struct.unpack(">L", payload)[0] == 6  # FRAME_SIZE_ERROR, as grpc-go
        # The table is still the client's: a block that refers to it is read.
        client.send(1, 0x04, 3, client.request_block("Echo", x_big="v" * 200))
        client.send(0, 0x01, 3, client.message(b"ok"))
        _, data = await client.until(0, 3)
        assert BytesValue.FromString(data[5:]).value == b"ko"

    _raw_test(body)


def test_invalid_binary_metadata_fails_its_call_not_the_connection() -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        client.send(1, 0x04, 1, client.request_block("Echo", x_bin="not base64!"))
        flags, trailers = await client.until(1, 1)
        assert flags & 0x01
        assert b"'grpc-status': '13'" in trailers
        _, payload = await client.until(3, 1)
        assert struct.unpack(">L", payload)[0] == 0  # NO_ERROR: stop sending
        client.send(0, 0x01, 1, client.message(b"late"))  # in flight before the reset: dropped
        client.send(1, 0x04, 3, client.request_block("Echo", x_bin="AP8"))
        client.send(0, 0x01, 3, client.message(b"ok"))
        _, data = await client.until(0, 3)
        assert BytesValue.FromString(data[5:]).value == b"ko"

    _raw_test(body)


def test_a_message_announced_larger_than_the_limit_is_refused_from_its_prefix() -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        client.send(1, 0x04, 1, client.request_block("Echo"))
        client.send(0, 0, 1, struct.pack(">BL", 0, 2**32 - 1) + b"x" * 1000)
        flags, trailers = await client.until(1, 1)
        assert flags & 0x01
        assert b"'grpc-status': '8'" in trailers  # RESOURCE_EXHAUSTED
        _, payload = await client.until(3, 1)
        assert struct.unpack(">L", payload)[0] == 0

    _raw_test(body)


def test_a_streams_window_is_refilled_only_as_its_handler_reads() -> None:
    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path)
        client.send(1, 0x04, 1, client.request_block("Stall"))
        message = client.message(b"m" * 16_000)  # 16,005 bytes a frame
        for _ in range(65):  # 1,040,325 bytes: within the 1 MiB window
            client.send(0, 0, 1, message)
        client.send(0, 0, 1, message)  # past it: the handler read none of them
        _, payload = await client.until(3, 1)
        assert struct.unpack(">L", payload)[0] == 3  # FLOW_CONTROL_ERROR

    _raw_test(body)


def test_the_connection_window_bounds_what_is_buffered_across_streams() -> None:
    limits = Limits(stream_window=1 << 16, connection_window=1 << 17, max_buffered=1 << 17)

    async def body(path: str, service: _Service) -> None:
        client = await _RawClient.connect(path, settings=b"")
        message = client.message(b"m" * 16_000)
        for stream_id in (1, 3, 5):
            client.send(1, 0x04, stream_id, client.request_block("Stall"))
        for stream_id in (1, 3):
            for _ in range(4):  # 64,020 bytes a stream, under its window
                client.send(0, 0, stream_id, message)
        client.send(0, 0, 5, message)  # 128,040 + 16,005 > 131,072 held and unread
        _, payload = await client.until(7)
        assert struct.unpack(">L", payload[4:8])[0] == 3  # FLOW_CONTROL_ERROR

    _raw_test(body, limits=limits)


def test_a_message_larger_than_every_window_but_under_the_limit_still_flows() -> None:
    limits = Limits(
        stream_window=1 << 16, connection_window=1 << 17, max_message=1 << 20, max_buffered=1 << 20
    )
    payload = os.urandom(900_000)

    async def main() -> bytes:
        async with _serving(_service(), limits=limits) as path:
            channel = Channel(path=path)
            try:
                reply = await _unary(channel, "Echo")(BytesValue(value=payload), timeout=20)
                return reply.value
            finally:
                channel.close()

    assert asyncio.run(main()) == payload[::-1]
