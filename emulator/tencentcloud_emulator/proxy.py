"""The TLS listeners: the emulator as ``https://*.tencentcloudapi.com`` for unmodified clients.

- ``HTTPSListener`` speaks TLS directly and picks each connection's certificate by SNI (for a
  client whose resolver sends those names here, e.g. an ``/etc/hosts`` entry).
- ``ConnectProxy`` is an HTTP proxy that accepts only ``CONNECT <host>.tencentcloudapi.com:443``,
  then terminates TLS itself with a certificate for that host: a client given
  ``HTTPS_PROXY`` and the emulator's CA reaches the emulator at its default endpoints.

Both hand the decrypted connection to the shared ``Handler``, which routes by Host. Neither
ever opens a connection anywhere: a request for any other host or port is refused with 403,
so a misdirected client fails loudly instead of reaching the internet. Nothing here logs a
request line or a header.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from typing import Any

from . import hosts
from .core import Emulator
from .handler import EmulatorHTTPServer, Handler
from .tls import CertificateAuthority

log = logging.getLogger("tencentcloud_emulator.proxy")

# A CONNECT request is a line and a few headers; anything longer is not a client we serve.
MAX_CONNECT_BYTES = 8192
# Bounds a handshake or a CONNECT head that never completes; the API exchange after it is not
# bounded, like the plain port's.
HANDSHAKE_TIMEOUT = 10.0
API_PORT = 443


class HTTPSListener(EmulatorHTTPServer):
    """HTTPS on one port for every ``*.tencentcloudapi.com`` name, routed by Host."""

    secure = True
    routes_by_host = True

    def __init__(
        self, address: tuple[str, int], emulator: Emulator, authority: CertificateAuthority
    ) -> None:
        super().__init__(address, emulator)
        self.authority = authority
        # Serves no certificate of its own: the SNI callback swaps in the host's context, and a
        # client that names no API host is refused during the handshake.
        self._sni_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._sni_context.sni_callback = self._pick_certificate

    def _pick_certificate(
        self, connection: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext
    ) -> int | None:
        if name is None or not hosts.is_api_host(name):
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        connection.context = self.authority.context_for(name)
        return None

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the connection's own thread: the handshake never blocks the accept loop."""
        self.serve_tls(request, client_address, self._sni_context)

    def serve_tls(self, raw: socket.socket, client_address: Any, context: ssl.SSLContext) -> None:
        raw.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as err:
            # Typically a client that does not trust the emulator's CA (yet).
            log.warning("TLS handshake with %s failed: %s", client_address[0], type(err).__name__)
            return
        try:
            tls.settimeout(None)
            Handler(tls, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls.close()


class ConnectProxy(HTTPSListener):
    """An HTTP CONNECT proxy that is itself the far end of every tunnel it accepts."""

    def finish_request(self, request: Any, client_address: Any) -> None:
        raw: socket.socket = request
        raw.settimeout(HANDSHAKE_TIMEOUT)
        try:
            head = _read_head(raw)
        except OSError:
            return
        host, port = _connect_target(head) or ("", 0)
        if port != API_PORT or not hosts.is_api_host(host):
            # Plain-HTTP proxying included: the emulator answers for the API's HTTPS names only.
            log.info("refused a proxy request that is not a tunnel to %s", hosts.DOMAIN)
            _refuse(raw, f"only CONNECT to *.{hosts.DOMAIN}:{API_PORT} is served")
            return
        try:
            raw.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        except OSError:
            return
        self.serve_tls(raw, client_address, self.authority.context_for(host))


def _read_head(raw: socket.socket) -> bytes:
    """The request head, byte by byte: what follows it is the client's TLS and must stay
    unread in the socket for the handshake."""
    head = bytearray()
    while not head.endswith(b"\r\n\r\n") and len(head) < MAX_CONNECT_BYTES:
        byte = raw.recv(1)
        if not byte:
            break
        head += byte
    return bytes(head)


def _connect_target(head: bytes) -> tuple[str, int] | None:
    """``(host, port)`` of a well-formed ``CONNECT host:port HTTP/1.x``, else None."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != "CONNECT" or not parts[2].startswith("HTTP/1."):
        return None
    host, _, port = parts[1].rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _refuse(raw: socket.socket, why: str) -> None:
    """403 and close: the request is never forwarded anywhere."""
    body = f"tencentcloud-emulator: {why}\n".encode()
    answer = (
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with contextlib.suppress(OSError):
        raw.sendall(answer)
