"""The request log and per-action counters. Never records a secret: parameters pass through
``redact`` and headers through ``redact_headers`` before they are stored, and response bodies
are not stored at all."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
SECRET_NAMES = frozenset(
    name.lower()
    for name in (
        "SecretKey",
        "SecretAccessKey",
        "Password",
        "Token",
        "TmpSecretKey",
        "WebIdentityToken",
        "SAMLAssertion",
        "Signature",
        "Authorization",
        "TokenCode",
    )
)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-named field replaced by ``***``."""
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in SECRET_NAMES else redact(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


# Headers whose whole value is a credential.
SECRET_HEADERS = frozenset({"x-tc-token", "cookie", "proxy-authorization"})
_SIGNATURE = "Signature="


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as received (names lowercased), with the token and the signature replaced.

    The rest of a TC3 ``Authorization`` (algorithm, SecretId, date, service, signed headers) is
    kept: it is not secret, and it shows which key and scope a client signed with.
    """
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in SECRET_HEADERS:
            out[key] = REDACTED
        elif key == "authorization" and value.strip() != "SKIP":
            head, found, _ = value.partition(_SIGNATURE)
            out[key] = head + _SIGNATURE + REDACTED if found else REDACTED
        else:
            out[key] = value
    return out


@dataclasses.dataclass(frozen=True)
class Entry:
    time: float
    request_id: str
    service: str
    action: str
    secret_id: str
    params: dict[str, Any]
    code: str
    latency_ms: float
    injected_delay_ms: float = 0.0
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class RequestLog:
    def __init__(self, limit: int = 10000) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[Entry] = collections.deque(maxlen=limit)
        self._counters: dict[str, collections.Counter[str]] = {}

    def record(
        self,
        *,
        request_id: str,
        service: str,
        action: str,
        secret_id: str,
        params: dict[str, Any],
        code: str,
        started: float,
        injected_delay_ms: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> Entry:
        entry = Entry(
            time=time.time(),
            request_id=request_id,
            service=service,
            action=action,
            secret_id=secret_id,
            params=redact(params),
            code=code,
            latency_ms=round((time.monotonic() - started) * 1000, 3),
            injected_delay_ms=injected_delay_ms,
            headers=redact_headers(headers or {}),
        )
        with self._lock:
            self._entries.append(entry)
            self._counters.setdefault(action or "-", collections.Counter())[code] += 1
        return entry

    def entries(self, action: str | None = None) -> list[Entry]:
        with self._lock:
            return [e for e in self._entries if action is None or e.action == action]

    def counters(self) -> dict[str, dict[str, int]]:
        """Per action: ``calls`` plus a count per outcome code (``Success`` for successes)."""
        with self._lock:
            return {
                action: {"calls": sum(c.values()), **dict(c)}
                for action, c in sorted(self._counters.items())
            }

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counters.clear()
