"""Which Tencent Cloud service a host name stands for, the way the API gateway routes.

``cam.tencentcloudapi.com``, ``sts.tencentcloudapi.com``, regional ``sts.ap-guangzhou.
tencentcloudapi.com`` and the international ``*.intl.tencentcloudapi.com`` forms all name
their service in the first label. The plain-HTTP port does not route by host (clients reach
it as ``127.0.0.1:PORT``); the TLS listeners, which clients reach by these names, do.

It also says which hosts are this machine's loopback, for the plain port's admin plane and
metadata path: a web page the developer visits may send requests to the emulator, and with
DNS rebinding read the answers, but the ``Host`` it sends is then its own name, never
``localhost`` (docs/security.md).
"""

from __future__ import annotations

import ipaddress
import re

DOMAIN = "tencentcloudapi.com"
# <service>[.<region>][.intl].tencentcloudapi.com, an optional port, any case.
_API_HOST = re.compile(
    r"^(?P<service>[a-z0-9-]+)(?:\.(?P<region>[a-z]{2,}-[a-z0-9-]+))?(?:\.intl)?"
    r"\.tencentcloudapi\.com\.?(?::\d+)?$"
)


def service_of(host: str | None) -> str | None:
    """The service a Tencent Cloud API host name names, or None for any other host."""
    match = _API_HOST.match((host or "").strip().lower())
    return match.group("service") if match else None


def is_api_host(host: str) -> bool:
    """Whether a host (no port) is one the emulator answers for over TLS: any host under
    ``tencentcloudapi.com``. Everything else is refused, so nothing reaches the internet."""
    name = host.strip().lower().rstrip(".")
    return name.endswith("." + DOMAIN) and all(
        re.fullmatch(r"[a-z0-9-]+", label) for label in name.split(".")
    )


# A Host header: a name or IPv4 address, or an IPv6 address in brackets; an optional port.
_HOST_HEADER = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[^\[\]:]*)(?::[0-9]{1,5})?")


def host_name(host: str | None) -> str:
    """The name part of a ``Host`` header, lowercased, without port (an IPv6 address keeps its
    brackets); "" when it is not a well-formed header value."""
    match = _HOST_HEADER.fullmatch((host or "").strip().lower())
    return match.group("name") if match else ""


def is_loopback(host: str | None) -> bool:
    """Whether a ``Host`` header names this machine's loopback: ``localhost``, an address in
    127.0.0.0/8 or ``[::1]``, with any port or none."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        if name.startswith("["):
            return ipaddress.IPv6Address(name[1:-1]).is_loopback
        return ipaddress.IPv4Address(name).is_loopback
    except ValueError:
        return False


def binds_beyond_loopback(address: str) -> bool:
    """Whether a listener bound to ``address`` (as the socket reports it) is reachable from
    other machines: anything but a loopback address, the wildcard addresses included."""
    try:
        return not ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return True
