"""The CAM policy grammar, checked the way CreatePolicy and CreateRole report it.

A document is JSON with lowercase keys: ``version`` "2.0" and a ``statement`` list whose
items carry ``effect``, ``action``, ``resource`` and optionally ``condition``; ``principal``
belongs only to role trust policies. Checks run in document order and stop at the first
error, each with its own ``InvalidParameter.*`` code.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .exceptions import ApiError

MAX_DOCUMENT_LENGTH = 6144

_ACTION = re.compile(r"^(\*|[a-z0-9_-]+:[A-Za-z0-9_*]+|name/[a-z0-9_-]+:[A-Za-z0-9_*]+)$")
_CONDITION_OPERATORS = frozenset(
    [
        "string_equal",
        "string_not_equal",
        "string_equal_ignore_case",
        "string_not_equal_ignore_case",
        "string_like",
        "string_not_like",
        "numeric_equal",
        "numeric_not_equal",
        "numeric_less_than",
        "numeric_less_than_equal",
        "numeric_greater_than",
        "numeric_greater_than_equal",
        "date_equal",
        "date_not_equal",
        "date_less_than",
        "date_less_than_equal",
        "date_greater_than",
        "date_greater_than_equal",
        "ip_equal",
        "ip_not_equal",
        "bool_equal",
        "null_equal",
    ]
)
_STATEMENT_KEYS = frozenset(["effect", "action", "resource", "condition", "principal", "sid"])


def _err(code: str, message: str) -> ApiError:
    return ApiError(f"InvalidParameter.{code}", message)


def validate(document: str, *, trust_policy: bool = False) -> dict[str, Any]:
    """Return the parsed document or raise the first grammar error the real service reports."""
    if len(document) > MAX_DOCUMENT_LENGTH:
        raise _err(
            "PolicyDocumentLengthOverLimit",
            f"The policy document exceeds {MAX_DOCUMENT_LENGTH} characters.",
        )
    try:
        parsed = json.loads(document)
    except ValueError:
        raise _err("PolicyDocumentError", "The policy document is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise _err("PolicyDocumentError", "The policy document must be a JSON object.")
    for key in parsed:
        if key not in ("version", "statement"):
            raise _err("PolicyDocumentError", f"Unknown policy element `{key}`.")
    if parsed.get("version") != "2.0":
        raise _err("VersionError", 'The policy `version` must be "2.0".')
    statements = parsed.get("statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise _err("StatementError", "The policy `statement` must be a non-empty list.")
    for statement in statements:
        _statement(statement, trust_policy=trust_policy)
    return parsed


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def _statement(statement: Any, *, trust_policy: bool) -> None:
    if not isinstance(statement, dict) or not statement:
        raise _err("StatementError", "Each statement must be a JSON object.")
    for key in statement:
        if key not in _STATEMENT_KEYS:
            raise _err("StatementError", f"Unknown statement element `{key}`.")
    effect = statement.get("effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise _err("EffectError", 'The statement `effect` must be "allow" or "deny".')
    actions = _strings(statement.get("action"))
    if actions is None or not all(_ACTION.match(a) for a in actions):
        raise _err("ActionError", "The statement `action` must name service:Action entries.")
    if "principal" in statement:
        if not trust_policy:
            raise _err("PrincipalError", "A `principal` is only allowed in a role trust policy.")
        _principal(statement["principal"])
    elif trust_policy:
        raise _err("PrincipalError", "A role trust policy statement needs a `principal`.")
    if not trust_policy or "resource" in statement:
        resources = _strings(statement.get("resource"))
        if resources is None or not all(_resource_ok(r) for r in resources):
            raise _err(
                "ResourceError",
                'The statement `resource` must be "*" or six-segment qcs resources.',
            )
    if "condition" in statement:
        _condition(statement["condition"])


def _resource_ok(resource: str) -> bool:
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[0] == "qcs" and parts[5] != ""


def _principal(principal: Any) -> None:
    if isinstance(principal, dict) and principal:
        for kind, values in principal.items():
            if kind not in ("qcs", "service", "federated") or _strings(values) is None:
                break
        else:
            return
    raise _err("PrincipalError", "The `principal` must map qcs/service/federated to strings.")


def _condition(condition: Any) -> None:
    if not isinstance(condition, dict) or not condition:
        raise _err("ConditionError", "The statement `condition` must be a JSON object.")
    for operator, body in condition.items():
        qualifier, _, base = operator.rpartition(":")
        base = base.removesuffix("_if_exist")
        if qualifier not in ("", "for_all_value", "for_any_value") or (
            base not in _CONDITION_OPERATORS
        ):
            raise _err("ConditionError", f"Unknown condition operator `{operator}`.")
        if not isinstance(body, dict) or not body:
            raise _err("ConditionError", f"The condition `{operator}` needs key/value pairs.")
        for value in body.values():
            if not isinstance(value, (str, int, float, bool, list)):
                raise _err("ConditionError", f"The condition `{operator}` has a bad value.")
