"""Declarations of the URLs an engine answers: patterns, fields and per-operation handlers.

A ``Path`` is a value: built once when the backend is constructed and shared by every
request, so nothing on it may change afterwards. Patterns follow Vault's conventions
(regular expressions, named captures become fields, anchored automatically), with one
difference forced by Python's ``re``: a hyphen inside a character class must come last
(``[\\w.-]``, not ``[\\w-.]``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tencentcloud_secrets.framework.field_data import FieldData
from tencentcloud_secrets.framework.fields import DisplayAttributes, Field
from tencentcloud_secrets_shim import logical

# A path's handler may hand back what it still awaits (``logical.Awaiting``): its I/O then
# runs on the shim's event loop instead of holding a worker thread.
Handler = Callable[[logical.Request, FieldData], logical.Response | logical.Awaiting | None]
# Renewals and revocations answer at once.
LeaseHandler = Callable[[logical.Request, FieldData], logical.Response | None]
"""An operation handler: plain synchronous code, returns a Response or None."""

ExistenceCheck = Callable[[logical.Request, FieldData], bool]
"""Says whether the object at a path exists, so Vault can choose create or update."""

ROUTED_OPERATIONS = frozenset(
    {
        logical.CREATE,
        logical.READ,
        logical.UPDATE,
        logical.PATCH,
        logical.DELETE,
        logical.LIST,
        logical.HELP,
        logical.ALIAS_LOOKAHEAD,
        logical.RESOLVE_ROLE,
        logical.HEADER,
    }
)


def generic_name_regex(name: str) -> str:
    """A named segment of word characters, with ``-`` and ``.`` allowed inside."""
    return rf"(?P<{name}>\w(([\w.-]+)?\w)?)"


def optional_param_regex(name: str) -> str:
    """An optional trailing ``/<anything>`` captured as ``name``."""
    return rf"(/(?P<{name}>.+))?"


def match_all_regex(name: str) -> str:
    """Captures the whole remainder of the path (possibly empty) as ``name``."""
    return rf"(?P<{name}>.*)"


def optional_parts(*parts: str) -> str:
    """Trailing parts that may be left off from the end: ``a``, ``a b`` or ``a b c``.

    ``optional_parts("/x", "/y")`` matches "", "/x" and "/x/y" but not "/y".
    """
    out = ""
    for part in reversed(parts):
        out = f"(?:{part}{out})?"
    return out


@dataclasses.dataclass(frozen=True)
class Operation:
    """A handler for one operation on a path, with what help and OpenAPI say about it."""

    handler: Handler
    summary: str = ""
    description: str = ""
    display_attrs: DisplayAttributes | None = None
    examples: tuple[Mapping[str, Any], ...] = ()
    deprecated: bool = False
    # Runs on the server's event loop instead of a worker thread, which saves two thread
    # switches. Only for handlers that touch nothing but storage and take no lock: while it
    # runs, the plugin serves no other request.
    inline: bool = False


@dataclasses.dataclass(frozen=True, eq=False)
class Path:
    """One route of the backend.

    Named captures in ``pattern`` become parameters and win over body values of the same
    name (the response then carries Vault's warning). Optional groups that did not take part
    in the match are left out, so the body value or the default applies.
    """

    pattern: str
    fields: Mapping[str, Field] = dataclasses.field(default_factory=dict)
    operations: Mapping[str, Operation] = dataclasses.field(default_factory=dict)
    existence_check: ExistenceCheck | None = None
    help_synopsis: str = ""
    help_description: str = ""
    display_attrs: DisplayAttributes | None = None
    takes_arbitrary_input: bool = False
    deprecated: bool = False
    _regex: re.Pattern[str] = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.pattern:
            raise ValueError("a path pattern cannot be blank")
        unknown = set(self.operations) - ROUTED_OPERATIONS
        if unknown:
            raise ValueError(f"pattern {self.pattern!r} declares unknown operations {unknown}")
        if logical.CREATE in self.operations and self.existence_check is None:
            raise ValueError(
                f"pattern {self.pattern!r} declares a create operation but no existence check"
            )
        anchored = self.pattern
        if not anchored.startswith("^"):
            anchored = "^" + anchored
        if not anchored.endswith("$"):
            anchored += "$"
        object.__setattr__(self, "pattern", anchored)
        # Vault's regexps are RE2: \w is ASCII only.
        object.__setattr__(self, "_regex", re.compile(anchored, re.ASCII))

    @property
    def regex(self) -> re.Pattern[str]:
        return self._regex

    def match(self, path: str) -> dict[str, str] | None:
        """The named captures if ``path`` matches this route entirely, else None."""
        found = self._regex.fullmatch(path)
        if found is None:
            return None
        return {name: value for name, value in found.groupdict().items() if value is not None}


def path_append(*groups: Iterable[Path]) -> list[Path]:
    """Concatenate lists of paths (one list per endpoint family)."""
    return [path for group in groups for path in group]
