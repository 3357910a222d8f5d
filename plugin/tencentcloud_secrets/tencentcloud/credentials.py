"""Where the client's own credentials come from, in a fixed order.

Order: keys configured on the mount, then the environment, then the CVM instance role.
Keys configured on the mount always win, so a stray variable on the host can never
silently replace them. Nothing here may put a secret key or token into a repr, a log
line or an exception message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from .errors import CredentialsError
from .http11 import Http11Connection, ProtocolError, request_head

log = logging.getLogger(__name__)

DEFAULT_METADATA_URL = "http://metadata.tencentyun.com/latest/meta-data/cam/security-credentials/"
ENV_SECRET_ID = "TENCENTCLOUD_SECRET_ID"
ENV_SECRET_KEY = "TENCENTCLOUD_SECRET_KEY"
ENV_SECURITY_TOKEN = "TENCENTCLOUD_SECURITY_TOKEN"
ENV_REGION = "TENCENTCLOUD_REGION"
# A role listing or a credentials document is well under a kilobyte.
MAX_METADATA_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Credentials:
    """A key pair, plus a token and expiry when the pair is temporary."""

    secret_id: str
    secret_key: str
    token: str | None = None
    expires_at: float | None = None
    source: str = "static"

    def __post_init__(self) -> None:
        if not self.secret_id or not self.secret_key:
            raise ValueError("secret_id and secret_key must both be set")

    def __repr__(self) -> str:
        # The secret id identifies the key (it is logged by the service too); the rest is secret.
        token = "set" if self.token else "none"
        return (
            f"Credentials(secret_id={self.secret_id!r}, secret_key=<redacted>, token=<{token}>, "
            f"expires_at={self.expires_at!r}, source={self.source!r})"
        )

    __str__ = __repr__


class CredentialProvider(Protocol):
    def get(self) -> Credentials | None:
        """Current credentials, or None when this source has none to offer."""


@dataclasses.dataclass(frozen=True)
class StaticProvider:
    credentials: Credentials | None

    def get(self) -> Credentials | None:
        return self.credentials


class EnvironmentProvider:
    """Reads the variables on every call so a rotated key is picked up without a restart."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self) -> Credentials | None:
        secret_id = self._environ.get(ENV_SECRET_ID, "").strip()
        secret_key = self._environ.get(ENV_SECRET_KEY, "").strip()
        if not secret_id or not secret_key:
            return None
        token = self._environ.get(ENV_SECURITY_TOKEN, "").strip() or None
        return Credentials(secret_id, secret_key, token, source="environment")


class InstanceRoleProvider:
    """Temporary keys of the CVM instance role, refreshed ``refresh_margin`` seconds early.

    The margin exceeds the 5-minute signature window so a key never expires in flight.
    Returns None when no metadata service answers (not on CVM, or no role bound).
    """

    def __init__(
        self,
        *,
        url: str = DEFAULT_METADATA_URL,
        role: str | None = None,
        refresh_margin: float = 600.0,
        timeout: tuple[float, float] = (1.0, 2.0),
        now: Callable[[], float] = time.time,
    ) -> None:
        self._url = url if url.endswith("/") else url + "/"
        self._role = role
        self._margin = refresh_margin
        self._timeout = timeout
        self._now = now
        self._lock = threading.Lock()
        self._cached: Credentials | None = None

    def get(self) -> Credentials | None:
        with self._lock:
            cached = self._cached
            if cached is not None and not self._stale(cached):
                return cached
            try:
                self._cached = self._fetch()
            except (OSError, ProtocolError, MetadataStatusError) as exc:
                log.debug("instance metadata unavailable: %s", type(exc).__name__)
                if cached is not None and not self._expired(cached):
                    return cached
                return None
            except CredentialsError:
                if cached is not None and not self._expired(cached):
                    return cached
                raise
            return self._cached

    def peek(self) -> Credentials | None:
        """The keys held now if they need no refresh; None when ``get`` would ask the
        metadata service first."""
        cached = self._cached
        return cached if cached is not None and not self._stale(cached) else None

    def _stale(self, creds: Credentials) -> bool:
        return creds.expires_at is None or self._now() >= creds.expires_at - self._margin

    def _expired(self, creds: Credentials) -> bool:
        return creds.expires_at is None or self._now() >= creds.expires_at

    def _fetch(self) -> Credentials:
        role = self._role
        if role is None:
            names = self._get(self._url).decode("utf-8", "replace").split()
            if not names:
                raise CredentialsError("the instance has no CAM role bound")
            role = names[0]
        body = self._get(self._url + urllib.parse.quote(role, safe="+=,.@-_"))
        try:
            doc = json.loads(body)
            if doc.get("Code", "Success") != "Success":
                raise CredentialsError(f"instance role credentials unavailable: {doc.get('Code')}")
            creds = Credentials(
                str(doc["TmpSecretId"]),
                str(doc["TmpSecretKey"]),
                str(doc["Token"]),
                float(doc["ExpiredTime"]),
                source="instance-role",
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CredentialsError(
                f"malformed instance role credentials ({type(exc).__name__})"
            ) from None
        log.debug("instance role %s credentials refreshed", role)
        return creds

    def _get(self, url: str) -> bytes:
        """One GET from the metadata service: plain http on the instance's own network, so
        never through a proxy. Raises ``OSError``, ``ProtocolError`` or
        ``MetadataStatusError``."""
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
        connect, read = self._timeout
        sock = socket.create_connection((host, port), timeout=connect)
        conn = Http11Connection(sock)
        try:
            sock.settimeout(read)
            authority = host if port == 80 else f"{host}:{port}"
            head = request_head("GET", parts.path or "/", {"Host": authority})
            status, body, _ = conn.exchange(head, b"", limit=MAX_METADATA_BYTES)
            if status != 200:
                raise MetadataStatusError(status)
            return body
        finally:
            conn.close()


class MetadataStatusError(Exception):
    """The metadata service answered with an HTTP status other than 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class CredentialChain:
    """The first source that has credentials wins, asked again on every call."""

    def __init__(self, providers: Sequence[CredentialProvider]) -> None:
        self._providers = tuple(providers)

    def get(self) -> Credentials | None:
        for provider in self._providers:
            creds = provider.get()
            if creds is not None:
                return creds
        return None

    def peek(self) -> Credentials | None:
        """What ``get`` would return, when finding out needs no network call (None
        otherwise): the keys a source holds in memory or reads from the environment."""
        for provider in self._providers:
            if isinstance(provider, InstanceRoleProvider):
                return provider.peek()
            creds = provider.get()
            if creds is not None:
                return creds
        return None

    def require(self) -> Credentials:
        creds = self.get()
        if creds is None:
            raise CredentialsError(
                "no Tencent Cloud credentials: configure keys on the mount, set "
                f"{ENV_SECRET_ID}/{ENV_SECRET_KEY}, or run on a CVM instance with a CAM role"
            )
        return creds


def default_chain(
    configured: Credentials | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    metadata_url: str = DEFAULT_METADATA_URL,
    use_instance_role: bool = True,
) -> CredentialChain:
    """Mount keys, then environment, then instance role; the mount's keys always win."""
    providers: list[CredentialProvider] = [StaticProvider(configured), EnvironmentProvider(environ)]
    if use_instance_role:
        providers.append(InstanceRoleProvider(url=metadata_url))
    return CredentialChain(providers)


def region_from_environment(
    configured: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The configured region, else TENCENTCLOUD_REGION, else None."""
    if configured:
        return configured
    env = os.environ if environ is None else environ
    return env.get(ENV_REGION, "").strip() or None
