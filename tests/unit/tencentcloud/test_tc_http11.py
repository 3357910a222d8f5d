"""HTTP/1.1 as the client reads it: answers within bounds, or a clear protocol error."""

from __future__ import annotations

import socket
import threading

import pytest

from tencentcloud_secrets.tencentcloud.http11 import (
    Http11Connection,
    ProtocolError,
    request_head,
    tunnel,
)

HEAD = request_head("POST", "/", {"Host": "cam.tencentcloudapi.com", "Content-Length": "2"})


def _answer(raw: bytes, *, limit: int = 1 << 20) -> tuple[int, bytes, bool]:
    """Exchange one request with a peer that answers ``raw`` and then closes."""
    ours, theirs = socket.socketpair()
    received: list[bytes] = []

    def peer() -> None:
        with theirs:
            received.append(theirs.recv(65536))
            theirs.sendall(raw)

    thread = threading.Thread(target=peer)
    thread.start()
    connection = Http11Connection(ours)
    try:
        return connection.exchange(HEAD, b"{}", limit=limit)
    finally:
        thread.join()
        connection.close()
        assert received[0] == HEAD + b"{}"


def test_length_chunked_and_to_the_end() -> None:
    assert _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") == (200, b"{}", True)
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=1\r\n{}\r\n0\r\nT: 1\r\n\r\n"
    )
    assert _answer(chunked) == (200, b"{}", True)
    # HTTP/1.0 without a length: the body runs to the end, and the connection is spent.
    assert _answer(b"HTTP/1.0 200 OK\r\n\r\n{}") == (200, b"{}", False)
    assert _answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") == (
        200,
        b"",
        False,
    )
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 No\r\nContent-Length: 1\r\n\r\nx"
    assert _answer(interim) == (503, b"x", True)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}", "closed before"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "two different"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}", "malformed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}", "unsupported"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx\r\n", "does not end"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", "too many headers"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 9000 + b"\r\n\r\n", "too long"),
        (b"HTTP/1.1 200 OK\r\n no-name\r\n\r\n", "malformed"),
    ],
)
def test_what_breaks_the_protocol_is_refused(raw: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        _answer(raw)


def test_bodies_over_the_limit_are_refused_whatever_their_framing() -> None:
    for raw in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + b"x" * 11,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n"
        + b"x" * 11
        + b"\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 11,
    ):
        with pytest.raises(ProtocolError, match="too long"):
            _answer(raw, limit=10)


def test_a_header_value_with_a_line_break_is_never_sent() -> None:
    with pytest.raises(ValueError, match="line break"):
        request_head("POST", "/", {"X-TC-Action": "AddUser\r\nX-Injected: 1"})


def test_a_tunnel_refused_names_only_the_status() -> None:
    ours, theirs = socket.socketpair()
    with theirs:
        theirs.sendall(b"HTTP/1.1 407 secret-realm-text\r\nProxy-Authenticate: Basic\r\n\r\n")
        with pytest.raises(ProtocolError) as info:
            tunnel(ours, "cam.tencentcloudapi.com", 443, "Basic dXNlcjpwYXNz")
        sent = theirs.recv(65536)
    ours.close()
    assert str(info.value) == "HTTP 407"
    assert sent.startswith(b"CONNECT cam.tencentcloudapi.com:443 HTTP/1.1\r\n")
    assert b"Proxy-Authorization: Basic dXNlcjpwYXNz\r\n" in sent
