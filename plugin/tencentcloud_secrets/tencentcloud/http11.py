"""One HTTP/1.1 connection to the API: a request out, an answer in, read within bounds.

The client sends one kind of request (a small POST) and reads one kind of answer (a status, a
few headers, a JSON body), so this is all of HTTP it needs: the status line, headers up to a
limit, a body by ``Content-Length``, ``chunked`` or until the connection closes, and whether
the connection may carry another request. ``http.client`` does the same with the ``email``
package's header parser, which costs more than a megabyte of memory in every plugin process
and a share of the CPU of each call.

Everything read from the network is bounded: a line, the number of headers, the body. Nothing
read is logged or quoted in an error.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Generator
from typing import TypeVar

MAX_LINE = 8192
MAX_HEADERS = 100
_INFORMATIONAL = range(100, 200)
T = TypeVar("T")


class ProtocolError(Exception):
    """The peer broke HTTP/1.1, went away mid-answer, or sent more than the bounds allow."""


class AnswerTooLongError(ProtocolError):
    """The answer's body is longer than the caller's limit."""


class AnswerCutError(ProtocolError):
    """The connection closed before the answer was complete."""


Reading = Generator[None, bool, T]
"""A read of an answer, apart from any I/O: it yields when it needs more bytes and is resumed
with True once more were fed to its ``AnswerReader``, or with False when the peer closed."""


class AnswerReader:
    """The bytes a connection has received and not yet read, and the reads that parse them.

    No I/O: the blocking connection below and the event loop's (``async_connections.py``)
    feed it what they receive and drive the same reads, so both read answers by one set of
    rules.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pos = 0

    def feed(self, data: bytes | memoryview) -> None:
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    @property
    def holds_unread(self) -> bool:
        """Bytes arrived that belong to no answer asked for: the connection is not reusable."""
        return self._pos < len(self._buffer)

    def answer(self, limit: int) -> Reading[tuple[int, bytes, bool]]:
        """The next answer's status, its body (at most ``limit`` bytes) and whether the
        connection may carry another request."""
        while True:
            status, headers = yield from self.head()
            if status not in _INFORMATIONAL:
                break
        keep = _keeps_alive(headers)
        encoding = headers.get("transfer-encoding", "").lower()
        if status in (204, 304):
            data = b""
        elif encoding:
            if encoding != "chunked":
                raise ProtocolError("unsupported transfer encoding")
            data = yield from self._chunked(limit)
        elif "content-length" in headers:
            data = yield from self._exact(_length(headers["content-length"], limit))
        else:
            data, keep = (yield from self._to_end(limit)), False
        return status, data, keep

    def head(self) -> Reading[tuple[int, dict[str, str]]]:
        """A status line and its headers (names lowercased)."""
        parts = (yield from self._line()).split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError("the answer does not start with an HTTP/1.x status line")
        status = int(parts[1])
        headers: dict[str, str] = {"http-version": parts[0].decode("ascii", "replace")}
        for _ in range(MAX_HEADERS + 1):
            line = yield from self._line()
            if not line:
                return status, headers
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise ProtocolError("a header line of the answer is malformed")
            key = name.decode("ascii", "replace").lower()
            text = value.strip().decode("latin-1")
            repeated = key in headers and key in ("content-length", "transfer-encoding")
            if repeated and headers[key] != text:
                raise ProtocolError(f"the answer has two different {key} headers")
            headers[key] = text
        raise ProtocolError("the answer has too many headers")

    def _line(self) -> Reading[bytes]:
        while True:
            end = self._buffer.find(b"\n", self._pos, self._pos + MAX_LINE + 1)
            if end >= 0:
                line = bytes(self._buffer[self._pos : end])
                self._pos = end + 1
                return line[:-1] if line.endswith(b"\r") else line
            if len(self._buffer) - self._pos > MAX_LINE:
                raise ProtocolError("a line of the answer is too long")
            if not (yield):
                raise AnswerCutError("the connection closed before the answer was complete")

    def _exact(self, size: int) -> Reading[bytes]:
        while len(self._buffer) - self._pos < size:
            if not (yield):
                raise AnswerCutError("the connection closed before the answer was complete")
        data = bytes(self._buffer[self._pos : self._pos + size])
        self._pos += size
        return data

    def _chunked(self, limit: int) -> Reading[bytes]:
        data = bytearray()
        while True:
            size_text = (yield from self._line()).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError("a chunk size of the answer is malformed") from None
            if size < 0 or len(data) + size > limit:
                raise AnswerTooLongError("the answer is too long")
            if size == 0:
                for _ in range(MAX_HEADERS + 1):  # trailers, ignored
                    if not (yield from self._line()):
                        return bytes(data)
                raise ProtocolError("the answer has too many trailers")
            data += yield from self._exact(size)
            if (yield from self._line()):
                raise ProtocolError("a chunk of the answer does not end where it said")

    def _to_end(self, limit: int) -> Reading[bytes]:
        while len(self._buffer) - self._pos <= limit:
            if not (yield):
                data = bytes(self._buffer[self._pos :])
                self._pos = len(self._buffer)
                return data
        raise AnswerTooLongError("the answer is too long")


class Http11Connection:
    """A blocking socket (plain or TLS) and what it has received; one request at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = AnswerReader()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    @property
    def holds_unread(self) -> bool:
        return self.reader.holds_unread

    def exchange(self, head: bytes, body: bytes, *, limit: int) -> tuple[int, bytes, bool]:
        """Send ``head`` (request line and headers, ending in an empty line) and ``body``;
        return the answer's status, its body (at most ``limit`` bytes) and whether the
        connection may be used again. Raises ``ProtocolError`` or ``OSError``."""
        self.sock.sendall(head + body)
        return self.read(self.reader.answer(limit))

    def read(self, reading: Reading[T]) -> T:
        """Drive ``reading`` with what the socket receives."""
        try:
            next(reading)
            while True:
                chunk = self.sock.recv(65536)
                self.reader.feed(chunk)
                reading.send(bool(chunk))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _length(value: str, limit: int) -> int:
    if not value.isdigit():
        raise ProtocolError("the answer's Content-Length is malformed")
    length = int(value)
    if length > limit:
        raise AnswerTooLongError("the answer is too long")
    return length


def _keeps_alive(headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if headers["http-version"] == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def request_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    """A request's line and headers. Header values come from the transport, which builds
    them from checked parts; a line break in one would split the request, so it is refused."""
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def tunnel(sock: socket.socket, host: str, port: int, authorization: str | None) -> None:
    """Ask an HTTP proxy on ``sock`` for a CONNECT tunnel to ``host:port``. Raises
    ``ProtocolError`` naming the proxy's status when it refuses (the status line names no
    secret; its reason phrase is not quoted)."""
    connection = Http11Connection(sock)
    sock.sendall(connect_head(host, port, authorization))
    status, _ = connection.read(connection.reader.head())
    check_tunnel(status, connection.reader)


def connect_head(host: str, port: int, authorization: str | None) -> bytes:
    """The CONNECT request asking a proxy for a tunnel to ``host:port``."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    headers = {"Host": target}
    if authorization:
        headers["Proxy-Authorization"] = authorization
    return request_head("CONNECT", target, headers)


def check_tunnel(status: int, reader: AnswerReader) -> None:
    """Raise ``ProtocolError`` unless the proxy's answer opened the tunnel cleanly."""
    if status != 200:
        raise ProtocolError(f"HTTP {status}")
    if reader.holds_unread:
        raise ProtocolError("the proxy sent bytes before the tunnel was up")
