"""Fault injection and realism: injected errors, throttling, latency, and the failures of the
network between a client and the API (connections closed before or after the action ran,
gateway error pages, answers that are not JSON).

The configuration is plain data (JSON or YAML), set at start and replaced at run time through
the admin plane; ``FaultPlan.to_dict`` gives it back with each rule's counters.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal

from . import exceptions

# Documented or conservative per-action rates (requests per second). CAM documents 20/s for its
# write APIs and AddUser; STS documents 600/s for AssumeRole and GetFederationToken and 20/s
# for AssumeRoleWithWebIdentity. Actions not listed use ``default_rate``.
DEFAULT_RATES: dict[str, float] = {
    "AddUser": 20,
    "AssumeRole": 600,
    "GetFederationToken": 600,
    "AssumeRoleWithWebIdentity": 20,
    "GetCallerIdentity": 600,
}
DEFAULT_RATE = 20.0


class ConfigError(ValueError):
    """A fault configuration that cannot be applied."""


DropWhen = Literal["before", "after"]


@dataclasses.dataclass
class FaultRule:
    """Fail matching calls in one of four ways, none of which changes state unless noted.

    - ``code`` (default): the API error envelope with that code and ``message``.
    - ``drop``: close the connection unanswered; ``"before"`` the action runs, ``"after"``
      (or ``true``) once it has taken effect, so the caller cannot tell whether it ran.
    - ``http_status``: a gateway error page with that status (400-599), not JSON.
    - ``garbage``: HTTP 200 with a body that is not JSON, as an intercepting proxy answers.

    ``nth`` fires on the Nth matching call counted from installation (and ``times`` calls from
    there, default 1); ``probability`` fires each eligible call at random; with neither, every
    matching call fires until ``times`` is used up. Every rule counts every call to its action
    (``seen``), whether or not an earlier rule fired on it.
    """

    action: str = "*"
    code: str = "InternalError"
    message: str = "An injected fault occurred."
    nth: int | None = None
    probability: float | None = None
    times: int | None = None
    drop: bool | DropWhen = False
    http_status: int | None = None
    garbage: bool = False
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        # ``drop: true`` predates ``before``; it keeps meaning "after the action ran".
        if self.drop is True:
            self.drop = "after"
        if self.drop not in (False, "before", "after"):
            raise ConfigError("drop is one of false, true, 'before', 'after'")
        if self.http_status is not None and not 400 <= self.http_status <= 599:
            raise ConfigError("http_status must be an error status (400-599)")
        kinds = [bool(self.drop), self.http_status is not None, bool(self.garbage)]
        if sum(kinds) > 1:
            raise ConfigError("a rule sets at most one of drop, http_status and garbage")
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise ConfigError("probability must be between 0 and 1")
        if self.nth is not None and self.nth < 1:
            raise ConfigError("nth counts from 1")

    def matches(self, action: str) -> bool:
        return self.action in ("*", action)

    def due(self, rng: random.Random) -> bool:
        """Whether this rule fires on the call just counted in ``seen``."""
        limit = self.times if self.times is not None else (1 if self.nth is not None else None)
        if limit is not None and self.fired >= limit:
            return False
        if self.nth is not None and self.seen < self.nth:
            return False
        return self.probability is None or rng.random() < self.probability

    def verdict(self, delay: float) -> Verdict:
        if self.drop:
            return Verdict(drop="before" if self.drop == "before" else "after", delay=delay)
        if self.http_status is not None:
            return Verdict(http_status=self.http_status, delay=delay)
        if self.garbage:
            return Verdict(garbage=True, delay=delay)
        return Verdict((self.code, self.message), delay=delay)


@dataclasses.dataclass
class Latency:
    fixed_ms: float = 0.0
    jitter_ms: float = 0.0

    def sample(self, rng: random.Random) -> float:
        return (self.fixed_ms + rng.uniform(0, self.jitter_ms)) / 1000.0


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.capacity = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What to do with one call before it reaches its handler."""

    error: tuple[str, str] | None = None
    drop: bool | DropWhen = False
    http_status: int | None = None
    garbage: bool = False
    delay: float = 0.0


class FaultPlan:
    def __init__(self, config: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - fault dice, not secrets
        self.rules: list[FaultRule] = []
        self.throttle_enabled = True
        self.rates: dict[str, float] = dict(DEFAULT_RATES)
        self.default_rate = DEFAULT_RATE
        self.latency = Latency()
        self.per_action_latency: dict[str, Latency] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self.configure(config or {})

    def configure(self, config: Mapping[str, Any]) -> None:
        """Replace the whole configuration (rules restart their counters)."""
        try:
            rules = [FaultRule(**_known(r, FaultRule)) for r in config.get("faults", [])]
            throttle = dict(config.get("throttle", {}))
            latency = dict(config.get("latency", {}))
            per_action = {
                name: Latency(**_known(v, Latency))
                for name, v in dict(latency.pop("per_action", {})).items()
            }
            base = Latency(**_known(latency, Latency))
        except (TypeError, AttributeError) as err:
            raise ConfigError(f"bad fault configuration: {err}") from None
        with self._lock:
            self.rules = rules
            self.throttle_enabled = bool(throttle.get("enabled", True))
            self.rates = {
                **DEFAULT_RATES,
                **{k: float(v) for k, v in throttle.get("rates", {}).items()},
            }
            self.default_rate = float(throttle.get("default_rate", DEFAULT_RATE))
            self.latency, self.per_action_latency = base, per_action
            self._buckets = {}
            if "seed" in config:
                self._rng = random.Random(config["seed"])  # noqa: S311

    def reset_buckets(self) -> None:
        with self._lock:
            self._buckets = {}

    def decide(self, action: str) -> Verdict:
        """Throttle first (the gateway rejects before the service sees it), then injected rules."""
        with self._lock:
            delay = self.per_action_latency.get(action, self.latency).sample(self._rng)
            if self.throttle_enabled and not self._bucket(action).take():
                limited = exceptions.request_limit_exceeded(action)
                return Verdict((limited.code, limited.message), delay=delay)
            matching = [rule for rule in self.rules if rule.matches(action)]
            for rule in matching:
                rule.seen += 1
            for rule in matching:
                if rule.due(self._rng):
                    rule.fired += 1
                    return rule.verdict(delay)
            return Verdict(delay=delay)

    def _bucket(self, action: str) -> TokenBucket:
        bucket = self._buckets.get(action)
        if bucket is None:
            rate = self.rates.get(action, self.default_rate)
            bucket = self._buckets[action] = TokenBucket(rate, max(rate, 1.0))
        return bucket

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "faults": [dataclasses.asdict(r) for r in self.rules],
                "throttle": {
                    "enabled": self.throttle_enabled,
                    "default_rate": self.default_rate,
                    "rates": dict(self.rates),
                },
                "latency": {
                    **dataclasses.asdict(self.latency),
                    "per_action": {
                        k: dataclasses.asdict(v) for k, v in self.per_action_latency.items()
                    },
                },
            }


def _known(data: Mapping[str, Any], cls: type) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)} - {"seen", "fired"}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)} for {cls.__name__}")
    return dict(data)
