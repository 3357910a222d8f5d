"""Small helpers shared by the model modules to move between wire JSON and dataclasses.

Never holds state and never logs: values pass through untouched apart from type coercion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def params(**pairs: Any) -> dict[str, Any]:
    """Wire parameters with unset (None) values left out, as the API expects."""
    return {key: value for key, value in pairs.items() if value is not None}


def flag(value: bool | None) -> int | None:
    """The API's 0/1 switches."""
    return None if value is None else int(bool(value))


def opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return None if value is None or value == "" else int(value)


def req_int(data: Mapping[str, Any], key: str) -> int:
    return int(data[key])


def req_str(data: Mapping[str, Any], key: str) -> str:
    return str(data[key])


def opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = opt_int(data, key)
    return None if value is None else bool(value)


def items(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


@dataclasses.dataclass(frozen=True)
class Tag:
    key: str
    value: str

    def to_wire(self) -> dict[str, str]:
        return {"Key": self.key, "Value": self.value}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Tag:
        return cls(str(data.get("Key", "")), str(data.get("Value", "")))
