"""Which Tencent Cloud service a host name stands for, the way the API gateway routes.

``cam.tencentcloudapi.com``, ``sts.tencentcloudapi.com``, regional ``sts.ap-guangzhou.
tencentcloudapi.com`` and the international ``*.intl.tencentcloudapi.com`` forms all name
their service in the first label. The plain-HTTP port does not route by host (clients reach
it as ``127.0.0.1:PORT``); the TLS listeners, which clients reach by these names, do.
"""

from __future__ import annotations

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
