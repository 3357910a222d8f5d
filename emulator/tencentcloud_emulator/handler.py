"""The HTTP request handler every listener shares (stdlib ThreadingHTTPServer).

It only moves bytes: ``/`` goes to ``Emulator.handle``, ``/_emulator/`` to the admin plane and
the metadata path to ``metadata``; on the TLS listeners, which stand in for
``*.tencentcloudapi.com``, only the API is served and it is routed by Host.
It never logs request lines, because a GET query may carry a password or an identity token.

What it refuses before reading a body (docs/security.md):

- a body whose length is not one plain decimal Content-Length (negative, not a number, two
  that differ, or chunked): 400, or 501 for a transfer coding; over ``MAX_BODY_BYTES``: 413.
  The connection closes, as where the next request starts is unknown;
- on the plain port, the admin plane and the metadata path for a ``Host`` that is not this
  machine's loopback (or a name given with ``--allow-host``): 403. That stops a web page that
  DNS-rebinds its own name to 127.0.0.1. The API at ``/`` is not limited: clients reach it by
  whatever name their endpoint setting says (a container's service name in CI), and every call
  must be signed with a key of the emulator's world;
- admin POST and PUT without a JSON or YAML type (``admin.write_refusal``): 415.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import admin, hosts, metadata
from .core import Emulator, Request
from .exceptions import BrokenAnswer, DropConnection

log = logging.getLogger("tencentcloud_emulator.server")

MAX_BODY_BYTES = 10 * 1024 * 1024
_DECIMAL = re.compile(r"[0-9]+")


class RefusedError(Exception):
    """A request answered with an error before its body is read; the connection then closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY each call waits out a delayed ACK.
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer
    server_version = "tencentcloud-emulator"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        try:
            length = self._body_length()
            self._check_local_plane(url.path)
        except RefusedError as refusal:
            self.close_connection = True  # the body, if any, is left unread
            self._send(refusal.status, {"error": str(refusal)})
            return
        body = self.rfile.read(length) if length else b""
        emulator = self.server.emulator
        routes_by_host = self.server.routes_by_host
        if not routes_by_host and metadata.handles(url.path):
            self._send_bytes(*metadata.handle(emulator, self.command, url.path))
            return
        if not routes_by_host and url.path.startswith(admin.PREFIX):
            status, payload = admin.handle(emulator, self.command, url.path, url.query, body)
            self._send(status, payload)
            return
        if url.path != "/" or self.command not in ("GET", "POST"):
            self._send(404, {"error": "the Tencent Cloud API is served at POST / and GET /"})
            return
        request = Request(
            method=self.command,
            path=url.path,
            query=url.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client_ip=str(self.client_address[0]),
            secure=self.server.secure,
            host_service=hosts.service_of(self.headers.get("Host")) if routes_by_host else None,
        )
        try:
            status, payload = emulator.handle(request)
        except DropConnection:
            # Before or after the action ran, the caller sees the connection close unanswered.
            self.close_connection = True
            return
        except BrokenAnswer as broken:
            self._send_bytes(broken.status, broken.content_type, broken.body)
            return
        self._send(status, payload)

    def _body_length(self) -> int:
        """The body's length from Content-Length (RFC 9112, 6.3): one decimal number, repeated
        identically at most; no transfer coding, which this server does not decode."""
        if self.headers.get("Transfer-Encoding") is not None:
            raise RefusedError(501, "Transfer-Encoding is not supported: send a Content-Length")
        values = {
            part.strip()
            for header in self.headers.get_all("Content-Length") or []
            for part in header.split(",")
        }
        if not values:
            return 0
        if not all(_DECIMAL.fullmatch(value) for value in values):
            raise RefusedError(400, "Content-Length must be a non-negative decimal number")
        lengths = {int(value) for value in values}
        if len(lengths) != 1:
            raise RefusedError(400, "Content-Length is given more than once, with different values")
        (length,) = lengths
        if length > MAX_BODY_BYTES:
            raise RefusedError(413, f"request body too large (limit {MAX_BODY_BYTES} bytes)")
        return length

    def _check_local_plane(self, path: str) -> None:
        """The admin plane and the metadata path answer loopback hosts only, admin writes only
        with a JSON or YAML body (see the module's docstring)."""
        if self.server.routes_by_host:
            return  # the TLS listeners serve the API alone
        admin_plane = path.startswith(admin.PREFIX)
        if not (admin_plane or metadata.handles(path)):
            return
        hosts_sent = self.headers.get_all("Host") or []
        if len(hosts_sent) != 1 or not self.server.is_local_host(hosts_sent[0]):
            raise RefusedError(
                403,
                "this path answers only requests to this machine's loopback (Host: "
                "127.0.0.1, localhost or [::1]; tencentcloud-emulator --allow-host adds a name)",
            )
        if admin_plane:
            problem = admin.write_refusal(self.command, self.headers.get("Content-Type"))
            if problem is not None:
                raise RefusedError(415, problem)

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        # Exactly "application/json": the official SDKs only parse errors under that type.
        self._send_bytes(status, "application/json", data)

    def _send_bytes(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: the emulator logs each API call itself, without parameters."""

    def log_error(self, format: str, *args: Any) -> None:
        log.warning("malformed HTTP request from %s", self.client_address[0])


class EmulatorHTTPServer(ThreadingHTTPServer):
    """The plain-HTTP listener: API, admin plane and metadata on one port."""

    daemon_threads = True
    secure = False  # plain HTTP; the TLS listeners say otherwise
    # The plain port routes by credential scope; the TLS listeners by Host, like the gateway.
    routes_by_host = False

    def __init__(
        self, address: tuple[str, int], emulator: Emulator, allow_hosts: tuple[str, ...] = ()
    ) -> None:
        super().__init__(address, Handler)
        self.emulator = emulator
        # Names besides the loopback ones the admin plane and metadata path answer to.
        self.allow_hosts = frozenset(hosts.host_name(name) for name in allow_hosts) - {""}

    def is_local_host(self, host: str) -> bool:
        """Whether a Host header may reach the admin plane and the metadata path."""
        return hosts.is_loopback(host) or hosts.host_name(host) in self.allow_hosts
