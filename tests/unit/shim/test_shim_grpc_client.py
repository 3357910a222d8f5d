"""The blocking client against an independent gRPC server (grpclib's)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import BytesValue

from tencentcloud_secrets_shim import rpc
from tencentcloud_secrets_shim.grpc_client import BrokenConnectionError, UnaryClient
from tests.support.grpc_peers import (
    MALFORMED_FRAMES,
    EchoService,
    grpclib_server,
    oversized_reply,
    padded_reply,
    raw_server,
)


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[str, EchoService]]:
    path = str(tmp_path / "s.sock")
    with grpclib_server(path) as service:
        yield path, service


def test_calls_in_sequence_share_one_connection(served: tuple[str, EchoService]) -> None:
    path, service = served
    client = UnaryClient(path, None)
    for i in range(50):
        reply = client.call("/t.S/echo", BytesValue(value=b"x%d" % i), BytesValue, 5)
        assert reply.value == (b"x%d" % i)[::-1]
    assert service.calls == 50
    client.close()


def test_large_messages_wait_for_and_return_window_updates(served: tuple[str, EchoService]) -> None:
    # 3 MB out: the server's window is 64 KiB, so the client must wait for its updates.
    # 10 MB back: more than the client's 4 MiB window, so it must top the server's up.
    path, _ = served
    client = UnaryClient(path, None)
    request = b"%012d" % (10 * 1024 * 1024) + os.urandom(3 * 1024 * 1024)
    reply = client.call("/t.S/echo", BytesValue(value=request), BytesValue, 30)
    assert reply.value == request[::-1] + b"r" * (10 * 1024 * 1024)
    client.close()


def test_a_status_from_the_server_is_an_rpc_error_with_its_message(
    served: tuple[str, EchoService],
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
    served: tuple[str, EchoService],
) -> None:
    path, _ = served
    client = UnaryClient(path, None)
    with pytest.raises(TimeoutError):
        client.call("/t.S/slow", BytesValue(), BytesValue, 0.3)
    assert client.call("/t.S/echo", BytesValue(value=b"ab"), BytesValue, 5).value == b"ba"


def test_an_unknown_method_is_unimplemented(served: tuple[str, EchoService]) -> None:
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
    path = str(tmp_path / "raw.sock")
    with raw_server(path, padded_reply(b"padded")):
        client = UnaryClient(path, None)
        reply = client.call("/t.S/echo", BytesValue(value=b"x"), BytesValue, 5)
        client.close()
    assert reply.value == b"padded"


@pytest.mark.parametrize("reply", MALFORMED_FRAMES)
def test_a_malformed_frame_from_vault_is_a_broken_connection(tmp_path: Any, reply: bytes) -> None:
    path = str(tmp_path / "raw.sock")
    with raw_server(path, reply):
        client = UnaryClient(path, None)
        with pytest.raises(BrokenConnectionError):
            client.call("/t.S/echo", BytesValue(value=b"x"), BytesValue, 5)
        client.close()


def test_a_reply_announced_larger_than_the_limit_is_refused_from_its_prefix(
    tmp_path: Any,
) -> None:
    path = str(tmp_path / "raw.sock")
    with raw_server(path, oversized_reply()):
        client = UnaryClient(path, None)
        with pytest.raises(rpc.RpcError) as caught:
            client.call("/t.S/echo", BytesValue(value=b"x"), BytesValue, 5)
        client.close()
    assert caught.value.status is rpc.Status.RESOURCE_EXHAUSTED
