"""Field types and the rules that turn raw request values into typed Python values.

The rules follow Vault's framework field types, including its weak typing (``"true"`` is a
bool, ``5`` is the string ``"5"``), because Vault users and clients such as hvac send values
in whatever shape the CLI or JSON gives them. Every parser raises ``FieldValueError`` with a
message that states the rule and never the value: the value might be a secret.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import enum
import json
import math
import re
from collections.abc import Callable
from typing import Any

from tencentcloud_secrets.framework.durations import (
    DURATION_RULE,
    DurationError,
    parse_duration_seconds,
)

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_NAME_STRING = re.compile(r"\w(([\w.-]+)?\w)?", re.ASCII)
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class FieldValueError(ValueError):
    """A raw value does not satisfy its field's type; the message names the rule only."""


class FieldType(enum.Enum):
    """Vault's field types; ``label`` is how help text names them."""

    STRING = "string"
    LOWERCASE_STRING = "lowercase string"
    NAME_STRING = "name string"
    INT = "int"
    INT64 = "int64"
    BOOL = "bool"
    FLOAT = "float"
    MAP = "map"
    KV_PAIRS = "keypair"
    DURATION_SECOND = "duration (sec)"
    SIGNED_DURATION_SECOND = "signed duration (sec)"
    SLICE = "slice"
    STRING_SLICE = "string slice"
    COMMA_STRING_SLICE = "comma string slice"
    COMMA_INT_SLICE = "comma int slice"
    HEADER = "header"
    TIME = "time"

    @property
    def label(self) -> str:
        """The type name Vault prints in path help (several types share one label)."""
        return _LABELS.get(self, self.value)

    def zero(self) -> Any:
        """The value a field of this type has when neither set nor defaulted."""
        return _ZERO[self]()

    def parse(self, raw: Any) -> Any:
        """Convert a raw request value; raises FieldValueError."""
        return _PARSERS[self](raw)


_LABELS: dict[FieldType, str] = {
    FieldType.SIGNED_DURATION_SECOND: "duration (sec)",
    FieldType.STRING_SLICE: "slice",
    FieldType.COMMA_STRING_SLICE: "slice",
    FieldType.COMMA_INT_SLICE: "slice",
}

_ZERO: dict[FieldType, Callable[[], Any]] = {
    FieldType.STRING: str,
    FieldType.LOWERCASE_STRING: str,
    FieldType.NAME_STRING: str,
    FieldType.INT: int,
    FieldType.INT64: int,
    FieldType.BOOL: bool,
    FieldType.FLOAT: float,
    FieldType.MAP: dict,
    FieldType.KV_PAIRS: dict,
    FieldType.DURATION_SECOND: int,
    FieldType.SIGNED_DURATION_SECOND: int,
    FieldType.SLICE: list,
    FieldType.STRING_SLICE: list,
    FieldType.COMMA_STRING_SLICE: list,
    FieldType.COMMA_INT_SLICE: list,
    FieldType.HEADER: dict,
    FieldType.TIME: lambda: dt.datetime(1, 1, 1, tzinfo=dt.UTC),
}


# --- scalar conversions (Vault's weak decoding) -----------------------------------------


def _float_text(value: float) -> str:
    """A float as Go's ``strconv.FormatFloat(f, 'f', -1, 64)`` writes it: the shortest digits
    that read back as the same float, never an exponent (3.0 -> "3", 1e21 -> "1000...")."""
    if not math.isfinite(value):
        raise FieldValueError("expected a finite number")
    if value == 0:
        return "0"
    text = repr(value)  # the shortest round-tripping digits, perhaps with an exponent
    sign = "-" if text.startswith("-") else ""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or "0")
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    significant = significant.rstrip("0")
    if point <= 0:
        return f"{sign}0.{'0' * -point}{significant}"
    if point >= len(significant):
        return f"{sign}{significant}{'0' * (point - len(significant))}"
    return f"{sign}{significant[:point]}.{significant[point:]}"


def parse_string(raw: Any) -> str:
    """Strings as Vault weakly decodes them: numbers and bools become text."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "1" if raw else "0"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return _float_text(raw)
    raise FieldValueError("expected a string")


def parse_lowercase_string(raw: Any) -> str:
    return parse_string(raw).lower()


def parse_name_string(raw: Any) -> str:
    text = parse_string(raw)
    if not _NAME_STRING.fullmatch(text):
        raise FieldValueError(
            "expected a name that starts and ends with a letter, digit or underscore and "
            "contains only letters, digits, underscores, hyphens and dots"
        )
    return text


def _parse_go_int_text(text: str) -> int:
    # strconv.ParseInt(s, 0, 64): base prefixes 0x/0o/0b, a bare leading 0 means octal,
    # underscores only between digits of a prefixed or octal number, no whitespace.
    if text == "":
        return 0
    if text != text.strip():
        raise FieldValueError("expected an integer")
    body = text.lstrip("+-")
    if len(text) - len(body) > 1:
        raise FieldValueError("expected an integer")
    try:
        if len(body) > 1 and body[0] == "0" and body[1].isdigit():
            value = int(body[1:], 8)
            if text.startswith("-"):
                value = -value
        else:
            value = int(text, 0)
    except ValueError:
        raise FieldValueError("expected an integer") from None
    return value


def parse_int(raw: Any) -> int:
    """64-bit integers; strings may use Go's base prefixes, bools count as 1 and 0."""
    if isinstance(raw, bool):
        value = int(raw)
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, float):
        # JSON 1.5 reaches Vault as text and fails integer parsing there; do the same.
        if not raw.is_integer():
            raise FieldValueError("expected an integer")
        value = int(raw)
    elif isinstance(raw, str):
        value = _parse_go_int_text(raw)
    else:
        raise FieldValueError("expected an integer")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise FieldValueError("integer out of the 64-bit range")
    return value


def parse_bool(raw: Any) -> bool:
    """Bools; strings use Go's spellings ("true", "t", "1", ...), numbers mean "non-zero"."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return raw != 0
    if isinstance(raw, str):
        if raw in _GO_TRUE:
            return True
        if raw in _GO_FALSE or raw == "":
            return False
    raise FieldValueError('expected a boolean such as true, false, "1" or "0"')


def parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        if raw == "":
            return 0.0
        if raw != raw.strip() or "_" in raw:
            raise FieldValueError("expected a number")
        try:
            return float(raw)
        except ValueError:
            raise FieldValueError("expected a number") from None
    raise FieldValueError("expected a number")


def _parse_duration(raw: Any, *, signed: bool) -> int:
    try:
        seconds = parse_duration_seconds(raw)
    except DurationError:
        raise FieldValueError(f"expected {DURATION_RULE}") from None
    if not signed and seconds < 0:
        raise FieldValueError("a duration must not be negative")
    return seconds


def parse_duration_second(raw: Any) -> int:
    return _parse_duration(raw, signed=False)


def parse_signed_duration_second(raw: Any) -> int:
    return _parse_duration(raw, signed=True)


def parse_time(raw: Any) -> dt.datetime:
    """RFC 3339 text or a Unix epoch (number or text), returned in UTC."""
    if isinstance(raw, bool):
        raise FieldValueError("expected an RFC 3339 time or a Unix timestamp")
    if isinstance(raw, int):
        return _from_epoch(raw)
    if isinstance(raw, float) and raw.is_integer():
        return _from_epoch(int(raw))
    if isinstance(raw, str):
        if re.fullmatch(r"[+-]?\d+", raw, re.ASCII):
            return _from_epoch(int(raw))
        # RFC 3339 requires a date, "T", a time and an offset; fromisoformat is looser.
        if re.fullmatch(
            r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", raw, re.ASCII
        ):
            try:
                parsed = dt.datetime.fromisoformat(raw.upper())
            except ValueError:
                pass
            else:
                return parsed.astimezone(dt.UTC)
    raise FieldValueError("expected an RFC 3339 time or a Unix timestamp")


def _from_epoch(seconds: int) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise FieldValueError("timestamp out of range") from None


# --- collections ------------------------------------------------------------------------


def _as_list(raw: Any) -> list[Any]:
    # Weak decoding lifts a single value into a one-element list; {} counts as empty.
    if isinstance(raw, list | tuple):
        return list(raw)
    if isinstance(raw, dict):
        if not raw:
            return []
        raise FieldValueError("expected a list")
    return [raw]


def parse_slice(raw: Any) -> list[Any]:
    return _as_list(raw)


def parse_string_slice(raw: Any) -> list[str]:
    """A list of strings (or one string), each trimmed of surrounding whitespace."""
    if raw == "":
        return []
    try:
        return [parse_string(item).strip() for item in _as_list(raw)]
    except FieldValueError:
        raise FieldValueError("expected a list of strings") from None


def parse_comma_string_slice(raw: Any) -> list[str]:
    """A list of strings, or one string of comma-separated items; items are trimmed."""
    if isinstance(raw, str):
        if raw == "":
            return []
        return [item.strip() for item in raw.split(",")]
    return parse_string_slice(raw)


def parse_comma_int_slice(raw: Any) -> list[int]:
    if isinstance(raw, str):
        items: list[Any] = [] if raw == "" else raw.split(",")
    else:
        items = _as_list(raw)
    try:
        return [parse_int(item) for item in items]
    except FieldValueError:
        raise FieldValueError("expected a list of integers or comma-separated integers") from None


def parse_map(raw: Any) -> dict[str, Any]:
    """A JSON object; an empty list counts as empty and a list of objects is merged."""
    if isinstance(raw, dict):
        if not all(isinstance(key, str) for key in raw):
            raise FieldValueError("expected an object with string keys")
        return dict(raw)
    if isinstance(raw, list | tuple) and all(isinstance(item, dict) for item in raw):
        merged: dict[str, Any] = {}
        for item in raw:
            merged.update(parse_map(item))
        return merged
    raise FieldValueError("expected an object")


def parse_kv_pairs(raw: Any) -> dict[str, str]:
    """An object of strings, or a list of ``key=value`` strings (a single one is fine)."""
    if isinstance(raw, dict):
        try:
            return {str(key): parse_string(value) for key, value in raw.items()}
        except FieldValueError:
            raise FieldValueError("expected an object of string values") from None
    try:
        items = [parse_string(item) for item in _as_list(raw)]
    except FieldValueError:
        raise FieldValueError('expected an object or a list of "key=value" strings') from None
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise FieldValueError('expected each pair as "key=value" with a non-empty key')
        result[key] = value
    return result


def parse_header(raw: Any) -> dict[str, list[str]]:
    """HTTP headers from an object, JSON text (optionally base64) or ``Name:value`` items."""
    if isinstance(raw, dict):
        return _header_from_mapping(raw)
    if isinstance(raw, str):
        text = raw
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            text = base64.b64decode(raw, validate=True).decode("utf-8")
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            return _header_from_mapping(decoded)
        if decoded is not None or ":" not in raw:
            raise FieldValueError("expected headers as an object, JSON text or Name:value items")
    header: dict[str, list[str]] = {}
    for item in _as_list(raw):
        if not isinstance(item, str):
            raise FieldValueError('expected header items as "Name:value" strings')
        name, sep, value = item.partition(":")
        if not sep or not name:
            raise FieldValueError('expected header items as "Name:value" strings')
        header.setdefault(_canonical_header(name), []).append(value)
    return header


def _canonical_header(name: str) -> str:
    # Go's http.Header canonicalises names: "content-type" -> "Content-Type".
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _header_from_mapping(raw: dict[Any, Any]) -> dict[str, list[str]]:
    header: dict[str, list[str]] = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        out = header.setdefault(_canonical_header(str(name)), [])
        for item in values:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise FieldValueError("expected header values as strings")
            out.append(parse_string(item))
    return header


_PARSERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.STRING: parse_string,
    FieldType.LOWERCASE_STRING: parse_lowercase_string,
    FieldType.NAME_STRING: parse_name_string,
    FieldType.INT: parse_int,
    FieldType.INT64: parse_int,
    FieldType.BOOL: parse_bool,
    FieldType.FLOAT: parse_float,
    FieldType.MAP: parse_map,
    FieldType.KV_PAIRS: parse_kv_pairs,
    FieldType.DURATION_SECOND: parse_duration_second,
    FieldType.SIGNED_DURATION_SECOND: parse_signed_duration_second,
    FieldType.SLICE: parse_slice,
    FieldType.STRING_SLICE: parse_string_slice,
    FieldType.COMMA_STRING_SLICE: parse_comma_string_slice,
    FieldType.COMMA_INT_SLICE: parse_comma_int_slice,
    FieldType.HEADER: parse_header,
    FieldType.TIME: parse_time,
}


@dataclasses.dataclass(frozen=True)
class DisplayAttributes:
    """Hints for UIs and OpenAPI; the ``operation_*`` parts build OpenAPI operation ids."""

    name: str = ""
    description: str = ""
    value: Any = None
    sensitive: bool = False
    navigation: bool = False
    item_type: str = ""
    group: str = ""
    action: str = ""
    operation_prefix: str = ""
    operation_verb: str = ""
    operation_suffix: str = ""
    edit_type: str = ""
    identifier: bool = False


@dataclasses.dataclass(frozen=True)
class Field:
    """One declared parameter of a path.

    ``required`` fields must be present on create and update requests (and are marked
    required in OpenAPI). ``sensitive`` fields are masked in UIs and their values are never
    echoed in errors. ``query`` marks a parameter read from the query string on read, list
    and delete, which only matters for OpenAPI.
    """

    type: FieldType = FieldType.STRING
    description: str = ""
    default: Any = None
    required: bool = False
    deprecated: bool = False
    sensitive: bool = False
    query: bool = False
    allowed_values: tuple[Any, ...] = ()
    display_attrs: DisplayAttributes | None = None

    def __post_init__(self) -> None:
        if self.default is not None:
            try:
                self.type.parse(self.default)
            except FieldValueError as exc:
                raise ValueError(f"default does not fit field type {self.type.name}") from exc

    def default_or_zero(self) -> Any:
        """The parsed default, or the type's zero value when there is no default."""
        if self.default is None:
            return self.type.zero()
        return self.type.parse(self.default)

    def effective_display_attrs(self) -> DisplayAttributes | None:
        if not self.sensitive:
            return self.display_attrs
        return dataclasses.replace(self.display_attrs or DisplayAttributes(), sensitive=True)
