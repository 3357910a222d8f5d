"""Where each service is reached: public domains, the international site, or an override.

Pure values, no I/O. An override replaces scheme, host and port together, so a test or
a user can point one service at a local emulator without touching the other.

Every request carries a signature, and the keys it is made with may be the Vault server's
own (environment or instance role). A signature binds one action on one host for five
minutes, so sending it in clear text to another machine lets anyone on the path replay it:
plain ``http`` is therefore only for loopback hosts unless the caller explicitly allows it
(``check_transport``), and an override must be exactly ``scheme://host[:port]``, with nothing
(user info, path, query, control characters) that a URL parser could read in more than one way.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse
from collections.abc import Mapping

DEFAULT_ROOT_DOMAIN = "tencentcloudapi.com"
INTL_ROOT_DOMAIN = "intl.tencentcloudapi.com"
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_CHARS = 300
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_LOOPBACK_NAMES = frozenset({"localhost"})


class InsecureEndpointError(ValueError):
    """Plain http to a host that is not this machine, without the caller's consent."""


def _host_problem(host: str) -> str | None:
    """Why ``host`` (as urlsplit gives it: lowercase, no brackets) is no host name or IP."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return "the host must be a DNS name or an IP address"
    return None


@dataclasses.dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int | None = None

    def __post_init__(self) -> None:
        if self.scheme not in _DEFAULT_PORTS:
            raise ValueError(f"unsupported scheme {self.scheme!r}")
        if not self.host:
            raise ValueError("endpoint host is empty")

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Accept ``https://host``, ``http://127.0.0.1:8080`` or a bare host name (https).

        The ``ValueError`` says what is wrong without repeating the URL (callers quote it).
        """
        if len(url) > MAX_URL_CHARS:
            raise ValueError(f"it is longer than {MAX_URL_CHARS} characters")
        if not url.isascii() or not url.isprintable() or any(c.isspace() for c in url):
            # urlsplit silently drops tabs and newlines: "127.0.0.1\n.evil" would be another host.
            raise ValueError("it may hold only printable ASCII characters without spaces")
        if any(c in url for c in "@?#\\"):
            raise ValueError("it must not carry user info, a query or a fragment")
        try:
            parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
            port = parts.port
        except ValueError:
            raise ValueError("its port must be a number from 1 to 65535") from None
        if parts.scheme not in _DEFAULT_PORTS:
            raise ValueError("its scheme must be http or https")
        if parts.path not in ("", "/"):
            raise ValueError("it must not have a path")
        if not parts.hostname:
            raise ValueError("it needs a host")
        problem = _host_problem(parts.hostname)
        if problem:
            raise ValueError(problem)
        if port == 0:
            raise ValueError("its port must be a number from 1 to 65535")
        return cls(parts.scheme, parts.hostname, port)

    @property
    def is_loopback(self) -> bool:
        """Whether the host is this machine: ``localhost``, 127.0.0.0/8 or ::1."""
        if self.host in _LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def host_header(self) -> str:
        """The Host header sent and signed: the port appears only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is None or self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}/"


def check_transport(endpoint: Endpoint, *, allow_insecure: bool) -> None:
    """Refuse plain http to anything but loopback unless ``allow_insecure`` says otherwise."""
    if endpoint.scheme == "http" and not endpoint.is_loopback and not allow_insecure:
        raise InsecureEndpointError(
            "plain http is allowed only for loopback hosts (localhost, 127.0.0.0/8, ::1); use "
            "https, or set allow_insecure_endpoints=true to send signed requests in clear text"
        )


@dataclasses.dataclass(frozen=True)
class EndpointResolver:
    """Chooses the endpoint of a service; ``regional_sts`` selects sts.<region>.<root>."""

    root_domain: str = DEFAULT_ROOT_DOMAIN
    regional_sts: bool = False
    overrides: Mapping[str, Endpoint] = dataclasses.field(default_factory=dict)

    def resolve(self, service: str, region: str | None = None) -> Endpoint:
        override = self.overrides.get(service)
        if override is not None:
            return override
        if service == "sts" and self.regional_sts and region:
            return Endpoint("https", f"sts.{region}.{self.root_domain}")
        return Endpoint("https", f"{service}.{self.root_domain}")
