"""Keep-alive HTTP/1.1 connections to the API, pooled per endpoint, through the environment's
proxy when it names one.

The transport sends one kind of request (a POST of a small JSON body to ``/``) to one or two
hosts, from as many threads as the mount has workers. Everything that does not change between
calls is decided once, when a pool is made: the proxy and whether the host bypasses it, the TLS
context and the certificates it trusts. A call then only takes an idle connection (or opens
one), writes the request, reads a bounded answer and puts the connection back. (A general HTTP
library re-reads the environment, ``~/.netrc`` and the CA bundle's path on every call: about a
sixth of the plugin's CPU at 32 concurrent credentials.)

The pool keeps every connection a burst of workers opened, so a steady load never pays a TLS
handshake twice; connections idle for longer than servers keep them open are closed instead of
reused.

What reaches an error message: the host, and what failed (connect, TLS, proxy, answer). Never
a header, a body or the proxy's credentials.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import ipaddress
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping

from .endpoints import Endpoint
from .http11 import (
    AnswerCutError,
    AnswerTooLongError,
    Http11Connection,
    ProtocolError,
    request_head,
    tunnel,
)

# An API answer is a few kilobytes, a page of a list a few hundred. Anything longer than this
# is not an answer from the API, and is not read into memory.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
# A connection idle this long is closed rather than reused: servers and proxies close idle
# keep-alive connections after about a minute, and reusing one they have closed costs a call.
IDLE_SECONDS = 45.0
# Idle connections kept per endpoint: as many as a mount has workers (each mount has its own
# client, so its own pools).
MAX_IDLE = 128
# Environment variables naming a CA bundle (file or directory), in the order they are honoured:
# the two the plugin's earlier HTTP library read, then OpenSSL's own (which Go plugins read).
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


class ConnectError(Exception):
    """No connection: the request was certainly not sent."""


class ExchangeError(Exception):
    """The connection failed after the request may have been sent, or the answer was unusable."""


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Proxy:
    """An HTTP proxy that tunnels HTTPS with CONNECT."""

    host: str
    port: int
    authorization: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """``http://[user:password@]host[:port]``, or a bare ``host:port`` (as curl reads it).

        The ``ValueError`` never repeats the URL: it may hold a password."""
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http":
            raise ValueError(
                f"the proxy's scheme must be http (a CONNECT proxy), not {parts.scheme!r}"
            )
        try:
            port = parts.port or 80
        except ValueError:
            raise ValueError("the proxy's port must be a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError("the proxy URL has no host")
        authorization = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            authorization = f"Basic {token}"
        return cls(parts.hostname, port, authorization)


@dataclasses.dataclass(frozen=True)
class ProxyRules:
    """Which proxy, if any, carries the HTTPS calls to a host: ``HTTPS_PROXY`` (or
    ``ALL_PROXY``), except for hosts ``NO_PROXY`` names. Plain-http endpoints (loopback or
    explicitly allowed) are always reached directly."""

    https: Proxy | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ProxyRules:
        env = os.environ if environ is None else environ

        def read(name: str) -> str:
            return (env.get(name.lower()) or env.get(name.upper()) or "").strip()

        url = read("https_proxy") or read("all_proxy")
        entries = tuple(entry.strip().lower().lstrip(".") for entry in read("no_proxy").split(","))
        return cls(Proxy.parse(url) if url else None, tuple(e for e in entries if e))

    def proxy_for(self, endpoint: Endpoint) -> Proxy | None:
        if endpoint.scheme != "https" or self.https is None or self.bypasses(endpoint):
            return None
        return self.https

    def bypasses(self, endpoint: Endpoint) -> bool:
        host = endpoint.host.lower()
        port = endpoint.port or 443
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
                host
            )
        except ValueError:
            address = None
        for entry in self.no_proxy:
            if entry == "*":
                return True
            name, entry_port = entry, ""
            if entry.count(":") == 1:  # host:port; an IPv6 entry has more colons
                name, _, entry_port = entry.partition(":")
            if entry_port and entry_port != str(port):
                continue
            if address is not None:
                with contextlib.suppress(ValueError):
                    if address in ipaddress.ip_network(name, strict=False):
                        return True
                continue
            if host == name or host.endswith(f".{name}"):
                return True
        return False


def trust_context(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """Verification of the API's certificates: the bundle an environment variable names
    (``CA_BUNDLE_VARIABLES``), else the Mozilla bundle that ships with the plugin (``certifi``),
    so the system's trust store of whichever host runs Vault does not change who is trusted."""
    env = os.environ if environ is None else environ
    named = next((env[name] for name in CA_BUNDLE_VARIABLES if env.get(name)), None)
    if named is not None and os.path.isdir(named):
        return ssl.create_default_context(capath=named)
    if named is None:
        import certifi

        named = certifi.where()
    return ssl.create_default_context(cafile=named)


def connect_error(exc: Exception, endpoint: Endpoint, proxy: Proxy | None) -> ConnectError:
    """What a failure to connect (``OSError``, or the proxy's ``ProtocolError``) tells the user:
    where, and what failed; the proxy's status code but never its reason phrase or headers."""
    where = endpoint.host_header
    if isinstance(exc, TimeoutError):
        return ConnectError(f"connecting to {where} timed out")
    if isinstance(exc, ProtocolError):
        return ConnectError(f"the proxy refused to reach {where}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        variables = ", ".join(CA_BUNDLE_VARIABLES)
        return ConnectError(
            f"the TLS certificate of {where} is not trusted (CA bundle: {variables})"
        )
    if isinstance(exc, ssl.SSLError):
        return ConnectError(f"the TLS handshake with {where} failed")
    through = " through the proxy" if proxy is not None else ""
    return ConnectError(f"could not connect to {where}{through}")


def exchange_error(exc: Exception, where: str) -> ExchangeError:
    """What a failure after the request may have been sent (``OSError`` or ``ProtocolError``)
    tells the user; nothing the peer sent is quoted."""
    if isinstance(exc, TimeoutError):
        return ExchangeError(f"no answer from {where} in time")
    if isinstance(exc, AnswerTooLongError):
        return ExchangeError(f"the answer from {where} is too long")
    if isinstance(exc, AnswerCutError):
        return ExchangeError(f"connection lost to {where} mid-answer")
    if isinstance(exc, ProtocolError):
        return ExchangeError(f"the answer from {where} is not HTTP/1.1 ({exc})")
    return ExchangeError(f"connection lost to {where}")


def _stale(conn: Http11Connection) -> bool:
    """An idle keep-alive connection the server has closed is readable (end of file), as is
    one holding bytes nobody asked for: neither may carry the next request."""
    if conn.holds_unread:
        return True
    try:
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class EndpointPool:
    """What every pool of connections to one endpoint knows: where and how it connects."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        context: ssl.SSLContext | None,
        proxy: Proxy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if endpoint.scheme == "https" and context is None:
            raise ValueError("an https endpoint needs a TLS context")
        self.endpoint = endpoint
        self.proxy = proxy
        self._context = context
        self._clock = clock
        self._closed = False
        self.opened = 0  # connections opened so far: how well reuse works, for tests and tuning


class ConnectionPool(EndpointPool):
    """Keep-alive connections to one endpoint; thread-safe. Idle connections are reused
    last-in first-out, so a quiet period lets the oldest ones age out."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        context: ssl.SSLContext | None,
        proxy: Proxy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(endpoint, context=context, proxy=proxy, clock=clock)
        self._idle: list[tuple[Http11Connection, float]] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
        for conn, _ in idle:
            conn.close()

    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)

    def post(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> Answer:
        """Send one POST to ``/`` and read its answer; ``headers`` must include ``Host``."""
        head = request_head("POST", "/", {**headers, "Content-Length": str(len(body))})
        conn = self._reuse()
        if conn is None:
            conn = self._open(connect_timeout)
        try:
            conn.sock.settimeout(read_timeout)
            status, data, keep = conn.exchange(head, body, limit=MAX_ANSWER_BYTES)
        except (ProtocolError, OSError) as exc:
            conn.close()
            raise exchange_error(exc, self.endpoint.host_header) from None
        if keep:
            self._keep(conn)
        else:
            conn.close()
        return Answer(status, data)

    def _reuse(self) -> Http11Connection | None:
        now = self._clock()
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn, since = self._idle.pop()
            if now - since < IDLE_SECONDS and not _stale(conn):
                return conn
            conn.close()

    def _keep(self, conn: Http11Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append((conn, self._clock()))
                return
        conn.close()

    def _open(self, timeout: float) -> Http11Connection:
        endpoint = self.endpoint
        port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
        proxy = self.proxy
        address = (endpoint.host, port) if proxy is None else (proxy.host, proxy.port)
        try:
            sock = socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            raise connect_error(exc, endpoint, proxy) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy is not None:
                tunnel(sock, endpoint.host, port, proxy.authorization)
            if endpoint.scheme == "https":
                assert self._context is not None
                sock = self._context.wrap_socket(sock, server_hostname=endpoint.host)
        except (ProtocolError, OSError) as exc:
            sock.close()
            raise connect_error(exc, endpoint, proxy) from None
        self.opened += 1
        return Http11Connection(sock)
