"""Fault injection and realism: injected errors, throttling, latency, dropped responses.

The configuration is plain data (JSON or YAML), set at start and replaced at run time through
the admin plane; ``FaultPlan.to_dict`` gives it back with each rule's counters.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Mapping
from typing import Any

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


@dataclasses.dataclass
class FaultRule:
    """Fail matching calls with ``code`` (or drop the answer when ``drop``).

    ``nth`` fires on the Nth matching call counted from installation (and ``times`` calls from
    there, default 1); ``probability`` fires each eligible call at random; with neither, every
    matching call fires until ``times`` is used up.
    """

    action: str = "*"
    code: str = "InternalError"
    message: str = "An injected fault occurred."
    nth: int | None = None
    probability: float | None = None
    times: int | None = None
    drop: bool = False
    seen: int = 0
    fired: int = 0

    def matches(self, action: str) -> bool:
        return self.action in ("*", action)

    def fire(self, rng: random.Random) -> bool:
        self.seen += 1
        limit = self.times if self.times is not None else (1 if self.nth is not None else None)
        if limit is not None and self.fired >= limit:
            return False
        if self.nth is not None and self.seen < self.nth:
            return False
        if self.probability is not None and rng.random() >= self.probability:
            return False
        self.fired += 1
        return True


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
    drop: bool = False
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
        for rule in rules:
            if rule.probability is not None and not 0 <= rule.probability <= 1:
                raise ConfigError("probability must be between 0 and 1")
            if rule.nth is not None and rule.nth < 1:
                raise ConfigError("nth counts from 1")
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
            for rule in self.rules:
                if rule.matches(action) and rule.fire(self._rng):
                    if rule.drop:
                        return Verdict(drop=True, delay=delay)
                    return Verdict((rule.code, rule.message), delay=delay)
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
