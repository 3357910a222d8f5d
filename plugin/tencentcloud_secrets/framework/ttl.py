"""Lease TTL arithmetic with the mount's limits, as Vault's lease manager applies them.

Handlers use ``calculate_ttl`` when they need to know the TTL a lease will really get (for
example to create a cloud credential that expires with it), and ``renew_response`` to answer
a renewal with the role's TTL and max TTL, leaving the final capping to Vault.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

from tencentcloud_secrets.framework.durations import format_duration
from tencentcloud_secrets_shim import logical


@dataclasses.dataclass(frozen=True)
class TTLResult:
    ttl: float
    warnings: tuple[str, ...] = ()


def _floor_second(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


def calculate_ttl(
    system_view: logical.SystemView,
    *,
    increment: float = 0.0,
    backend_ttl: float = 0.0,
    period: float = 0.0,
    backend_max_ttl: float = 0.0,
    explicit_max_ttl: float = 0.0,
    start_time: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> TTLResult:
    """The TTL (seconds) a lease gets, capped by the backend's and the mount's max TTL.

    Precedence for the TTL: ``period``, else ``increment``, else ``backend_ttl``, else the
    mount's default. Raises ``InvalidRequest`` when the lease is already past its max TTL.
    """
    current = _floor_second(now or dt.datetime.now(dt.UTC))
    start = current if start_time is None else _floor_second(start_time)

    max_ttl = system_view.max_lease_ttl()
    if 0 < backend_max_ttl < max_ttl:
        max_ttl = backend_max_ttl
    if 0 < explicit_max_ttl < max_ttl:
        max_ttl = explicit_max_ttl
    if max_ttl <= 0:
        raise logical.InvalidRequest("max TTL must be greater than zero")

    warnings: list[str] = []
    max_valid: dt.datetime | None = None
    if period > 0:
        if period > max_ttl:
            warnings.append(
                f'period of "{format_duration(period)}" exceeded the effective max_ttl of '
                f'"{format_duration(max_ttl)}"; period value is capped accordingly'
            )
            period = max_ttl
        ttl = period
        if explicit_max_ttl > 0:
            max_valid = start + dt.timedelta(seconds=explicit_max_ttl)
    else:
        if increment > 0:
            ttl = increment
        elif backend_ttl > 0:
            ttl = backend_ttl
        else:
            ttl = system_view.default_lease_ttl()
        max_valid = start + dt.timedelta(seconds=max_ttl)

    if max_valid is not None:
        remaining = (max_valid - current).total_seconds()
        if remaining <= 0:
            raise logical.InvalidRequest("past the max TTL, cannot renew")
        if remaining < ttl:
            warnings.append(
                f'TTL of "{format_duration(ttl)}" exceeded the effective max_ttl of '
                f'"{format_duration(remaining)}"; TTL value is capped accordingly'
            )
            ttl = remaining
    return TTLResult(ttl=float(ttl), warnings=tuple(warnings))


def capped_ttl(ttl: float, backend_max_ttl: float) -> TTLResult:
    """A new lease's TTL capped at the backend's max TTL, without asking Vault anything.

    For a response that creates a lease, Vault itself fills in the mount's default TTL (for a
    TTL of 0) and caps the TTL at the mount's and the backend's max TTL, with a warning, when
    it registers the lease (``CalculateTTL`` in its request handling). Only the backend's own
    cap needs doing here, and only so that the response says so."""
    if 0 < backend_max_ttl < ttl:
        warning = (
            f'TTL of "{format_duration(ttl)}" exceeded the effective max_ttl of '
            f'"{format_duration(backend_max_ttl)}"; TTL value is capped accordingly'
        )
        return TTLResult(ttl=float(backend_max_ttl), warnings=(warning,))
    return TTLResult(ttl=float(ttl), warnings=())


def renew_response(request: logical.Request, ttl: float, max_ttl: float) -> logical.Response:
    """Answer a renewal: the request's secret with the backend's TTL and max TTL.

    Vault applies the mount's limits and the lease's issue time itself.
    """
    if request.secret is None:
        raise logical.InvalidRequest("request has no secret to renew")
    secret = copy.deepcopy(request.secret)
    secret.lease.ttl = ttl
    secret.lease.max_ttl = max_ttl
    return logical.Response(secret=secret)
