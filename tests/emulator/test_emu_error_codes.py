"""Error codes per action, checked against the Go SDK's per-action lists (data/), the group
size limit, and passwords that are never echoed.

Besides these scenarios, conftest's autouse check holds every test on the shared emulator to
the same lists.
"""

from __future__ import annotations

from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tests.emulator.conftest import allowed_codes

GHOST_GROUP = 999_999_999
CAM_READ = 3  # QcloudCamReadOnlyAccess


def _group(raw: Any, name: str = "team") -> int:
    return int(raw.send("CreateGroup", {"GroupName": name})["GroupId"])


def _user(raw: Any, name: str) -> int:
    return int(raw.send("AddUser", {"Name": name, "UseApi": 0})["Uin"])


@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [
        ("AttachGroupPolicy", {"PolicyId": CAM_READ, "AttachGroupId": GHOST_GROUP},
         "ResourceNotFound.GroupNotExist"),
        ("DetachGroupPolicy", {"PolicyId": CAM_READ, "DetachGroupId": GHOST_GROUP},
         "ResourceNotFound.GroupNotExist"),
        ("GetGroup", {"GroupId": GHOST_GROUP}, "ResourceNotFound.UserNotExist"),
        ("DeleteGroup", {"GroupId": GHOST_GROUP}, "ResourceNotFound.UserNotExist"),
        ("ListUsersForGroup", {"GroupId": GHOST_GROUP}, "ResourceNotFound.GroupNotExist"),
        ("ListAttachedGroupPolicies", {"TargetGroupId": GHOST_GROUP},
         "InvalidParameter.ParamError"),
        ("ListAttachedUserPolicies", {"TargetUin": 1}, "InvalidParameter.ParamError"),
        ("AddUserToGroup", {"Info": [{"GroupId": GHOST_GROUP, "Uin": 1}]},
         "InvalidParameter.GroupNotExist"),
        ("RemoveUserFromGroup", {"Info": [{"GroupId": GHOST_GROUP, "Uin": 1}]},
         "ResourceNotFound.UserNotExist"),
        ("DeleteAccessKey", {"AccessKeyId": "AKID" + "0" * 32}, "ResourceNotFound.SecretNotExist"),
        ("UpdateAccessKey", {"AccessKeyId": "AKID" + "0" * 32, "Status": "Active"},
         "ResourceNotFound.SecretNotExist"),
        ("CreateAccessKey", {"TargetUin": 1}, "InvalidParameter.UserNotExist"),
        ("GetUser", {"Name": "ghost"}, "ResourceNotFound.UserNotExist"),
        ("DeleteUser", {"Name": "ghost"}, "ResourceNotFound.UserNotExist"),
        ("GetPolicy", {"PolicyId": 1234}, "ResourceNotFound.PolicyIdNotFound"),
        ("DeletePolicy", {"PolicyId": [CAM_READ]}, "InvalidParameter.PolicyIdError"),
        ("GetRole", {"RoleName": "ghost"}, "InvalidParameter.RoleNotExist"),
    ],
)  # fmt: skip
def test_unknown_things_answer_the_listed_code(
    raw: Any, action: str, params: dict[str, Any], expected: str
) -> None:
    assert raw.code(action, params) == expected
    allowed = allowed_codes("cam", action)
    assert allowed is not None
    assert expected in allowed


def test_sts_codes_are_in_the_lists(raw: Any) -> None:
    arn = "qcs::cam::uin/100000000001:roleName/ghost"
    cases = [
        ("AssumeRole", {"RoleArn": arn, "RoleSessionName": "s1"}, "ResourceNotFound.RoleNotFound"),
        (
            "AssumeRole",
            {"RoleArn": arn, "RoleSessionName": "s1", "DurationSeconds": 10},
            "InvalidParameter.OverTimeError",
        ),
        ("GetFederationToken", {"Name": "x", "Policy": "{}"}, "InvalidParameter.ParamError"),
    ]
    for action, params, expected in cases:
        assert raw.code(action, params, service="sts") == expected
        allowed = allowed_codes("sts", action)
        assert allowed is not None
        assert expected in allowed


def test_group_user_limit(raw: Any, emulator: RunningEmulator) -> None:
    emulator.set_quotas(users_per_group=2)
    group = _group(raw)
    uins = [_user(raw, f"member{n}") for n in range(3)]
    # One call that would take the group past its limit adds nobody.
    info = [{"GroupId": group, "Uin": uin} for uin in uins]
    assert raw.code("AddUserToGroup", {"Info": info}) == "InvalidParameter.GroupUserFull"
    assert raw.send("GetGroup", {"GroupId": group})["GroupNum"] == 0
    assert raw.code("AddUserToGroup", {"Info": info[:2]}) == "Success"
    assert raw.code("AddUserToGroup", {"Info": info[:2]}) == "Success"  # members already
    assert raw.code("AddUserToGroup", {"Info": info[2:]}) == "InvalidParameter.GroupUserFull"
    assert "InvalidParameter.GroupUserFull" in (allowed_codes("cam", "AddUserToGroup") or ())


def test_groups_per_user_counts_the_memberships_of_the_same_call(
    raw: Any, emulator: RunningEmulator
) -> None:
    emulator.set_quotas(groups_per_user=2)
    groups = [_group(raw, f"g{n}") for n in range(3)]
    uin = _user(raw, "joiner")
    info = [{"GroupId": g, "Uin": uin} for g in groups]
    assert raw.code("AddUserToGroup", {"Info": info}) == "InvalidParameter.UserGroupFull"
    assert raw.code("AddUserToGroup", {"Info": info[:2]}) == "Success"


def test_supplied_password_is_never_echoed(raw: Any) -> None:
    chosen = "Chosen-Passw0rd!"
    for use_api in (0, 1):
        answer = raw.send(
            "AddUser",
            {"Name": f"console{use_api}", "ConsoleLogin": 1, "Password": chosen, "UseApi": use_api},
        )
        assert "Error" not in answer
        assert "Password" not in answer
        assert chosen not in repr(answer)
    generated = raw.send("AddUser", {"Name": "generated", "ConsoleLogin": 1, "UseApi": 0})
    assert len(generated["Password"]) == 32
