"""CAM policy grammar validation and name rules, with properties where they help."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tencentcloud_emulator import policy_grammar
from tencentcloud_emulator.exceptions import ApiError
from tencentcloud_emulator.models import Account, Env


def code(document: Any, *, trust: bool = False) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    try:
        policy_grammar.validate(text, trust_policy=trust)
    except ApiError as err:
        return err.code.removeprefix("InvalidParameter.")
    return "ok"


def stmt(**fields: Any) -> dict[str, Any]:
    return {
        "version": "2.0",
        "statement": [
            {"effect": "allow", "action": ["cos:GetObject"], "resource": ["*"], **fields}
        ],
    }


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (stmt(), "ok"),
        (stmt(condition={"ip_equal": {"qcs:ip": ["10.0.0.0/8"]}}), "ok"),
        (stmt(condition={"for_any_value:string_equal": {"k": "v"}}), "ok"),
        (stmt(resource="qcs::cos:ap-guangzhou:uid/1250000000:bucket-1250000000/*"), "ok"),
        ("not json", "PolicyDocumentError"),
        ([], "PolicyDocumentError"),
        ({"version": "2.0", "statement": [], "extra": 1}, "PolicyDocumentError"),
        ({"version": "1.0", "statement": [{}]}, "VersionError"),
        ({"version": "2.0"}, "StatementError"),
        ({"version": "2.0", "statement": []}, "StatementError"),
        (stmt(unknown=1), "StatementError"),
        (stmt(effect="permit"), "EffectError"),
        (stmt(action=[]), "ActionError"),
        (stmt(action=["no-colon"]), "ActionError"),
        (stmt(resource="arn:aws:s3:::bucket"), "ResourceError"),
        (stmt(resource=None), "ResourceError"),
        (stmt(condition={"string_maybe": {"k": "v"}}), "ConditionError"),
        (stmt(condition={"bogus:string_equal": {"k": "v"}}), "ConditionError"),
        (stmt(condition={"string_equal": {}}), "ConditionError"),
        (stmt(principal={"qcs": ["qcs::cam::uin/1:root"]}), "PrincipalError"),
        ("x" * 6145, "PolicyDocumentLengthOverLimit"),
    ],
)
def test_grammar_error_codes(document: Any, expected: str) -> None:
    assert code(document) == expected


def test_trust_policies_need_a_principal() -> None:
    trust = {
        "version": "2.0",
        "statement": [
            {
                "effect": "allow",
                "action": "name/sts:AssumeRole",
                "principal": {"qcs": "qcs::cam::uin/1:root"},
            }
        ],
    }
    assert code(trust, trust=True) == "ok"
    assert code(stmt(), trust=True) == "PrincipalError"
    statement: dict[str, Any] = {"effect": "allow", "action": "x:y", "principal": {"aws": "x"}}
    bad = {"version": "2.0", "statement": [statement]}
    assert code(bad, trust=True) == "PrincipalError"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_ok_or_a_documented_code(text: str) -> None:
    documented = {
        "ok",
        "PolicyDocumentError",
        "VersionError",
        "StatementError",
        "EffectError",
        "ActionError",
        "ResourceError",
        "ConditionError",
        "PrincipalError",
        "PolicyDocumentLengthOverLimit",
    }
    assert code(text) in documented


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["effect", "action", "resource", "condition", "principal"]), json_values
    )
)
def test_random_statements_never_crash(statement: dict[str, Any]) -> None:
    assert code({"version": "2.0", "statement": [statement]}).endswith(("ok", "Error"))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcXYZ019+=,.@_-", min_size=1, max_size=64))
def test_valid_user_names_are_accepted(name: str) -> None:
    account = Account(Env(), 1, 1)
    user, _, _ = account.add_user(name=name, use_api=0)
    assert account.get_user(name) is user


@settings(max_examples=100, deadline=None)
@given(
    st.text(min_size=1, max_size=80).filter(
        lambda n: len(n) > 64 or any(c in " /\\:;!#$%^&*()'\"" for c in n)
    )
)
def test_invalid_user_names_are_rejected(name: str) -> None:
    account = Account(Env(), 1, 1)
    with pytest.raises(ApiError) as info:
        account.add_user(name=name, use_api=0)
    assert info.value.code == "InvalidParameter.UserNameIllegal"
