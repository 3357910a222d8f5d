"""The shim's own socket transport, plain and with TLS: what asyncio's transports promised the
gRPC server and client (order, back-pressure, end of input, close after the last byte), and
TLS that only the trusted peer gets through. The peer is a plain blocking socket, or Python's
``ssl.SSLSocket``, on a thread: an implementation independent of the one under test."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tencentcloud_secrets_shim import certificate, socket_transport
from tencentcloud_secrets_shim.socket_transport import UnixServer, connect_unix
from tencentcloud_secrets_shim.tls import PluginIdentity


class Recorder(asyncio.BufferedProtocol):
    """Keeps what arrives and what the transport told it."""

    def __init__(self, buffer_size: int = 4096) -> None:
        self.buffer = bytearray(buffer_size)
        self.received = bytearray()
        self.events: list[str] = []
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.on_data: Callable[[Recorder], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.events.append("made")

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.received += self.buffer[:nbytes]
        if self.on_data is not None:
            self.on_data(self)

    def eof_received(self) -> bool | None:
        self.events.append("eof")
        return None

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        if not self.lost.done():
            self.lost.set_result(exc)


class Identities:
    def __init__(self) -> None:
        server_pem, server_key = certificate.self_signed()
        client_pem, client_key = certificate.self_signed()
        stranger_pem, stranger_key = certificate.self_signed()
        self.server = PluginIdentity(server_pem, server_key)
        self.client = PluginIdentity(client_pem, client_key)
        self.stranger = PluginIdentity(stranger_pem, stranger_key)
        self.server_pem, self.client_pem = server_pem, client_pem

    def server_context(self) -> ssl.SSLContext:
        return self.server.server_context(self.client_pem)

    def client_context(self, who: PluginIdentity | None = None) -> ssl.SSLContext:
        return (who or self.client).client_context(self.server_pem)


@pytest.fixture(scope="module")
def ids() -> Identities:
    return Identities()


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "t.sock")


def _peer(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, letting the loop run, until ``condition()`` holds; fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def _kept(made: list[Recorder], protocol: Recorder) -> Recorder:
    made.append(protocol)
    return protocol


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        chunk = sock.recv(size - len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


@pytest.mark.parametrize("tls", [False, True])
def test_bytes_flow_both_ways_in_order_and_close_sends_the_last_of_them(
    ids: Identities, path: str, tls: bool
) -> None:
    """A peer sends 200 KiB in odd pieces and reads back an echo; our side closes right after
    its last write, and every byte still reaches the peer before the end."""
    payload = os.urandom(200 * 1024 + 7)
    got: list[bytes] = []

    def peer() -> None:
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(path)
        sock = ids.client_context().wrap_socket(raw, server_hostname="localhost") if tls else raw
        for start in range(0, len(payload), 3001):
            sock.sendall(payload[start : start + 3001])
        got.append(_recv_exactly(sock, len(payload) + 1))
        sock.close()

    async def main() -> list[str]:
        made: list[Recorder] = []

        def factory() -> Recorder:
            protocol = Recorder()

            def echo(p: Recorder) -> None:
                assert p.transport is not None
                if len(p.received) == len(payload):
                    p.transport.write(bytes(p.received))
                    p.transport.close()

            protocol.on_data = echo
            made.append(protocol)
            return protocol

        server = UnixServer(factory, ids.server_context() if tls else None)
        await server.start(path)
        thread = _peer(peer)
        await _until(lambda: bool(made))
        assert await asyncio.wait_for(made[0].lost, 10) is None
        server.close()
        await server.wait_closed()
        await asyncio.to_thread(thread.join, 10)
        return made[0].events

    events = asyncio.run(main())
    assert got == [payload]  # the peer then saw the end: one byte short of what it asked for
    assert events[0] == "made"
    assert events[-1] == "lost"


@pytest.mark.parametrize("tls", [False, True])
def test_a_peer_that_stops_reading_pauses_the_writer_until_it_drains(
    ids: Identities, path: str, tls: bool
) -> None:
    """Writes beyond the high-water mark while the peer reads nothing: the protocol is told to
    pause, then to resume once the peer has read, and nothing is lost or reordered, though
    our side closed before the peer read anything."""
    chunks = [bytes([i % 251]) * 16384 for i in range(64)]  # 1 MiB, far past the kernel's
    expected = b"".join(chunks)
    release = threading.Event()
    got: list[bytes] = []

    def peer() -> None:
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(path)
        sock = ids.client_context().wrap_socket(raw, server_hostname="localhost") if tls else raw
        sock.sendall(b"go")
        release.wait(10)
        got.append(_recv_exactly(sock, len(expected)))
        sock.close()

    async def main() -> Recorder:
        made: list[Recorder] = []

        def factory() -> Recorder:
            protocol = Recorder()

            def flood(p: Recorder) -> None:
                assert p.transport is not None
                if p.received == b"go":
                    for chunk in chunks:
                        p.transport.write(chunk)

            protocol.on_data = flood
            made.append(protocol)
            return protocol

        server = UnixServer(factory, ids.server_context() if tls else None)
        await server.start(path)
        thread = _peer(peer)
        await _until(lambda: bool(made) and "pause" in made[0].events)
        transport = made[0].transport
        assert transport is not None
        assert transport.get_write_buffer_size() > socket_transport.HIGH_WATER
        transport.close()
        release.set()
        await _until(lambda: "resume" in made[0].events)
        await asyncio.to_thread(thread.join, 10)
        await asyncio.wait_for(made[0].lost, 10)
        server.close()
        return made[0]

    protocol = asyncio.run(main())
    assert got == [expected]
    assert protocol.events[:3] == ["made", "pause", "resume"]


def test_the_peers_first_bytes_and_end_in_the_handshakes_last_write_are_read(
    ids: Identities, path: str
) -> None:
    """The peer's TLS Finished, its first data and its close_notify arrive in one write, so
    in the read that ends the handshake: the data still reaches the protocol, then the end."""
    tail: list[bytes] = []

    def peer() -> None:
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(path)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ids.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                incoming.write(raw.recv(65536))
        tls.write(b"bye")
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.unwrap()
        raw.sendall(outgoing.read())  # Finished, "bye" and close_notify together
        while chunk := raw.recv(65536):
            tail.append(chunk)
        raw.close()

    async def main() -> Recorder:
        made: list[Recorder] = []

        def factory() -> Recorder:
            made.append(Recorder())
            return made[0]

        server = UnixServer(factory, ids.server_context())
        await server.start(path)
        thread = _peer(peer)
        await _until(lambda: bool(made))
        assert await asyncio.wait_for(made[0].lost, 10) is None
        await asyncio.to_thread(thread.join, 10)
        server.close()
        return made[0]

    protocol = asyncio.run(main())
    assert bytes(protocol.received) == b"bye"
    assert protocol.events == ["made", "eof", "lost"]
    assert tail  # our close_notify, at least


def test_a_client_without_the_trusted_certificate_never_reaches_a_protocol(
    ids: Identities, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    outcome: list[str] = []

    def stranger() -> None:
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(path)
        try:
            sock = ids.client_context(ids.stranger).wrap_socket(raw, server_hostname="localhost")
            sock.sendall(b"hello")
            outcome.append("read " + repr(sock.recv(10)))
        except (ssl.SSLError, OSError) as exc:
            outcome.append(type(exc).__name__)
        finally:
            raw.close()

    async def main() -> list[Recorder]:
        made: list[Recorder] = []
        server = UnixServer(lambda: _kept(made, Recorder()), ids.server_context())
        await server.start(path)
        thread = _peer(stranger)
        await asyncio.to_thread(thread.join, 10)
        await asyncio.sleep(0.1)
        server.close()
        await server.wait_closed()
        return made

    with caplog.at_level(logging.WARNING, logger="tencentcloud_secrets_shim.socket_transport"):
        made = asyncio.run(main())
    assert made == []
    assert outcome
    assert outcome[0] != "read b'hello'"  # refused: an error, or the connection's end
    assert "TLS handshake failed" in caplog.text


def test_a_peer_that_never_handshakes_is_dropped_after_the_timeout(
    ids: Identities, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket_transport, "HANDSHAKE_TIMEOUT", 0.2)
    closed: list[bytes] = []

    def silent() -> None:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        sock.settimeout(10)
        closed.append(sock.recv(10))  # b"" once the server gives up on it
        sock.close()

    async def main() -> list[Recorder]:
        made: list[Recorder] = []
        server = UnixServer(lambda: _kept(made, Recorder()), ids.server_context())
        await server.start(path)
        thread = _peer(silent)
        await asyncio.to_thread(thread.join, 10)
        server.close()
        return made

    assert asyncio.run(main()) == []
    assert closed == [b""]


def test_a_client_connection_verifies_the_server_and_carries_data(
    ids: Identities, path: str
) -> None:
    """``connect_unix`` against a server made with Python's own TLS sockets: it accepts the
    trusted server, and refuses one whose certificate it was not given."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()

    def server(context: ssl.SSLContext) -> None:
        raw, _ = listener.accept()
        try:
            with context.wrap_socket(raw, server_side=True) as sock:
                sock.sendall(_recv_exactly(sock, 5)[::-1])
        except (ssl.SSLError, OSError):
            raw.close()

    async def call(context: ssl.SSLContext) -> bytes:
        protocol: Any
        transport, protocol = await connect_unix(
            Recorder, path, ssl_context=context, server_hostname="localhost"
        )
        transport.write(b"hello")
        await _until(lambda: len(protocol.received) >= 5)
        transport.close()
        await asyncio.wait_for(protocol.lost, 10)
        return bytes(protocol.received)

    thread = _peer(lambda: server(ids.server_context()))
    assert asyncio.run(call(ids.client_context())) == b"olleh"
    thread.join(10)

    impostor = ids.stranger.server_context(ids.client_pem)
    thread = _peer(lambda: server(impostor))
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(call(ids.client_context()))
    thread.join(10)
    listener.close()
