"""Client-side pacing at Tencent Cloud's documented per-action rate limits.

Without it a burst (Vault revoking a thousand leases at once, 32 clients issuing together)
sends far more requests than the limit allows; most come back RequestLimitExceeded and are
retried, and the account spends several calls per lease. A token bucket per action lets a
burst through at the documented rate instead: the first ``rate`` calls of a second go at
once, the rest wait for their slot. The limits are per account and shared with other tools,
so a throttled answer can still happen; the transport's retries cover it.

Limits this low are paced from the first call. High ones (STS's 600/s) are paced only once
the service has said a call was over the limit, for ``COOL_DOWN`` seconds after its last such
answer: a burst that high is rare, pacing it before the service objects would cap every
mount below what its account is allowed (and below what an unpaced client gets), and the
throttled calls that start the pacing are retried like any other.

Never waits past the caller's deadline: a call whose slot comes too late is sent at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

# Documented limits (requests per second, per account) of the actions the engine calls;
# the API reference gives 20/s for CAM's user, group, policy and key actions.
DOCUMENTED_RATES: Mapping[str, float] = {
    "AssumeRole": 600.0,
    "GetFederationToken": 600.0,
    "GetCallerIdentity": 600.0,
    "AssumeRoleWithWebIdentity": 20.0,
}
SERVICE_DEFAULT_RATES: Mapping[str, float] = {"cam": 20.0, "sts": 600.0}
HEADROOM = 0.9
"""The share of a documented rate the client uses: requests reach the service with jitter,
and a bucket paced at exactly the limit sees some of them early."""
PACE_AFTER_THROTTLE_FROM = 100.0
"""Documented rates (per second) from which an action is paced only after a throttled answer."""
COOL_DOWN = 30.0
"""Seconds an action stays paced after its last throttled answer (high limits only)."""


class _Bucket:
    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = now

    def reserve(self, now: float) -> float:
        """Take a token (possibly one not there yet); return how long to wait for it."""
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def give_back(self) -> None:
        self.tokens += 1.0


class Pacer:
    """Thread-safe; one per client (so per mount)."""

    def __init__(
        self,
        rates: Mapping[str, float] = DOCUMENTED_RATES,
        defaults: Mapping[str, float] = SERVICE_DEFAULT_RATES,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        headroom: float = HEADROOM,
    ) -> None:
        self._headroom = headroom
        self._rates = dict(rates)
        self._defaults = dict(defaults)
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._throttled_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def throttled(self, action: str) -> None:
        """The service answered ``action`` with a throttling error: pace it (again) now."""
        with self._lock:
            self._throttled_at[action] = self._clock()

    def wait(self, service: str, action: str, deadline: float | None = None) -> float:
        """Block until ``action`` may be sent; returns the time waited."""
        delay = self.reserve(service, action, deadline)
        if delay:
            self.pause(delay)
        return delay

    def pause(self, seconds: float) -> None:
        """Wait out a slot ``reserve`` gave, on this pacer's clock."""
        self._sleep(seconds)

    def reserve(self, service: str, action: str, deadline: float | None = None) -> float:
        """Take ``action``'s next slot; returns how long to wait before sending (the caller
        waits, blocking or not)."""
        documented = self._rates.get(action) or self._defaults.get(service)
        if not documented:
            return 0.0
        rate = documented * self._headroom
        with self._lock:
            now = self._clock()
            if documented >= PACE_AFTER_THROTTLE_FROM:
                last = self._throttled_at.get(action)
                if last is None or now - last > COOL_DOWN:
                    self._buckets.pop(action, None)  # a later throttle starts a fresh bucket
                    return 0.0
            bucket = self._buckets.get(action)
            if bucket is None:
                bucket = self._buckets[action] = _Bucket(rate, now)
            delay = bucket.reserve(now)
            if delay and deadline is not None and now + delay >= deadline:
                bucket.give_back()
                return 0.0
        return delay
