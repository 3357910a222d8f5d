"""Typed access to a request's parameters, checked against the path's declared fields.

Handlers read parameters through ``FieldData`` rather than ``request.data`` so that every
value has passed its field's rule and defaults are applied in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from tencentcloud_secrets.framework.fields import Field, FieldValueError


@dataclasses.dataclass(frozen=True)
class FieldProblem:
    """Why one field's raw value was rejected; ``message`` never contains the value."""

    field: str
    rule: str

    @property
    def message(self) -> str:
        return f'error converting input for field "{self.field}": {self.rule}'


class FieldData:
    """The raw parameters of one request (body plus path captures) and their schema.

    A raw ``None`` (JSON null) is provided and means the type's zero value, as in Vault:
    ``{"region": null}`` on an update clears the field; the default does not apply.
    """

    def __init__(self, raw: Mapping[str, Any], schema: Mapping[str, Field]) -> None:
        self.raw: dict[str, Any] = dict(raw)
        self.schema: Mapping[str, Field] = schema

    def validate(self) -> list[FieldProblem]:
        """Check every provided value against its field; unknown keys are not problems."""
        problems: list[FieldProblem] = []
        for name in sorted(self.raw):
            field = self.schema.get(name)
            if field is None or self.raw[name] is None:  # null parses to the zero value
                continue
            try:
                field.type.parse(self.raw[name])
            except FieldValueError as exc:
                problems.append(FieldProblem(name, str(exc)))
        return problems

    def missing_required(self) -> list[str]:
        return sorted(
            name for name, field in self.schema.items() if field.required and not self.is_set(name)
        )

    def _field(self, name: str) -> Field:
        try:
            return self.schema[name]
        except KeyError:
            raise KeyError(f"field {name!r} is not declared on this path") from None

    def is_set(self, name: str) -> bool:
        """True when the request carried ``name``, even as null."""
        return name in self.raw

    def get_ok(self, name: str) -> tuple[Any, bool]:
        """The parsed value and True, or the default-or-zero and False when not provided."""
        field = self._field(name)
        if not self.is_set(name):
            return field.default_or_zero(), False
        raw = self.raw[name]
        return (field.type.zero() if raw is None else field.type.parse(raw)), True

    def get(self, name: str) -> Any:
        """The parsed value, else the field's default, else its type's zero value."""
        return self.get_ok(name)[0]

    def get_first(self, *names: str) -> tuple[Any, bool]:
        """The first of ``names`` that was provided (for a field and its deprecated aliases)."""
        for name in names:
            value, ok = self.get_ok(name)
            if ok:
                return value, True
        return None, False

    # Typed accessors for handlers checked by mypy; they fail loudly on a schema mismatch.

    def get_str(self, name: str) -> str:
        return _expect(name, self.get(name), str)

    def get_int(self, name: str) -> int:
        return _expect(name, self.get(name), int)

    def get_bool(self, name: str) -> bool:
        return _expect(name, self.get(name), bool)

    def get_str_list(self, name: str) -> list[str]:
        return list(_expect(name, self.get(name), list))


_T = TypeVar("_T")


def _expect(name: str, value: Any, kind: type[_T]) -> _T:
    if not isinstance(value, kind):
        raise TypeError(f"field {name!r} does not hold a {kind.__name__}")
    return value
