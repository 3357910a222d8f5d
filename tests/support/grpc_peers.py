"""Servers for the shim's gRPC clients to call in tests: grpclib's, an implementation
independent of ours, on a thread and event loop of its own; and a raw one that answers the
first call with frames the test wrote, for what no server library sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import grpclib.protocol
import hpack
from google.protobuf.wrappers_pb2 import BytesValue
from grpclib.const import Cardinality, Handler
from grpclib.const import Status as GrpclibStatus
from grpclib.exceptions import GRPCError
from grpclib.server import Server
from h2.connection import H2Connection
from h2.settings import SettingCodes, Settings


class EchoService:
    """``/t.S/<method>`` for the methods below, all BytesValue to BytesValue, counting what the
    server saw: calls, connections, handlers cancelled (a reset from the client), calls of
    ``slow`` waiting, and the most calls of ``pause`` in progress at once."""

    def __init__(self) -> None:
        self.calls = 0
        self.cancelled = 0
        self.sleeping = 0  # calls of ``slow`` waiting
        self.protocols: list[Any] = []  # grpclib's H2Protocol, one per connection
        self.running = 0
        self.most_at_once = 0

    @property
    def connections(self) -> int:
        return len(self.protocols)

    async def echo(self, stream: Any) -> None:
        """The value reversed, then as many ``r`` as its first 12 digits say."""
        request = await stream.recv_message()
        self.calls += 1
        size = int(request.value[:12]) if request.value[:1].isdigit() else 0
        await stream.send_message(BytesValue(value=(request.value[::-1] + b"r" * size)))

    async def pause(self, stream: Any) -> None:
        """``echo``, after letting the loop run other calls for a while."""
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(0.02)
            await self.echo(stream)
        finally:
            self.running -= 1

    async def fail(self, stream: Any) -> None:
        await stream.recv_message()
        raise GRPCError(GrpclibStatus.NOT_FOUND, "no such key: ü 100%")

    async def slow(self, stream: Any) -> None:
        """An empty reply after the seconds the value says (3 if it is empty)."""
        request = await stream.recv_message()
        self.sleeping += 1
        try:
            await asyncio.sleep(float(request.value or 3))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.sleeping -= 1
        await stream.send_message(BytesValue())

    async def drop(self, stream: Any) -> None:
        """Close every connection the server has, this call's included."""
        await stream.recv_message()
        for protocol in self.protocols:
            protocol.connection.close()

    def __mapping__(self) -> dict[str, Handler]:
        return {
            f"/t.S/{name}": Handler(
                getattr(self, name), Cardinality.UNARY_UNARY, BytesValue, BytesValue
            )
            for name in ("echo", "pause", "fail", "slow", "drop")
        }


def _limited_streams(limit: int) -> type[H2Connection]:
    """h2's connection with its stream limit in its first SETTINGS, in force at once."""

    class Limited(H2Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.local_settings = Settings(
                client=False,
                initial_values={
                    SettingCodes.MAX_CONCURRENT_STREAMS: limit,
                    SettingCodes.MAX_HEADER_LIST_SIZE: self.DEFAULT_MAX_HEADER_LIST_SIZE,
                },
            )

    return Limited


@contextlib.contextmanager
def grpclib_server(
    path: str, *, ssl: ssl.SSLContext | None = None, max_streams: int | None = None
) -> Iterator[EchoService]:
    """grpclib serving an ``EchoService`` on ``path`` until the block ends; ``max_streams``
    is the SETTINGS_MAX_CONCURRENT_STREAMS it announces (h2's default is 100)."""
    service = EchoService()
    loop = asyncio.new_event_loop()
    patch = (
        mock.patch.object(grpclib.protocol, "H2Connection", _limited_streams(max_streams))
        if max_streams is not None
        else contextlib.nullcontext()
    )

    async def start() -> Server:
        server = Server([service])
        make_protocol = server._protocol_factory

        def protocol_factory() -> Any:
            protocol = make_protocol()
            service.protocols.append(protocol)
            return protocol

        server._protocol_factory = protocol_factory  # type: ignore[method-assign]
        await server.start(path=path, ssl=ssl)
        return server

    with patch:
        server = loop.run_until_complete(start())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            yield service
        finally:
            asyncio.run_coroutine_threadsafe(_stop(server, service), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()


async def _stop(server: Server, service: EchoService) -> None:
    """Stop grpclib and close the connections it keeps (its close() leaves them open)."""
    server.close()
    for protocol in service.protocols:
        protocol.connection.close()
    await server.wait_closed()


def raw_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    length = len(payload)
    return struct.pack(">HBBBL", length >> 8, length & 255, kind, flags, stream_id) + payload


def reply_frames(value: bytes, stream_id: int = 1) -> bytes:
    """A whole OK reply carrying ``value``, its headers encoded by the hpack package."""
    encoder = hpack.Encoder()
    head = encoder.encode([(":status", "200"), ("content-type", "application/grpc")])
    body = BytesValue(value=value).SerializeToString()
    tail = encoder.encode([("grpc-status", "0")])
    return (
        raw_frame(1, 0x4, stream_id, head)
        + raw_frame(0, 0, stream_id, struct.pack(">BL", 0, len(body)) + body)
        + raw_frame(1, 0x5, stream_id, tail)
    )


def padded_reply(value: bytes) -> bytes:
    """What grpclib's server never sends: a reply whose headers are padded and split over
    CONTINUATION, its message in padded DATA, and trailers with a priority field."""
    encoder = hpack.Encoder()
    head = encoder.encode([(":status", "200"), ("content-type", "application/grpc")])
    body = BytesValue(value=value).SerializeToString()
    message = struct.pack(">BL", 0, len(body)) + body
    trailers = encoder.encode([("grpc-status", "0")])
    return (
        raw_frame(1, 0x08, 1, bytes([2]) + head[:3] + b"\x00\x00")  # HEADERS, PADDED
        + raw_frame(9, 0x04, 1, head[3:])  # CONTINUATION, END_HEADERS
        + raw_frame(0, 0x08, 1, bytes([4]) + message + b"\x00" * 4)  # DATA, PADDED
        + raw_frame(1, 0x20 | 0x04 | 0x01, 1, b"\x00\x00\x00\x00\x10" + trailers)  # PRIORITY
    )


def oversized_reply() -> bytes:
    """Response headers, then a message whose prefix announces 4 GiB."""
    head = hpack.Encoder().encode([(":status", "200"), ("content-type", "application/grpc")])
    prefix = struct.pack(">BL", 0, 2**32 - 1)
    return raw_frame(1, 0x04, 1, head) + raw_frame(0, 0, 1, prefix + b"x" * 100)


# Frames of the wrong length for their type: the end of the connection, for either client.
MALFORMED_FRAMES = [
    raw_frame(8, 0, 0, b"\x00\x00\x01"),  # WINDOW_UPDATE of 3 bytes
    raw_frame(8, 0, 1, b""),  # and of none, on the stream
    raw_frame(4, 0, 0, b"\x00\x04\x00\x01\x00\x00\x00"),  # SETTINGS of 7 bytes
    raw_frame(7, 0, 0, b"\x00\x00\x00\x00"),  # GOAWAY of 4 bytes
    raw_frame(3, 0, 1, b"\x00"),  # RST_STREAM of 1 byte
    raw_frame(6, 0, 0, b"1234"),  # PING of 4 bytes
]


@contextlib.contextmanager
def raw_server(path: str, reply: bytes) -> Iterator[None]:
    """A server that sends an empty SETTINGS as it accepts, answers the first request (once
    its DATA has ended stream 1) with ``reply``, and then reads until the client goes."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(raw_frame(4, 0, 0, b""))
            received = b""
            while b"\x00\x01\x00\x00\x00\x01" not in received:  # DATA with END_STREAM, stream 1
                received += conn.recv(65536)
            conn.sendall(reply)
            with contextlib.suppress(OSError):
                while conn.recv(65536):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(5)
        listener.close()
