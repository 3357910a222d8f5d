"""Duration syntax as Vault users type it: ``3600``, ``"1h30m"``, ``"90s"``, ``"7d"``, ``"0"``.

Vault accepts a bare number of seconds, a whole number of days with a ``d`` suffix, or a Go
duration string. Users copy values between engines, so this module accepts exactly those
forms and nothing looser. Error messages never repeat the input: a duration field could sit
next to a secret in a request, and the caller decides what the user may see.
"""

from __future__ import annotations

import re
from typing import Any

_NANOS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_NANOS_PER_SECOND = 1_000_000_000
# Go durations are int64 nanoseconds; anything beyond that is an overflow error in Vault.
_MAX_NANOS = 2**63 - 1

_COMPONENT = re.compile(r"(\d*)(?:\.(\d*))?([a-z\u00b5\u03bc]+)", re.ASCII)
_DECIMAL_INT = re.compile(r"[+-]?\d+", re.ASCII)

DURATION_RULE = 'a duration such as 3600, "1h", "1h30m", "90s" or "7d"'


class DurationError(ValueError):
    """The value is not a duration Vault would accept."""


def parse_go_duration(text: str) -> int:
    """Whole seconds, truncated toward zero, of a Go ``time.ParseDuration`` string.

    The sum is kept exact, as a count of nanoseconds over a power of ten, so that
    ``"0.1s0.9s"`` is one second and not a hair under it.
    """
    if not text:
        raise DurationError("empty duration")
    sign = 1
    rest = text
    if rest[0] in "+-":
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise DurationError("missing number")
    nanos, scale = 0, 1  # the total is nanos / scale nanoseconds
    pos = 0
    while pos < len(rest):
        match = _COMPONENT.match(rest, pos)
        if match is None:
            raise DurationError("invalid duration")
        whole, frac, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            raise DurationError("missing number before unit")
        factor = _NANOS_PER_UNIT.get(unit)
        if factor is None:
            raise DurationError("unknown unit in duration")
        frac_scale = 10 ** len(frac or "")
        if frac_scale > scale:
            nanos *= frac_scale // scale
            scale = frac_scale
        number = int(whole or "0") * frac_scale + int(frac or "0")
        nanos += number * factor * (scale // frac_scale)
        pos = match.end()
    if nanos > _MAX_NANOS * scale:
        raise DurationError("duration is too large")
    return sign * (nanos // (scale * _NANOS_PER_SECOND))


def _check_range(seconds: int) -> int:
    if abs(seconds) * _NANOS_PER_SECOND > _MAX_NANOS:
        raise DurationError("duration is too large")
    return seconds


def parse_duration_seconds(value: Any) -> int:
    """Whole seconds from any input Vault's TypeDurationSecond accepts (may be negative).

    Fractions of a second are truncated toward zero, as Vault does.
    """
    if isinstance(value, bool):
        raise DurationError("booleans are not durations")
    if isinstance(value, int):
        return _check_range(value)
    if isinstance(value, float):
        # Vault sees JSON numbers as text; "1.5" has no unit and is rejected there too.
        if not value.is_integer():
            raise DurationError("fractional number without a unit")
        return _check_range(int(value))
    if not isinstance(value, str):
        raise DurationError("unsupported type for a duration")
    if value == "":
        return 0
    if _DECIMAL_INT.fullmatch(value):
        return _check_range(int(value))
    if value.endswith("d"):
        days = value[:-1]
        if not _DECIMAL_INT.fullmatch(days):
            raise DurationError("days must be a whole number")
        return _check_range(int(days) * 86400)
    # Truncated toward zero, like Go's int(d.Seconds()).
    return parse_go_duration(value)


def format_duration(seconds: float) -> str:
    """Render seconds like Vault's warnings do: ``1h``, ``1h30m``, ``1m30s``, ``0s``."""
    total = int(seconds)
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rem = divmod(total, 3600)
    minutes, secs = divmod(rem, 60)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    out += f"{secs}s"
    # Go's Duration.String() always prints every smaller unit; Vault trims the zero ones.
    if out.endswith("m0s"):
        out = out[:-2]
    if "h0m" in out:
        out = out.replace("h0m", "h", 1)
    return out
