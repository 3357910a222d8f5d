"""CAM permissions, seen through the official SDK: sub-user keys get what their own and their
groups' policies allow, sessions what the role (or federating identity) allows narrowed by the
session policy, and the root everything."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from tencentcloud.cam.v20190116 import models
from tencentcloud.sts.v20180813 import models as sts_models

from tencentcloud_emulator import cli
from tencentcloud_emulator.testing import RunningEmulator
from tests.emulator.conftest import Sdk
from tests.support.account import user_names
from tests.support.sdk import build
from tests.support.seed import DEMO_ROLE_ARN

ErrorCode = Callable[[Callable[[], object]], str]
DENIED = "AuthFailure.UnauthorizedOperation"
CAM_FULL, STS_FULL = 2, 31425


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"version": "2.0", "statement": list(statements)})


def allow(*actions: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"effect": "allow", "action": list(actions), "resource": [resource], **extra}


def deny(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"effect": "deny", "action": list(actions), "resource": [resource]}


@pytest.fixture
def policy(sdk: Any) -> Callable[..., int]:
    cam = sdk.cam()
    count = iter(range(1000))

    def create(*statements: dict[str, Any]) -> int:
        made = cam.CreatePolicy(
            build(
                models.CreatePolicyRequest,
                PolicyName=f"p{next(count)}",
                PolicyDocument=doc(*statements),
            )
        )
        return int(made.PolicyId)

    return create


def test_only_get_user_allowed(
    sdk: Any, emulator: RunningEmulator, make_user: Any, policy: Any, error_code: ErrorCode
) -> None:
    reader = make_user("reader", policies=[policy(allow("cam:GetUser"))])
    cam = sdk.cam(reader.secret_id, reader.secret_key)
    assert cam.GetUser(build(models.GetUserRequest, Name="reader")).Uin == reader.uin
    add = build(models.AddUserRequest, Name="intruder", UseApi=1)
    assert error_code(lambda: cam.AddUser(add)) == DENIED
    assert error_code(lambda: cam.ListUsers(models.ListUsersRequest())) == DENIED
    assert user_names(emulator) == ["reader"]


def test_group_policies_count(sdk: Any, make_user: Any, policy: Any, error_code: ErrorCode) -> None:
    root = sdk.cam()
    group = root.CreateGroup(build(models.CreateGroupRequest, GroupName="listers")).GroupId
    root.AttachGroupPolicy(
        build(
            models.AttachGroupPolicyRequest,
            PolicyId=policy(allow("cam:ListUsers")),
            AttachGroupId=group,
        )
    )
    member = make_user("member", groups=[group])
    outsider = make_user("outsider")
    as_member = sdk.cam(member.secret_id, member.secret_key)
    assert {u.Name for u in as_member.ListUsers(models.ListUsersRequest()).Data} == {
        "member",
        "outsider",
    }
    get = build(models.GetUserRequest, Name="member")
    assert error_code(lambda: as_member.GetUser(get)) == DENIED
    as_outsider = sdk.cam(outsider.secret_id, outsider.secret_key)
    assert error_code(lambda: as_outsider.ListUsers(models.ListUsersRequest())) == DENIED
    # Leaving the group takes the permission away at once.
    root.RemoveUserFromGroup(
        build(models.RemoveUserFromGroupRequest, Info=[{"GroupId": group, "Uin": member.uin}])
    )
    assert error_code(lambda: as_member.ListUsers(models.ListUsersRequest())) == DENIED


def test_a_group_deny_beats_the_users_allow(
    sdk: Any, make_user: Any, policy: Any, error_code: ErrorCode
) -> None:
    root = sdk.cam()
    group = root.CreateGroup(build(models.CreateGroupRequest, GroupName="no-delete")).GroupId
    root.AttachGroupPolicy(
        build(
            models.AttachGroupPolicyRequest,
            PolicyId=policy(deny("cam:Delete*")),
            AttachGroupId=group,
        )
    )
    admin = make_user("admin", policies=[CAM_FULL], groups=[group])
    make_user("victim")
    cam = sdk.cam(admin.secret_id, admin.secret_key)
    assert len(cam.ListUsers(models.ListUsersRequest()).Data) == 2
    delete = build(models.DeleteUserRequest, Name="victim", Force=1)
    assert error_code(lambda: cam.DeleteUser(delete)) == DENIED


def test_key_actions_are_resource_level(
    sdk: Any, emulator: RunningEmulator, make_user: Any, policy: Any, error_code: ErrorCode
) -> None:
    """A "manage your own keys" policy: the user's own uin only. Another sub-user's keys are
    refused; the root's are refused with OperationDenied.SubUin even for a CAM admin."""
    alice = make_user("alice")
    own = f"qcs::cam::uin/{emulator.owner_uin}:uin/{alice.uin}"
    root = sdk.cam()
    root.AttachUserPolicy(
        build(
            models.AttachUserPolicyRequest,
            PolicyId=policy(allow("cam:*AccessKey*", resource=own)),
            AttachUin=alice.uin,
        )
    )
    bob = make_user("bob")
    cam = sdk.cam(alice.secret_id, alice.secret_key)
    assert len(cam.ListAccessKeys(models.ListAccessKeysRequest()).AccessKeys) == 1
    mine = build(models.ListAccessKeysRequest, TargetUin=alice.uin)
    assert len(cam.ListAccessKeys(mine).AccessKeys) == 1
    theirs = build(models.ListAccessKeysRequest, TargetUin=bob.uin)
    assert error_code(lambda: cam.ListAccessKeys(theirs)) == DENIED
    make = build(models.CreateAccessKeyRequest, TargetUin=bob.uin)
    assert error_code(lambda: cam.CreateAccessKey(make)) == DENIED

    admin = make_user("admin", policies=[CAM_FULL])
    as_admin = sdk.cam(admin.secret_id, admin.secret_key)
    assert len(as_admin.ListAccessKeys(theirs).AccessKeys) == 1
    mains = build(models.ListAccessKeysRequest, TargetUin=emulator.owner_uin)
    assert error_code(lambda: as_admin.ListAccessKeys(mains)) == "OperationDenied.SubUin"


def _assume(sdk: Any, **extra: Any) -> Any:
    sts = sdk.sts()
    request = build(
        sts_models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="s1", **extra
    )
    creds = sts.AssumeRole(request).Credentials
    return sdk.cam(creds.TmpSecretId, creds.TmpSecretKey, creds.Token)


def test_role_session_gets_the_roles_policies(sdk: Any, error_code: ErrorCode) -> None:
    cam = _assume(sdk)  # the demo role holds QcloudCamReadOnlyAccess
    assert cam.ListUsers(models.ListUsersRequest()).Data == []
    add = build(models.AddUserRequest, Name="x")
    assert error_code(lambda: cam.AddUser(add)) == DENIED
    # Attaching a policy to the role widens its live sessions.
    sdk.cam().AttachRolePolicy(
        build(models.AttachRolePolicyRequest, PolicyId=CAM_FULL, AttachRoleName="vault-demo-role")
    )
    assert cam.AddUser(add).Name == "x"


def test_session_policy_narrows_the_role(sdk: Any, error_code: ErrorCode) -> None:
    narrow = urllib.parse.quote(doc(allow("cam:ListUsers")))
    cam = _assume(sdk, Policy=narrow)
    assert cam.ListUsers(models.ListUsersRequest()).Data == []
    # The role may GetUser; the session policy does not include it.
    get = build(models.GetUserRequest, Name="nobody")
    assert error_code(lambda: cam.GetUser(get)) == DENIED
    # A session policy never widens: AddUser is allowed by it but not by the role.
    wide = _assume(sdk, Policy=urllib.parse.quote(doc(allow("cam:*"))))
    add = build(models.AddUserRequest, Name="x")
    assert error_code(lambda: wide.AddUser(add)) == DENIED
    # What both allow goes through (to the action's own answer).
    assert error_code(lambda: wide.GetUser(get)) == "ResourceNotFound.UserNotExist"


def test_federation_token_is_the_federating_identity_narrowed_by_its_policy(
    sdk: Any, make_user: Any, policy: Any, error_code: ErrorCode
) -> None:
    def token(sts: Any, statements: str) -> Any:
        request = build(sts_models.GetFederationTokenRequest, Name="fed", Policy=statements)
        creds = sts.GetFederationToken(request).Credentials
        return sdk.cam(creds.TmpSecretId, creds.TmpSecretKey, creds.Token)

    from_root = token(sdk.sts(), urllib.parse.quote(doc(allow("cam:GetUser"))))
    get = build(models.GetUserRequest, Name="nobody")
    assert error_code(lambda: from_root.GetUser(get)) == "ResourceNotFound.UserNotExist"
    assert error_code(lambda: from_root.ListUsers(models.ListUsersRequest())) == DENIED

    lister = make_user("lister", policies=[policy(allow("cam:ListUsers")), STS_FULL])
    from_user = token(
        sdk.sts(lister.secret_id, lister.secret_key), urllib.parse.quote(doc(allow("cam:*")))
    )
    assert [u.Name for u in from_user.ListUsers(models.ListUsersRequest()).Data] == ["lister"]
    assert error_code(lambda: from_user.GetUser(get)) == DENIED


def test_sts_actions_need_sts_permissions(sdk: Any, make_user: Any, error_code: ErrorCode) -> None:
    plain = make_user("plain")
    sts = sdk.sts(plain.secret_id, plain.secret_key)
    # Knowing who one is needs no permission.
    assert sts.GetCallerIdentity(sts_models.GetCallerIdentityRequest()).UserId == str(plain.uin)
    assume = build(sts_models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="s1")
    assert error_code(lambda: sts.AssumeRole(assume)) == "UnauthorizedOperation"
    allowed = make_user("assumer", policies=[STS_FULL])
    granted = sdk.sts(allowed.secret_id, allowed.secret_key)
    assert granted.AssumeRole(assume).Credentials.Token


def test_conditions_see_the_callers_address(
    sdk: Any, make_user: Any, policy: Any, error_code: ErrorCode
) -> None:
    here = allow("cam:ListUsers", condition={"ip_equal": {"qcs:ip": "127.0.0.0/8"}})
    elsewhere = allow("cam:GetUser", condition={"ip_equal": {"qcs:ip": "10.0.0.0/8"}})
    user = make_user("located", policies=[policy(here, elsewhere)])
    cam = sdk.cam(user.secret_id, user.secret_key)
    assert len(cam.ListUsers(models.ListUsersRequest()).Data) == 1
    get = build(models.GetUserRequest, Name="located")
    assert error_code(lambda: cam.GetUser(get)) == DENIED


def test_root_is_allowed_everything_and_the_switch_turns_evaluation_off(
    emulator_factory: Any,
) -> None:
    off = emulator_factory(permissions=False)
    sdk = Sdk(off)
    root = sdk.cam()
    made = root.AddUser(build(models.AddUserRequest, Name="bare", UseApi=1))
    bare = sdk.cam(made.SecretId, made.SecretKey)
    assert bare.AddUser(build(models.AddUserRequest, Name="other")).Name == "other"
    args = cli._parser().parse_args(["--permissions", "off"])
    assert cli._options(args).permissions is False
    assert cli._options(cli._parser().parse_args([])).permissions is True
