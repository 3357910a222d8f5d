"""The asyncio client against an independent gRPC server (grpclib's), and against raw frames
for what no server library sends."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import hpack
import pytest
from google.protobuf.wrappers_pb2 import BytesValue

from tencentcloud_secrets_shim import certificate, rpc
from tencentcloud_secrets_shim.grpc_async_client import AsyncUnaryClient, BrokenConnectionError
from tencentcloud_secrets_shim.tls import PluginIdentity
from tests.support.grpc_peers import (
    MALFORMED_FRAMES,
    EchoService,
    grpclib_server,
    oversized_reply,
    padded_reply,
    raw_frame,
    raw_server,
    reply_frames,
)

T = TypeVar("T")


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[str, EchoService]]:
    path = str(tmp_path / "s.sock")
    with grpclib_server(path) as service:
        yield path, service


def _run(path: str, body: Callable[[AsyncUnaryClient], Awaitable[T]]) -> T:
    """``body`` with a client of ``path``, on a loop of its own; the client is closed after."""

    async def main() -> T:
        client = AsyncUnaryClient(path, None)
        try:
            return await body(client)
        finally:
            client.close()
            await asyncio.sleep(0)  # the transport closes its socket on the next iteration

    return asyncio.run(main())


async def _echo(client: AsyncUnaryClient, value: bytes, method: str = "echo") -> bytes:
    reply = await client.call(f"/t.S/{method}", BytesValue(value=value), BytesValue, 10)
    return reply.value


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for the server's thread to get somewhere (bounded: a failure, not a hang)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server never got there")


def test_calls_in_sequence_share_one_connection(served: tuple[str, EchoService]) -> None:
    path, service = served

    async def body(client: AsyncUnaryClient) -> None:
        for i in range(50):
            assert await _echo(client, b"x%d" % i) == (b"x%d" % i)[::-1]

    _run(path, body)
    assert (service.calls, service.connections) == (50, 1)


def test_many_concurrent_calls_share_one_connection(served: tuple[str, EchoService]) -> None:
    path, service = served

    async def body(client: AsyncUnaryClient) -> list[bytes]:
        return await asyncio.gather(*(_echo(client, b"v%d" % i, "pause") for i in range(50)))

    assert _run(path, body) == [(b"v%d" % i)[::-1] for i in range(50)]
    assert service.connections == 1
    assert service.most_at_once > 1


def test_calls_beyond_the_servers_stream_limit_wait_for_a_free_stream(tmp_path: Any) -> None:
    # h2 under grpclib ends the connection when a client opens more streams than it allows.
    path = str(tmp_path / "s.sock")
    with grpclib_server(path, max_streams=2) as service:

        async def body(client: AsyncUnaryClient) -> list[bytes]:
            return await asyncio.gather(*(_echo(client, b"v%d" % i, "pause") for i in range(20)))

        assert _run(path, body) == [(b"v%d" % i)[::-1] for i in range(20)]
    assert (service.calls, service.connections, service.most_at_once) == (20, 1, 2)


def test_large_messages_wait_for_and_return_window_updates(served: tuple[str, EchoService]) -> None:
    # 6 MB out, twice at once: more than the server's 4 MiB stream and connection windows,
    # so the client must wait for its updates. 10 MB back each: more than the client's 4 MiB
    # windows, so it must top the server's up. A small call goes alongside them.
    path, _ = served
    requests = [b"%012d" % (10 << 20) + os.urandom(6 << 20) for _ in range(2)]

    async def body(client: AsyncUnaryClient) -> list[bytes]:
        large = [_echo(client, request) for request in requests]
        return await asyncio.gather(*large, _echo(client, b"small"))

    replies = _run(path, body)
    assert replies == [request[::-1] + b"r" * (10 << 20) for request in requests] + [b"llams"]


def test_a_status_from_the_server_is_an_rpc_error_with_its_message(
    served: tuple[str, EchoService],
) -> None:
    path, service = served

    async def body(client: AsyncUnaryClient) -> None:
        with pytest.raises(rpc.RpcError) as caught:
            await client.call("/t.S/fail", BytesValue(), BytesValue, 5)
        assert caught.value.status is rpc.Status.NOT_FOUND
        assert caught.value.message == "no such key: ü 100%"
        assert await _echo(client, b"ab") == b"ba"

    _run(path, body)
    assert service.connections == 1


def test_an_unknown_method_is_unimplemented(served: tuple[str, EchoService]) -> None:
    path, _ = served

    async def body(client: AsyncUnaryClient) -> None:
        with pytest.raises(rpc.RpcError) as caught:
            await client.call("/t.S/nope", BytesValue(), BytesValue, 5)
        assert caught.value.status is rpc.Status.UNIMPLEMENTED

    _run(path, body)


def test_no_answer_in_time_is_a_timeout_and_the_connection_stays(
    served: tuple[str, EchoService],
) -> None:
    path, service = served

    async def slow(client: AsyncUnaryClient, seconds: bytes, timeout: float) -> object:
        return await client.call("/t.S/slow", BytesValue(value=seconds), BytesValue, timeout)

    async def body(client: AsyncUnaryClient) -> None:
        # Deadlines in the opposite order of the calls: each call must end at its own, the
        # first with its reply (after a second), the other two without one (after three).
        calls = [slow(client, b"1", 10), slow(client, b"3", 0.5), slow(client, b"3", 0.2)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert results[0] == BytesValue()
        assert [type(result) for result in results[1:]] == [TimeoutError, TimeoutError]
        assert await _echo(client, b"ab") == b"ba"

    _run(path, body)
    assert service.connections == 1


def test_a_call_waiting_for_a_free_stream_has_a_deadline_too(tmp_path: Any) -> None:
    path = str(tmp_path / "s.sock")
    with grpclib_server(path, max_streams=1) as service:

        async def body(client: AsyncUnaryClient) -> bytes:
            slow = asyncio.create_task(client.call("/t.S/slow", BytesValue(), BytesValue, 10))
            await _until(lambda: service.sleeping == 1)
            with pytest.raises(TimeoutError):
                await client.call("/t.S/echo", BytesValue(), BytesValue, 0.2)
            slow.cancel()  # its stream is reset, which frees it for the next call
            return await _echo(client, b"ab")

        assert _run(path, body) == b"ba"
    assert (service.calls, service.connections) == (1, 1)


def test_a_cancelled_call_resets_its_stream_and_leaves_the_others(
    served: tuple[str, EchoService],
) -> None:
    path, service = served

    async def body(client: AsyncUnaryClient) -> list[bytes]:
        slow = asyncio.create_task(client.call("/t.S/slow", BytesValue(), BytesValue, 10))
        others = [asyncio.create_task(_echo(client, b"v%d" % i, "pause")) for i in range(5)]
        await _until(lambda: service.sleeping == 1)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        replies = await asyncio.gather(*others)
        await _until(lambda: service.cancelled == 1)
        return [*replies, await _echo(client, b"after")]

    assert _run(path, body) == [(b"v%d" % i)[::-1] for i in range(5)] + [b"retfa"]
    assert service.connections == 1


def test_the_server_closing_the_connection_fails_the_calls_on_it_and_the_next_reconnects(
    served: tuple[str, EchoService],
) -> None:
    path, service = served

    async def body(client: AsyncUnaryClient) -> None:
        slow = [
            asyncio.create_task(client.call("/t.S/slow", BytesValue(), BytesValue, 10))
            for _ in range(3)
        ]
        with pytest.raises((BrokenConnectionError, OSError)):
            await client.call("/t.S/drop", BytesValue(), BytesValue, 10)
        for task in slow:
            with pytest.raises((BrokenConnectionError, OSError)):
                await task
        assert await _echo(client, b"ab") == b"ba"

    _run(path, body)
    assert service.connections == 2


def test_close_fails_the_calls_in_flight(served: tuple[str, EchoService]) -> None:
    path, service = served

    async def body(client: AsyncUnaryClient) -> None:
        slow = asyncio.create_task(client.call("/t.S/slow", BytesValue(), BytesValue, 10))
        await _until(lambda: service.sleeping == 1)
        client.close()
        with pytest.raises(BrokenConnectionError):
            await slow
        assert await _echo(client, b"ab") == b"ba"  # a closed client opens again

    _run(path, body)
    assert service.connections == 2


def test_calls_over_tls(tmp_path: Any) -> None:
    vault_pem, vault_key = certificate.self_signed()
    plugin_pem, plugin_key = certificate.self_signed()
    vault = PluginIdentity(vault_pem, vault_key)
    plugin = PluginIdentity(plugin_pem, plugin_key)
    path = str(tmp_path / "tls.sock")
    with grpclib_server(path, ssl=vault.server_context(plugin_pem)) as service:

        async def main() -> list[bytes]:
            client = AsyncUnaryClient(path, plugin.client_context(vault_pem))
            try:
                return await asyncio.gather(*(_echo(client, b"t%d" % i) for i in range(10)))
            finally:
                client.close()
                await asyncio.sleep(0.05)  # the TLS transport's closing takes a few iterations

        assert asyncio.run(main()) == [(b"t%d" % i)[::-1] for i in range(10)]
    assert service.connections == 1


# --- raw frames ----------------------------------------------------------------------------


def test_padded_and_continued_header_blocks_and_padded_data_are_read(tmp_path: Any) -> None:
    path = str(tmp_path / "raw.sock")
    with raw_server(path, padded_reply(b"padded")):
        assert _run(path, lambda client: _echo(client, b"x")) == b"padded"


class _Peer:
    """One connection's server side, frame by frame, on the test's own loop."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames: list[tuple[int, int, int, bytes]] = []

    async def start(self, settings: bytes = b"") -> None:
        assert await self.reader.readexactly(24) == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        self.writer.write(raw_frame(4, 0, 0, settings))

    async def until(self, kind: int, flags: int = 0) -> tuple[int, int, int, bytes]:
        """Read up to the next frame of ``kind`` with all of ``flags``."""
        while True:
            length_high, length_low, got, got_flags, stream_id = struct.unpack(
                ">HBBBL", await self.reader.readexactly(9)
            )
            payload = await self.reader.readexactly((length_high << 8) | length_low)
            item = (got, got_flags, stream_id, payload)
            self.frames.append(item)
            if got == kind and got_flags & flags == flags:
                return item


def _raw_test(
    tmp_path: Any,
    serve: Callable[[_Peer, int], Awaitable[None]],
    body: Callable[[AsyncUnaryClient], Awaitable[T]],
) -> T:
    """``body`` with a client of a server whose connections ``serve`` runs, each given its
    number (0 for the first)."""
    path = str(tmp_path / "raw.sock")

    async def main() -> T:
        accepted = 0

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            try:
                await serve(_Peer(reader, writer), accepted - 1)
            finally:
                writer.close()

        server = await asyncio.start_unix_server(on_connect, path)
        client = AsyncUnaryClient(path, None)
        try:
            return await body(client)
        finally:
            client.close()
            server.close()
            await asyncio.sleep(0)

    return asyncio.run(main())


def test_goaway_fails_the_calls_after_its_last_stream_and_finishes_the_others(
    tmp_path: Any,
) -> None:
    async def serve(peer: _Peer, number: int) -> None:
        await peer.start()
        if number == 0:
            await peer.until(0, 0x1)  # stream 1's request
            await peer.until(0, 0x1)  # stream 3's
            peer.writer.write(raw_frame(7, 0, 0, struct.pack(">LL", 1, 0)))  # GOAWAY, last 1
            peer.writer.write(reply_frames(b"first", 1))
            await peer.reader.read()
        else:
            _, _, stream_id, _ = await peer.until(0, 0x1)
            peer.writer.write(reply_frames(b"second connection", stream_id))
            await peer.reader.read()

    async def body(client: AsyncUnaryClient) -> list[object]:
        calls = [_echo(client, b"a"), _echo(client, b"b")]
        results = await asyncio.gather(*calls, return_exceptions=True)
        return [*results, await _echo(client, b"c")]

    first, second, third = _raw_test(tmp_path, serve, body)
    assert first == b"first"
    assert isinstance(second, BrokenConnectionError)
    assert third == b"second connection"


def test_the_peers_settings_windows_and_pings_are_honoured(tmp_path: Any) -> None:
    seen: dict[str, Any] = {}

    async def serve(peer: _Peer, number: int) -> None:
        # A stream window of 20,000 bytes and 16 KiB frames: the request must come in pieces,
        # and stop at the window until it grows.
        await peer.start(struct.pack(">HLHL", 4, 20_000, 5, 16_384))
        seen["settings"] = (await peer.until(4))[3]
        seen["window"] = (await peer.until(8))[3]
        await peer.until(4, 0x1)  # the ACK of ours
        received = 0
        while received < 20_000:
            received += len((await peer.until(0))[3])
        before = len(peer.frames)
        peer.writer.write(raw_frame(6, 0, 0, b"12345678"))
        await peer.until(6, 0x1)
        # Nothing but the PING's answer came after the window was used up.
        seen["while_blocked"] = [kind for kind, _, _, _ in peer.frames[before:]]
        peer.writer.write(raw_frame(8, 0, 1, struct.pack(">L", 1 << 20)))
        await peer.until(0, 0x1)
        seen["data"] = [payload for kind, _, _, payload in peer.frames if kind == 0]
        peer.writer.write(reply_frames(b"ok", 1))
        await peer.reader.read()

    async def body(client: AsyncUnaryClient) -> bytes:
        return await _echo(client, b"z" * 50_000)

    assert _raw_test(tmp_path, serve, body) == b"ok"
    settings = dict(struct.iter_unpack(">HL", seen["settings"]))
    assert settings == {2: 0, 4: 1 << 22, 6: 16 << 10}  # no push, our windows, header list
    assert struct.unpack(">L", seen["window"]) == ((1 << 22) - 65_535,)
    assert seen["while_blocked"] == [6]
    data: list[bytes] = seen["data"]
    assert max(map(len, data)) <= 16_384
    assert sum(map(len, data)) == 5 + len(BytesValue(value=b"z" * 50_000).SerializeToString())


def test_a_header_list_over_the_limit_fails_only_its_call(tmp_path: Any) -> None:
    async def serve(peer: _Peer, number: int) -> None:
        await peer.start()
        _, _, first, _ = await peer.until(0, 0x1)
        _, _, second, _ = await peer.until(0, 0x1)
        # Over 16 KiB decoded, in HEADERS and CONTINUATION frames of 16,000 bytes.
        fields = [(":status", "200")] + [(f"x-big-{i}", "v" * 7000) for i in range(3)]
        head = hpack.Encoder().encode(fields)
        pieces = [head[i : i + 16_000] for i in range(0, len(head), 16_000)]
        peer.writer.write(raw_frame(1, 0, first, pieces[0]))
        for piece in pieces[1:-1]:
            peer.writer.write(raw_frame(9, 0, first, piece))
        peer.writer.write(raw_frame(9, 0x4, first, pieces[-1]))
        seen.append((await peer.until(3))[2:])  # our reset of it
        peer.writer.write(reply_frames(b"fine", second))
        await peer.reader.read()

    async def body(client: AsyncUnaryClient) -> list[object]:
        calls = [_echo(client, b"a"), _echo(client, b"b")]
        return await asyncio.gather(*calls, return_exceptions=True)

    seen: list[tuple[int, bytes]] = []
    first, second = _raw_test(tmp_path, serve, body)
    assert isinstance(first, rpc.RpcError)
    assert first.status is rpc.Status.INTERNAL
    assert second == b"fine"
    assert seen == [(1, struct.pack(">L", 8))]  # RST_STREAM CANCEL


def test_a_call_out_of_time_resets_its_stream_and_the_connection_serves_the_next(
    tmp_path: Any,
) -> None:
    resets: list[tuple[int, bytes]] = []

    async def serve(peer: _Peer, number: int) -> None:
        await peer.start()
        await peer.until(0, 0x1)  # stream 1's request, never answered
        resets.append((await peer.until(3))[2:])
        _, _, stream_id, _ = await peer.until(0, 0x1)
        peer.writer.write(reply_frames(b"connection %d" % number, stream_id))
        await peer.reader.read()

    async def body(client: AsyncUnaryClient) -> bytes:
        with pytest.raises(TimeoutError):
            await client.call("/t.S/echo", BytesValue(), BytesValue, 0.2)
        return await _echo(client, b"next")

    assert _raw_test(tmp_path, serve, body) == b"connection 0"
    assert resets == [(1, struct.pack(">L", 8))]  # RST_STREAM CANCEL on the call's stream


@pytest.mark.parametrize("malformed", MALFORMED_FRAMES)
def test_a_malformed_frame_from_vault_breaks_the_connection(
    tmp_path: Any, malformed: bytes
) -> None:
    goaway: list[bytes] = []

    async def serve(peer: _Peer, number: int) -> None:
        await peer.start()
        await peer.until(0, 0x1)
        peer.writer.write(malformed)
        goaway.append((await peer.until(7))[3])
        await peer.reader.read()

    async def body(client: AsyncUnaryClient) -> None:
        with pytest.raises(BrokenConnectionError):
            await _echo(client, b"x")

    _raw_test(tmp_path, serve, body)
    assert goaway == [struct.pack(">LL", 0, 6)]  # GOAWAY FRAME_SIZE_ERROR, then closed


def test_a_reply_announced_larger_than_the_limit_is_refused_from_its_prefix(
    tmp_path: Any,
) -> None:
    resets: list[tuple[int, bytes]] = []

    async def serve(peer: _Peer, number: int) -> None:
        await peer.start()
        await peer.until(0, 0x1)
        peer.writer.write(oversized_reply())  # on stream 1
        resets.append((await peer.until(3))[2:])
        _, _, stream_id, _ = await peer.until(0, 0x1)
        peer.writer.write(reply_frames(b"connection %d" % number, stream_id))
        await peer.reader.read()

    async def body(client: AsyncUnaryClient) -> bytes:
        with pytest.raises(rpc.RpcError) as caught:
            await _echo(client, b"x")
        assert caught.value.status is rpc.Status.RESOURCE_EXHAUSTED
        return await _echo(client, b"next")

    assert _raw_test(tmp_path, serve, body) == b"connection 0"
    assert resets == [(1, struct.pack(">L", 8))]  # RST_STREAM CANCEL
