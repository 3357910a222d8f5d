"""The emulator's listeners, run in background threads: the plain-HTTP port (API, admin plane,
metadata) and, when asked for, an HTTPS port and an HTTP CONNECT proxy port that stand in for
``*.tencentcloudapi.com`` (see ``proxy``).

The TLS listeners share one certificate authority, created with the server; its certificate is
written to ``ca_file`` before any listener accepts a connection, so a client started after the
server can trust it at once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from . import hosts
from .core import Emulator
from .handler import MAX_BODY_BYTES, EmulatorHTTPServer
from .proxy import ConnectProxy, HTTPSListener
from .tls import CertificateAuthority

__all__ = ["MAX_BODY_BYTES", "EmulatorHTTPServer", "EmulatorServer"]


class EmulatorServer:
    """An emulator listening on ``host:port`` (port 0 picks a free one) in a background thread;
    with ``https_port`` or ``proxy_port`` (0 = a free one), also over TLS.

    The plain port's admin plane and metadata path answer only requests whose Host is this
    machine's loopback, or one of ``allow_hosts`` (e.g. a container's service name): see
    ``handler``. ``exposed`` says whether the port is reachable from other machines."""

    def __init__(
        self,
        emulator: Emulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        https_port: int | None = None,
        proxy_port: int | None = None,
        ca_file: str | Path | None = None,
        allow_hosts: tuple[str, ...] = (),
    ) -> None:
        self.emulator = emulator
        self.httpd = EmulatorHTTPServer((host, port), emulator, allow_hosts)
        self.authority: CertificateAuthority | None = None
        self.https: HTTPSListener | None = None
        self.proxy: ConnectProxy | None = None
        self.ca_file: Path | None = None
        listeners: list[EmulatorHTTPServer] = [self.httpd]
        try:
            if https_port is not None or proxy_port is not None or ca_file is not None:
                self.authority = CertificateAuthority()
                if https_port is not None:
                    self.https = HTTPSListener((host, https_port), emulator, self.authority)
                    listeners.append(self.https)
                if proxy_port is not None:
                    self.proxy = ConnectProxy((host, proxy_port), emulator, self.authority)
                    listeners.append(self.proxy)
                if ca_file is not None:
                    self.ca_file = self.authority.write(ca_file)
        except BaseException:
            for listener in listeners:
                listener.server_close()
            raise
        self._listeners = listeners
        self._threads: list[tuple[EmulatorHTTPServer, threading.Thread]] = []

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def exposed(self) -> bool:
        """Whether the listeners are bound beyond this machine's loopback."""
        return hosts.binds_beyond_loopback(self.host)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def host_port(self) -> str:
        """What to give the SDKs as their endpoint (``HttpProfile(endpoint=...)``)."""
        return f"{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host_port}"

    @property
    def https_port(self) -> int | None:
        return None if self.https is None else int(self.https.server_address[1])

    @property
    def proxy_url(self) -> str | None:
        """``http://HOST:PORT`` of the CONNECT proxy, for ``HTTPS_PROXY``; None without one."""
        if self.proxy is None:
            return None
        return f"http://{self.host}:{int(self.proxy.server_address[1])}"

    def start(self) -> EmulatorServer:
        self._run_in_background(self._listeners)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the TLS listeners, if any, in background threads)."""
        self._run_in_background(self._listeners[1:])
        self.httpd.serve_forever()

    def _run_in_background(self, listeners: list[EmulatorHTTPServer]) -> None:
        for listener in listeners:
            thread = threading.Thread(
                target=listener.serve_forever, name="tencentcloud-emulator", daemon=True
            )
            thread.start()
            self._threads.append((listener, thread))

    def stop(self) -> None:
        # Only listeners serving in a thread are shut down: ``shutdown`` waits for a
        # ``serve_forever`` that a never-started listener would never run. Each wait lasts up to
        # a poll interval, so the listeners are told together rather than one after another.
        stoppers = [threading.Thread(target=listener.shutdown) for listener, _ in self._threads]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=10)
        for _, thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
        for listener in self._listeners:
            listener.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
