"""Unix-socket connections for the gRPC server and client, with their own lean TLS layer
instead of asyncio's.

Why not ``loop.create_unix_server(..., ssl=...)``: asyncio's TLS (``asyncio.sslproto``) is a
general state machine in Python around the same OpenSSL objects used here (``ssl.SSLObject``
over two memory BIOs), and every read and write passes through several layers of it and of
the socket transport below. Vault's calls to a plugin are small and many, so those layers
cost as much CPU as decoding and answering a request. Here a read is one ``recv_into`` of
what the kernel holds, one copy into OpenSSL's input, and ``SSLObject.read`` straight into the
protocol's buffer, record after record; a write is ``SSLObject.write`` and one ``send`` of what
it produced. Measured on one core with a 300-byte message echoed over TLS: 32 us of server
CPU per round trip against asyncio's 46, and 9 against 17 when four messages arrive together.

Why not a non-blocking ``ssl.SSLSocket``: OpenSSL then reads each record's header and body
with two system calls (Python leaves read-ahead off), so a busy connection makes several
reads per request where this makes one.

A connection is an ``asyncio.Transport`` for an ``asyncio.BufferedProtocol``, what the gRPC
server and client already speak. Plain sockets (``ssl=None``: the tests' servers, metadata
mode) take the same path without the TLS layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from .http2 import READ_SIZE

if TYPE_CHECKING:
    from typing_extensions import Buffer

log = logging.getLogger(__name__)

ProtocolFactory = Callable[[], asyncio.BufferedProtocol]

# What asyncio allows a TLS handshake by default: a peer that connects and then says nothing
# must not hold a socket for ever.
HANDSHAKE_TIMEOUT = 60.0
# Above this many bytes waiting to be sent the protocol is told to pause (pause_writing), and
# at a quarter of it to resume: asyncio's own defaults.
HIGH_WATER = 64 * 1024
LOW_WATER = HIGH_WATER // 4
LISTEN_BACKLOG = 100

_WOULD_BLOCK = (BlockingIOError, InterruptedError)


class TLSLayer:
    """OpenSSL's side of one connection: records in, plaintext out, and back."""

    def __init__(self, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO):
        self.tls = tls
        self.incoming = incoming
        self.outgoing = outgoing

    @classmethod
    def wrap(
        cls, context: ssl.SSLContext, *, server_side: bool, server_hostname: str | None = None
    ) -> TLSLayer:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(
            incoming, outgoing, server_side=server_side, server_hostname=server_hostname
        )
        return cls(tls, incoming, outgoing)

    def holds_input(self) -> bool:
        """Whether records or plaintext are waiting that the socket will not signal again."""
        return bool(self.incoming.pending or self.tls.pending())


class SocketTransport(asyncio.Transport):
    """One connected non-blocking socket, plain or with a TLS layer, driving a buffered
    protocol."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: asyncio.BufferedProtocol,
        tls: TLSLayer | None = None,
    ) -> None:
        super().__init__({"socket": sock, "ssl_object": tls.tls if tls else None})
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._tls = tls
        self._raw = bytearray(READ_SIZE) if tls is not None else bytearray()
        self._raw_view = memoryview(self._raw)
        self._protocol = protocol
        self._unsent: list[bytes] = []  # bytes for the socket, in order
        self._buffered = 0
        self._writer_on = False
        self._write_paused = False  # the protocol was told to pause writing
        self._reading_paused = False
        self._closing = False
        self._closed = False
        protocol.connection_made(self)
        if not self._closing:
            loop.add_reader(self._fd, self._readable)
            # What came in the handshake's last read (the peer's first bytes often do) sits in
            # OpenSSL's input, and the socket will not say so again.
            if tls is not None and tls.holds_input():
                loop.call_soon(self._resume_decrypting)

    # --- reading ---------------------------------------------------------------------------

    def _readable(self) -> None:
        if self._reading_paused or self._closing:
            return
        if self._tls is None:
            self._read_plain()
            return
        count = self._try_recv(self._raw)
        if count is None:
            return
        if count == 0:
            self._tls.incoming.write_eof()
        else:
            self._tls.incoming.write(self._raw_view[:count])
        self._decrypt()

    def _read_plain(self) -> None:
        protocol = self._protocol
        count = self._try_recv(protocol.get_buffer(-1))
        if count is None:
            return
        if count == 0:
            self._end_of_input()
        else:
            protocol.buffer_updated(count)

    def _try_recv(self, buffer: Buffer) -> int | None:
        """Bytes the socket gave (0 at its end); None when it had none yet, or when the
        connection failed (it is ending)."""
        try:
            return self._sock.recv_into(buffer)
        except _WOULD_BLOCK:
            return None
        except OSError as exc:
            self._fail(exc)
            return None

    def _decrypt(self) -> None:
        """Hand the protocol every record's plaintext that has arrived."""
        tls, protocol = self._tls, self._protocol
        assert tls is not None
        while not (self._reading_paused or self._closing):
            buffer = protocol.get_buffer(-1)
            try:
                count: int = tls.tls.read(len(buffer), buffer)  # type: ignore[arg-type,assignment]
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # close_notify
                count = 0
            except (ssl.SSLError, OSError) as exc:
                self._fail(exc)
                return
            if count == 0:
                self._end_of_input()
                break
            protocol.buffer_updated(count)
        # Reading may have made records to send (a TLS 1.3 key update's answer, tickets).
        if tls.outgoing.pending and not self._closed:
            self._send(tls.outgoing.read())

    def _end_of_input(self) -> None:
        keep_open = self._protocol.eof_received()
        if not keep_open:
            self.close()

    def pause_reading(self) -> None:
        if self._reading_paused or self._closing:
            return
        self._reading_paused = True
        self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading_paused or self._closing:
            return
        self._reading_paused = False
        self._loop.add_reader(self._fd, self._readable)
        if self._tls is not None and self._tls.holds_input():
            self._loop.call_soon(self._resume_decrypting)

    def _resume_decrypting(self) -> None:
        if not (self._reading_paused or self._closing or self._tls is None):
            self._decrypt()

    def is_reading(self) -> bool:
        return not (self._reading_paused or self._closing)

    # --- writing ---------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        if self._tls is None:
            self._send(bytes(data))
            return
        try:
            self._tls.tls.write(data)
        except (ssl.SSLError, OSError) as exc:
            self._fail(exc)
            return
        self._send(self._tls.outgoing.read())

    def _send(self, data: bytes) -> None:
        """Send now what the socket takes; keep the rest, in order, for when it is writable."""
        if self._unsent:
            self._unsent.append(data)
            self._buffered += len(data)
            self._check_high_water()
            return
        sent = self._try_send(data)
        if sent is None or sent == len(data):
            return
        self._unsent.append(data[sent:])
        self._buffered = len(data) - sent
        self._watch_writable()
        self._check_high_water()

    def _try_send(self, data: bytes) -> int | None:
        """How much of ``data`` the socket took (0 when its buffer is full); None when the
        connection failed (it is ending)."""
        try:
            return self._sock.send(data)
        except _WOULD_BLOCK:
            return 0
        except OSError as exc:
            self._fail(exc)
            return None

    def _writable(self) -> None:
        while self._unsent and not self._closed:
            data = b"".join(self._unsent) if len(self._unsent) > 1 else self._unsent[0]
            self._unsent.clear()
            sent = self._try_send(data)
            if sent is None:
                return
            self._buffered -= sent
            if sent < len(data):
                self._unsent.append(data[sent:])
                return
        self._unwatch_writable()
        if self._write_paused and self._buffered <= LOW_WATER:
            self._write_paused = False
            self._protocol.resume_writing()
        if self._closing and not self._unsent:
            self._finish(None)

    def _watch_writable(self) -> None:
        if not self._writer_on and not self._closed:
            self._writer_on = True
            self._loop.add_writer(self._fd, self._writable)

    def _unwatch_writable(self) -> None:
        if self._writer_on:
            self._writer_on = False
            self._loop.remove_writer(self._fd)

    def _check_high_water(self) -> None:
        if not self._write_paused and self._buffered > HIGH_WATER:
            self._write_paused = True
            self._protocol.pause_writing()

    def get_write_buffer_size(self) -> int:
        return self._buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return LOW_WATER, HIGH_WATER

    def can_write_eof(self) -> bool:
        return False

    # --- ending ----------------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop reading; end the connection once what was written has been sent."""
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fd)
        if self._tls is not None:
            # close_notify, queued behind what was written; the peer's own is not awaited.
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                self._tls.tls.unwrap()
            if self._tls.outgoing.pending:
                self._send(self._tls.outgoing.read())
        if not self._unsent:
            self._loop.call_soon(self._finish, None)

    def abort(self) -> None:
        self._closing = True
        self._loop.call_soon(self._finish, None)

    def _fail(self, exc: BaseException) -> None:
        log.debug("connection failed", extra={"reason": str(exc)})
        self._closing = True
        self._loop.call_soon(self._finish, exc)

    def _finish(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing = True
        self._loop.remove_reader(self._fd)
        self._unwatch_writable()
        self._unsent.clear()
        self._buffered = 0
        self._sock.close()
        self._protocol.connection_lost(exc if isinstance(exc, Exception) else None)


async def _handshake(loop: asyncio.AbstractEventLoop, sock: socket.socket, tls: TLSLayer) -> None:
    """Run the TLS handshake over the non-blocking socket, without blocking the loop."""
    while True:
        try:
            tls.tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        if tls.outgoing.pending:
            await loop.sock_sendall(sock, tls.outgoing.read())
        if done:
            return
        data = await loop.sock_recv(sock, READ_SIZE)
        if not data:
            raise ConnectionResetError("the peer closed the connection during the TLS handshake")
        tls.incoming.write(data)


async def connect_unix(
    protocol_factory: ProtocolFactory,
    path: str,
    *,
    ssl_context: ssl.SSLContext | None,
    server_hostname: str | None = None,
) -> tuple[SocketTransport, asyncio.BufferedProtocol]:
    """Connect, do the TLS handshake when there is a context, and start the protocol. The
    caller bounds the time it takes (cancelling closes the socket)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, path)
        tls = None
        if ssl_context is not None:
            tls = TLSLayer.wrap(ssl_context, server_side=False, server_hostname=server_hostname)
            await _handshake(loop, sock, tls)
        protocol = protocol_factory()
        return SocketTransport(loop, sock, protocol, tls), protocol
    except BaseException:
        sock.close()
        raise


class UnixServer:
    """A listening Unix socket: each connection is handshaken (with TLS) and handed to a new
    protocol from the factory."""

    def __init__(self, protocol_factory: ProtocolFactory, ssl_context: ssl.SSLContext | None):
        self._factory = protocol_factory
        self._context = ssl_context
        self._listener: socket.socket | None = None
        self._handshakes: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = asyncio.Event()

    async def start(self, path: str) -> None:
        loop = self._loop = asyncio.get_running_loop()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(LISTEN_BACKLOG)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        loop.add_reader(listener.fileno(), self._accept)

    def _accept(self) -> None:
        listener, loop, context = self._listener, self._loop, self._context
        if listener is None or loop is None:
            return
        for _ in range(LISTEN_BACKLOG):
            try:
                sock, _ = listener.accept()
            except _WOULD_BLOCK:
                return
            except OSError as exc:  # out of descriptors, say: the next wake-up tries again
                log.warning("could not accept a connection", extra={"reason": str(exc)})
                return
            sock.setblocking(False)
            if context is None:
                SocketTransport(loop, sock, self._factory())
                continue
            task = loop.create_task(self._serve_tls(loop, context, sock))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _serve_tls(
        self, loop: asyncio.AbstractEventLoop, context: ssl.SSLContext, sock: socket.socket
    ) -> None:
        tls = TLSLayer.wrap(context, server_side=True)
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                await _handshake(loop, sock, tls)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            # Only Vault holds a certificate we trust: anyone else gets this far and no further.
            reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("refused a connection: TLS handshake failed", extra={"reason": reason})
            sock.close()
            return
        except BaseException:
            sock.close()
            raise
        SocketTransport(loop, sock, self._factory(), tls)

    def close(self) -> None:
        """Stop accepting; connections already made stay (their owner closes them)."""
        if self._listener is not None and self._loop is not None:
            self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        for task in list(self._handshakes):
            task.cancel()
        self._stopped.set()

    async def wait_closed(self) -> None:
        """Until ``close()`` has run and the handshakes it interrupted have ended."""
        await self._stopped.wait()
        if self._handshakes:
            await asyncio.gather(*self._handshakes, return_exceptions=True)
