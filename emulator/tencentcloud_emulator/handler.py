"""The HTTP request handler every listener shares (stdlib ThreadingHTTPServer).

It only moves bytes: ``/`` goes to ``Emulator.handle``, ``/_emulator/`` to the admin plane and
the metadata path to ``metadata``; on the TLS listeners, which stand in for
``*.tencentcloudapi.com``, only the API is served and it is routed by Host.
It never logs request lines, because a GET query may carry a password or an identity token.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import admin, hosts, metadata
from .core import Emulator, Request
from .exceptions import BrokenAnswer, DropConnection

log = logging.getLogger("tencentcloud_emulator.server")

MAX_BODY_BYTES = 10 * 1024 * 1024


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
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, {"error": "request body too large"})
            self.close_connection = True
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

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        super().__init__(address, Handler)
        self.emulator = emulator
