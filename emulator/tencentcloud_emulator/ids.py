"""Identifier and secret formats, shaped like the real ones so clients' parsers are exercised.

Secrets come from ``secrets``; numeric ids from a per-world ``random.Random`` so a seeded
world is reproducible in everything except key material.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import string

_ALNUM = string.ascii_letters + string.digits
_BEIJING = dt.timezone(dt.timedelta(hours=8))


def _alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def access_key_id() -> str:
    """``AKID`` followed by 32 letters and digits (36 characters)."""
    return "AKID" + _alnum(32)


def secret_access_key() -> str:
    return _alnum(32)


def temporary_secret_id() -> str:
    return "AKID" + _alnum(68)


def temporary_secret_key() -> str:
    return _alnum(44)


def session_token() -> str:
    return secrets.token_urlsafe(180)


def console_password() -> str:
    """A random password of the documented generated shape: 32 chars, all four classes."""
    body = [secrets.choice(c) for c in (string.ascii_uppercase, string.ascii_lowercase)]
    body += [secrets.choice(string.digits), secrets.choice("!@#$%^&*")]
    body += [secrets.choice(_ALNUM + "!@#$%^&*") for _ in range(28)]
    random.SystemRandom().shuffle(body)
    return "".join(body)


def cam_time(timestamp: float) -> str:
    """CAM renders times as ``YYYY-MM-DD HH:MM:SS`` in Beijing time."""
    return dt.datetime.fromtimestamp(timestamp, tz=_BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def iso_utc(timestamp: float) -> str:
    """STS ``Expiration``: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sequence:
    """Numeric ids that look like the service's: unique, increasing, starting at a random base."""

    def __init__(self, rng: random.Random, low: int, high: int) -> None:
        self._next = rng.randrange(low, high)

    @property
    def next_value(self) -> int:
        """The id ``take`` hands out next (what persistence saves and restores)."""
        return self._next

    @next_value.setter
    def next_value(self, value: int) -> None:
        self._next = value

    def take(self) -> int:
        value = self._next
        self._next += 1
        return value
