"""Action parameters: declared like the API reference, checked like the real gateway.

Both wire styles end up here: a JSON body keeps its types, while a form body or a GET query
arrives flattened (``PolicyId.0=7``, ``Info.0.GroupId=3``) with every value a string. The
gateway checks names first (UnknownParameter), then presence (MissingParameter), then types
(InvalidParameter); value ranges are the handler's job because their codes differ by action.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from . import exceptions


class Kind(enum.Enum):
    STR = "String"
    INT = "Integer"
    INTS = "Array of Integer"
    STRS = "Array of String"
    OBJECTS = "Array of Object"


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = Kind.STR
    required: bool = False
    fields: tuple[Field, ...] = ()


def s(name: str, *, required: bool = False) -> Field:
    return Field(name, Kind.STR, required)


def i(name: str, *, required: bool = False) -> Field:
    return Field(name, Kind.INT, required)


def ints(name: str, *, required: bool = False) -> Field:
    return Field(name, Kind.INTS, required)


def objects(name: str, *fields: Field, required: bool = False) -> Field:
    return Field(name, Kind.OBJECTS, required, fields)


class Params:
    """Checked parameters of one call, with typed getters so handlers stay readable."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def text(self, name: str, default: str = "") -> str:
        value = self._values.get(name, default)
        return value if isinstance(value, str) else default

    def opt_text(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if isinstance(value, str) else None

    def number(self, name: str, default: int = 0) -> int:
        value = self._values.get(name, default)
        return value if isinstance(value, int) else default

    def opt_number(self, name: str) -> int | None:
        value = self._values.get(name)
        return value if isinstance(value, int) else None

    def numbers(self, name: str) -> list[int]:
        value = self._values.get(name, [])
        return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []

    def objects(self, name: str) -> list[Params]:
        value = self._values.get(name, [])
        return [Params(v) for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn ``A.0.B=x`` pairs back into nested lists and objects (values stay strings)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.split(".")
        node: Any = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            nxt: Any = value if last else ({} if not parts[depth + 1].isdigit() else [])
            if isinstance(node, list):
                if not part.isdigit():
                    raise exceptions.invalid_parameter(key, "is not a valid flattened name")
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None or last:
                    node[index] = nxt
                node = node[index]
            elif isinstance(node, dict):
                if part not in node or last:
                    node[part] = nxt
                node = node[part]
            else:
                raise exceptions.invalid_parameter(key, "is not a valid flattened name")
    return root


def check(
    raw: Mapping[str, Any], fields: tuple[Field, ...], *, typed: bool, prefix: str = ""
) -> Params:
    """Validate ``raw`` against the declared fields; ``typed`` is True for JSON bodies."""
    known = {f.name: f for f in fields}
    for name in raw:
        if name not in known:
            raise exceptions.unknown_parameter(prefix + name)
    for f in fields:
        if f.required and raw.get(f.name) is None:
            raise exceptions.missing_parameter(prefix + f.name)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None:
            continue
        values[name] = _coerce(known[name], value, typed=typed, label=prefix + name)
    return Params(values)


def _coerce(f: Field, value: Any, *, typed: bool, label: str) -> Any:
    if f.kind is Kind.STR:
        if isinstance(value, str):
            return value
        raise exceptions.invalid_parameter(label, f"must be a {f.kind.value}")
    if f.kind is Kind.INT:
        return _int(value, typed=typed, label=label)
    if not isinstance(value, list) or any(v is None for v in value):
        raise exceptions.invalid_parameter(label, f"must be an {f.kind.value}")
    if f.kind is Kind.INTS:
        return [_int(v, typed=typed, label=f"{label}.{n}") for n, v in enumerate(value)]
    if f.kind is Kind.STRS:
        if all(isinstance(v, str) for v in value):
            return list(value)
        raise exceptions.invalid_parameter(label, f"must be an {f.kind.value}")
    out = []
    for n, item in enumerate(value):
        if not isinstance(item, dict):
            raise exceptions.invalid_parameter(f"{label}.{n}", "must be an Object")
        out.append(check(item, f.fields, typed=typed, prefix=f"{label}.{n}.").as_dict())
    return out


def _int(value: Any, *, typed: bool, label: str) -> int:
    if isinstance(value, bool):
        raise exceptions.invalid_parameter(label, "must be an Integer")
    if isinstance(value, int):
        return value
    # Flattened form values are strings by construction; JSON must carry real numbers.
    if not typed and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise exceptions.invalid_parameter(label, "must be an Integer")
