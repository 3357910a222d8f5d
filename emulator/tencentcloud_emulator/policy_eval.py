"""CAM policy evaluation: does a set of policy documents allow one request?

Pure functions over parsed documents (``policy_grammar`` has already accepted them). The rules
CAM documents, and nothing cleverer:

- a statement applies when one of its actions, one of its resources and all of its
  conditions match the request;
- any applicable ``deny`` wins; otherwise any applicable ``allow`` allows; otherwise the
  request is implicitly denied;
- ``*`` in an action or resource matches any run of characters; actions compare without
  regard to case and may carry the ``name/`` prefix; a resource's account segment
  (``uin/<owner>``) may be left empty to mean the caller's own account;
- a condition block is the AND of its operators, each operator the AND of its keys, each
  key the OR of its values; ``_if_exist`` makes a missing key match, the negated operators
  match a missing key, ``for_all_value:`` / ``for_any_value:`` apply to multi-valued keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

ContextValue = str | Sequence[str]


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"  # an explicit deny matched
    IMPLICIT_DENY = "implicit"  # nothing allowed it


@dataclasses.dataclass(frozen=True)
class AccessRequest:
    """What is being asked: ``action`` as ``service:Action``, one six-segment ``resource`` (or
    ``*`` for actions that CAM authorizes at the operation level only), and condition keys."""

    action: str
    resource: str
    owner_uin: int
    context: Mapping[str, ContextValue] = dataclasses.field(default_factory=dict)


def parse(document: str) -> dict[str, Any]:
    parsed = json.loads(document)
    return parsed if isinstance(parsed, dict) else {}


def evaluate(documents: Iterable[Mapping[str, Any]], request: AccessRequest) -> Decision:
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if not _applies(statement, request):
                continue
            if str(statement.get("effect", "")).lower() == "deny":
                return Decision.DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("statement", [])
    if isinstance(statements, Mapping):
        return [statements]
    return [s for s in statements if isinstance(s, Mapping)] if isinstance(statements, list) else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _applies(statement: Mapping[str, Any], request: AccessRequest) -> bool:
    actions = _strings(statement.get("action"))
    if not any(action_matches(a, request.action) for a in actions):
        return False
    resources = _strings(statement.get("resource", "*"))
    if not any(resource_matches(r, request.resource, request.owner_uin) for r in resources):
        return False
    condition = statement.get("condition")
    return condition is None or conditions_match(condition, request.context)


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern.removeprefix("name/"), True).match(action) is not None


def resource_matches(pattern: str, resource: str, owner_uin: int) -> bool:
    if pattern == "*":
        return True
    if resource == "*":
        # Operation-level actions: only an unrestricted resource grants them.
        return False
    parts = pattern.split(":", 5)
    if len(parts) == 6 and parts[4] == "":
        parts[4] = f"uin/{owner_uin}"
    return _glob(":".join(parts), False).match(resource) is not None


# ---- conditions ----------------------------------------------------------------------------


def conditions_match(condition: Any, context: Mapping[str, ContextValue]) -> bool:
    if not isinstance(condition, Mapping):
        return False
    return all(
        _operator_matches(str(operator), body, context) for operator, body in condition.items()
    )


def _operator_matches(operator: str, body: Any, context: Mapping[str, ContextValue]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exist = base.endswith("_if_exist")
    base = base.removesuffix("_if_exist")
    if not isinstance(body, Mapping):
        return False
    for key, wanted in body.items():
        expected = [str(v).lower() if isinstance(v, bool) else str(v) for v in _listed(wanted)]
        present = context.get(str(key))
        if base == "null_equal":
            is_null = present is None
            if not any(is_null == (e.lower() == "true") for e in expected):
                return False
            continue
        if present is None:
            if if_exist or qualifier == "for_all_value" or base in _NEGATED:
                continue
            return False
        actual = [present] if isinstance(present, str) else list(present)
        if qualifier == "for_all_value":
            ok = all(_value_matches(base, a, expected) for a in actual)
        else:
            ok = any(_value_matches(base, a, expected) for a in actual)
        if not ok:
            return False
    return True


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


_NEGATED = frozenset(
    {
        "string_not_equal",
        "string_not_equal_ignore_case",
        "string_not_like",
        "numeric_not_equal",
        "date_not_equal",
        "ip_not_equal",
    }
)


def _value_matches(base: str, actual: str, expected: list[str]) -> bool:
    if base in _NEGATED:
        positive = base.replace("_not_", "_")
        return not any(_compare(positive, actual, e) for e in expected)
    return any(_compare(base, actual, e) for e in expected)


def _compare(base: str, actual: str, expected: str) -> bool:
    try:
        if base == "string_equal":
            return actual == expected
        if base == "string_equal_ignore_case":
            return actual.lower() == expected.lower()
        if base == "string_like":
            return _glob(expected, False).match(actual) is not None
        if base == "bool_equal":
            return actual.lower() == expected.lower()
        if base == "ip_equal":
            return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
        if base.startswith("numeric_"):
            return _ordered(base.removeprefix("numeric_"), float(actual), float(expected))
        if base.startswith("date_"):
            return _ordered(base.removeprefix("date_"), _instant(actual), _instant(expected))
    except ValueError:
        return False
    return False


def _ordered(relation: str, a: float, b: float) -> bool:
    return {
        "equal": a == b,
        "less_than": a < b,
        "less_than_equal": a <= b,
        "greater_than": a > b,
        "greater_than_equal": a >= b,
    }.get(relation, False)


def _instant(text: str) -> float:
    """Unix seconds, or an ISO 8601 time (``Z`` or an offset; naive means UTC)."""
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
