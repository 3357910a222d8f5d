"""Where each service is reached: public domains, the international site, or an override.

Pure values, no I/O. An override replaces scheme, host and port together, so a test or
a user can point one service at a local emulator without touching the other.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Mapping

DEFAULT_ROOT_DOMAIN = "tencentcloudapi.com"
INTL_ROOT_DOMAIN = "intl.tencentcloudapi.com"
_DEFAULT_PORTS = {"http": 80, "https": 443}


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
        """Accept ``https://host``, ``http://127.0.0.1:8080`` or a bare host name."""
        parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
        if not parts.hostname or parts.path not in ("", "/") or parts.query:
            raise ValueError(f"not an endpoint URL: {url!r}")
        return cls(parts.scheme, parts.hostname, parts.port)

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
