"""Properties of the CAM policy evaluator (pure functions, no server)."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tencentcloud_emulator.policy_eval import (
    AccessRequest,
    Decision,
    action_matches,
    conditions_match,
    evaluate,
    resource_matches,
)

OWNER = 100000000001
_WORD = st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
_SERVICE = st.sampled_from(["cam", "sts", "cvm", "cos"])
_ACTION = st.builds(lambda s, a: f"{s}:{a}", _SERVICE, _WORD)
_RESOURCE = st.builds(
    lambda kind, ident: f"qcs::cam::uin/{OWNER}:{kind}/{ident}",
    st.sampled_from(["uin", "groupid", "policyid", "roleName"]),
    st.text(alphabet=string.digits + "abc", min_size=1, max_size=10),
) | st.just("*")


def _statement(effect: str, action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"effect": effect, "action": [action], "resource": [resource], **extra}


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"version": "2.0", "statement": list(statements)}


def _starred(text: str, start: int, end: int) -> str:
    """``text`` with the slice [start:end] replaced by ``*``."""
    start, end = sorted((start % (len(text) + 1), end % (len(text) + 1)))
    return text[:start] + "*" + text[end:]


@settings(max_examples=150, deadline=None)
@given(action=_ACTION, resource=_RESOURCE, a=st.integers(0, 30), b=st.integers(0, 30))
def test_a_wildcard_over_any_part_still_matches(action: str, resource: str, a: int, b: int) -> None:
    assert action_matches(_starred(action, a, b), action)
    assert action_matches(_starred(action, a, b).upper(), action)  # actions ignore case
    if resource != "*":
        assert resource_matches(_starred(resource, a, b), resource, OWNER)


@settings(max_examples=150, deadline=None)
@given(action=_ACTION, other=_ACTION)
def test_actions_match_only_themselves_without_wildcards(action: str, other: str) -> None:
    assert action_matches(action, other) == (action.lower() == other.lower())
    assert action_matches("name/" + action, action)


def test_operation_level_actions_need_an_unrestricted_resource() -> None:
    assert resource_matches("*", "*", OWNER)
    assert not resource_matches(f"qcs::cam::uin/{OWNER}:uin/*", "*", OWNER)
    # An empty account segment means the caller's own account.
    assert resource_matches("qcs::cam:::uin/7", f"qcs::cam::uin/{OWNER}:uin/7", OWNER)
    assert not resource_matches("qcs::cam:::uin/7", "qcs::cam::uin/5:uin/7", OWNER)


_EFFECTS = st.lists(
    st.tuples(st.sampled_from(["allow", "deny"]), st.booleans()), min_size=0, max_size=6
)


@settings(max_examples=200, deadline=None)
@given(action=_ACTION, resource=_RESOURCE, effects=_EFFECTS, split=st.integers(0, 6))
def test_deny_wins_and_nothing_is_allowed_by_default(
    action: str, resource: str, effects: list[tuple[str, bool]], split: int
) -> None:
    """Statements that apply (matching action) or not (another action), in any order and
    spread over two documents: any applicable deny denies; else any applicable allow allows;
    else the request is implicitly denied."""
    statements = [
        _statement(effect, action if applies else "other:Thing", resource)
        for effect, applies in effects
    ]
    documents = [_doc(*statements[:split]), _doc(*statements[split:])]
    request = AccessRequest(action, resource, OWNER)
    applicable = {effect for effect, applies in effects if applies}
    expected = (
        Decision.DENY
        if "deny" in applicable
        else Decision.ALLOW
        if "allow" in applicable
        else Decision.IMPLICIT_DENY
    )
    assert evaluate(documents, request) is expected
    assert evaluate(reversed(documents), request) is expected


@settings(max_examples=150, deadline=None)
@given(value=_WORD, other=_WORD)
def test_string_operators_and_their_negations_are_complements(value: str, other: str) -> None:
    context = {"qcs:tag": value}
    for positive, negative in [
        ("string_equal", "string_not_equal"),
        ("string_equal_ignore_case", "string_not_equal_ignore_case"),
        ("string_like", "string_not_like"),
    ]:
        yes = conditions_match({positive: {"qcs:tag": other}}, context)
        no = conditions_match({negative: {"qcs:tag": other}}, context)
        assert yes != no
    assert conditions_match({"string_equal": {"qcs:tag": [other, value]}}, context)


def test_missing_keys_and_qualifiers() -> None:
    assert not conditions_match({"string_equal": {"qcs:absent": "x"}}, {})
    assert conditions_match({"string_equal_if_exist": {"qcs:absent": "x"}}, {})
    assert conditions_match({"string_not_equal": {"qcs:absent": "x"}}, {})
    assert conditions_match({"null_equal": {"qcs:absent": "true"}}, {})
    assert not conditions_match({"null_equal": {"qcs:absent": "false"}}, {})
    many = {"qcs:tags": ["a", "b"]}
    assert conditions_match({"for_any_value:string_equal": {"qcs:tags": ["b"]}}, many)
    assert not conditions_match({"for_all_value:string_equal": {"qcs:tags": ["b"]}}, many)
    assert conditions_match({"for_all_value:string_equal": {"qcs:tags": ["a", "b"]}}, many)


def test_ip_numeric_date_and_bool_operators() -> None:
    context = {
        "qcs:ip": "10.1.2.3",
        "n": "5",
        "t": "2030-01-01T00:00:00Z",
        "secure": "true",
    }
    assert conditions_match({"ip_equal": {"qcs:ip": "10.0.0.0/8"}}, context)
    assert not conditions_match({"ip_equal": {"qcs:ip": "192.168.0.0/16"}}, context)
    assert conditions_match({"ip_not_equal": {"qcs:ip": "192.168.0.0/16"}}, context)
    assert conditions_match({"numeric_less_than": {"n": 6}}, context)
    assert not conditions_match({"numeric_greater_than_equal": {"n": 6}}, context)
    assert conditions_match({"date_greater_than": {"t": "2029-12-31T23:59:59Z"}}, context)
    assert conditions_match({"bool_equal": {"secure": True}}, context)
    # Every operator of a block must hold.
    both = {"ip_equal": {"qcs:ip": "10.0.0.0/8"}, "numeric_equal": {"n": 4}}
    assert not conditions_match(both, context)
