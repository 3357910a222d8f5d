"""The official SDK drives every supported CAM action and gets correctly shaped responses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from tencentcloud.cam.v20190116 import models

from tencentcloud_emulator.testing import RunningEmulator
from tests.support.sdk import build

ErrorCode = Callable[[Callable[[], object]], str]

DOC = json.dumps(
    {"version": "2.0", "statement": [{"effect": "allow", "action": ["cos:*"], "resource": ["*"]}]}
)
TRUST = json.dumps(
    {
        "version": "2.0",
        "statement": [
            {
                "effect": "allow",
                "action": ["name/sts:AssumeRole"],
                "principal": {"qcs": ["qcs::cam::uin/100000000001:root"]},
            }
        ],
    }
)
CAM_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture(params=["POST", "GET"])
def cam(request: pytest.FixtureRequest, sdk: Any) -> Any:
    """Every test runs in both wire styles the SDK can send: POST JSON and GET query."""
    return sdk.cam(method=request.param)


def add_user(cam: Any, name: str = "alice", **extra: Any) -> Any:
    return cam.AddUser(build(models.AddUserRequest, Name=name, **extra))


def test_add_get_list_delete_user(cam: Any, error_code: ErrorCode) -> None:
    created = add_user(cam, "alice", Remark="demo", UseApi=1)
    assert isinstance(created.Uin, int)
    assert isinstance(created.Uid, int)
    assert re.fullmatch(r"AKID[A-Za-z0-9]{32}", created.SecretId)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", created.SecretKey)
    assert created.Password is None
    assert re.fullmatch(r"[0-9a-f-]{36}", created.RequestId)

    got = cam.GetUser(build(models.GetUserRequest, Name="alice"))
    assert (got.Uin, got.Uid, got.Name, got.Remark) == (created.Uin, created.Uid, "alice", "demo")
    assert got.ConsoleLogin == 0

    listed = cam.ListUsers(models.ListUsersRequest())
    assert [(u.Name, u.Uin) for u in listed.Data] == [("alice", created.Uin)]
    assert CAM_TIME.match(listed.Data[0].CreateTime)

    cam.DeleteUser(build(models.DeleteUserRequest, Name="alice", Force=1))
    assert error_code(lambda: cam.GetUser(build(models.GetUserRequest, Name="alice"))) == (
        "ResourceNotFound.UserNotExist"
    )


def test_add_user_without_api_keys_and_with_console_login(cam: Any) -> None:
    created = add_user(cam, "bob", UseApi=0, ConsoleLogin=1)
    assert created.SecretId is None
    assert created.SecretKey is None
    assert created.Password is not None
    assert len(created.Password) == 32


def test_add_user_with_only_a_name_gets_no_key_and_no_console_login(cam: Any) -> None:
    """UseApi, ConsoleLogin and NeedResetPassword left out: each reads as 0 ("no"), so the user
    is made without an API key and without a console password."""
    created = add_user(cam, "bare")
    assert (created.SecretId, created.SecretKey, created.Password) == (None, None, None)
    keys = cam.ListAccessKeys(build(models.ListAccessKeysRequest, TargetUin=created.Uin))
    assert keys.AccessKeys == []
    assert cam.GetUser(build(models.GetUserRequest, Name="bare")).ConsoleLogin == 0


def test_original_go_plugin_lifecycle_needs_no_force(cam: Any, error_code: ErrorCode) -> None:
    """The sequence tencentcloudstack/vault-plugin-secrets-tencentcloud sends: AddUser with a
    name only, CreateAccessKey, then on revoke DeleteAccessKey and DeleteUser without Force."""
    uin = add_user(cam, "vault-root-1").Uin
    key = cam.CreateAccessKey(build(models.CreateAccessKeyRequest, TargetUin=uin)).AccessKey
    cam.DeleteAccessKey(
        build(models.DeleteAccessKeyRequest, AccessKeyId=key.AccessKeyId, TargetUin=uin)
    )
    cam.DeleteUser(build(models.DeleteUserRequest, Name="vault-root-1"))
    gone = build(models.GetUserRequest, Name="vault-root-1")
    assert error_code(lambda: cam.GetUser(gone)) == "ResourceNotFound.UserNotExist"


def test_access_key_lifecycle(cam: Any, error_code: ErrorCode) -> None:
    uin = add_user(cam, "carol", UseApi=0).Uin
    made = cam.CreateAccessKey(
        build(models.CreateAccessKeyRequest, TargetUin=uin, Description="ci")
    ).AccessKey
    assert re.fullmatch(r"AKID[A-Za-z0-9]{32}", made.AccessKeyId)
    assert len(made.SecretAccessKey) == 32
    assert made.Status == "Active"
    assert made.Description == "ci"
    assert CAM_TIME.match(made.CreateTime)

    cam.UpdateAccessKey(
        build(
            models.UpdateAccessKeyRequest,
            AccessKeyId=made.AccessKeyId,
            Status="Inactive",
            TargetUin=uin,
        )
    )
    keys = cam.ListAccessKeys(build(models.ListAccessKeysRequest, TargetUin=uin)).AccessKeys
    assert [(k.AccessKeyId, k.Status) for k in keys] == [(made.AccessKeyId, "Inactive")]

    cam.DeleteAccessKey(
        build(models.DeleteAccessKeyRequest, AccessKeyId=made.AccessKeyId, TargetUin=uin)
    )
    assert cam.ListAccessKeys(build(models.ListAccessKeysRequest, TargetUin=uin)).AccessKeys == []
    again = build(models.DeleteAccessKeyRequest, AccessKeyId=made.AccessKeyId, TargetUin=uin)
    assert error_code(lambda: cam.DeleteAccessKey(again)) == "ResourceNotFound.SecretNotExist"


def test_policy_lifecycle_and_listing(cam: Any, error_code: ErrorCode) -> None:
    policy_id = cam.CreatePolicy(
        build(models.CreatePolicyRequest, PolicyName="app-cos", PolicyDocument=DOC, Description="d")
    ).PolicyId
    assert isinstance(policy_id, int)

    got = cam.GetPolicy(build(models.GetPolicyRequest, PolicyId=policy_id))
    assert (got.PolicyName, got.Type, got.Description) == ("app-cos", 1, "d")
    assert json.loads(got.PolicyDocument) == json.loads(DOC)

    local = cam.ListPolicies(build(models.ListPoliciesRequest, Scope="Local"))
    assert local.TotalNum == 1
    assert local.List[0].PolicyId == policy_id
    assert local.List[0].Type == 1

    qcs = cam.ListPolicies(build(models.ListPoliciesRequest, Scope="QCS", Keyword="ReadOnly"))
    assert qcs.TotalNum >= 2
    assert all(p.Type == 2 and "readonly" in p.PolicyName.lower() for p in qcs.List)

    paged = cam.ListPolicies(build(models.ListPoliciesRequest, Rp=2, Page=2, Scope="All"))
    everything = cam.ListPolicies(build(models.ListPoliciesRequest, Rp=200, Scope="All"))
    assert [p.PolicyId for p in paged.List] == [p.PolicyId for p in everything.List[2:4]]
    assert paged.TotalNum == everything.TotalNum

    second = cam.CreatePolicy(
        build(models.CreatePolicyRequest, PolicyName="app-cos-2", PolicyDocument=DOC)
    ).PolicyId
    cam.DeletePolicy(build(models.DeletePolicyRequest, PolicyId=[policy_id, second]))
    gone = build(models.GetPolicyRequest, PolicyId=policy_id)
    assert error_code(lambda: cam.GetPolicy(gone)) == "ResourceNotFound.PolicyIdNotFound"


def test_preset_policy_reads_as_type_2(cam: Any) -> None:
    got = cam.GetPolicy(build(models.GetPolicyRequest, PolicyId=1))
    assert (got.PolicyName, got.Type) == ("AdministratorAccess", 2)


def test_user_policy_attachments(cam: Any) -> None:
    uin = add_user(cam, "dave", UseApi=0).Uin
    policy_id = cam.CreatePolicy(
        build(models.CreatePolicyRequest, PolicyName="p1", PolicyDocument=DOC)
    ).PolicyId
    cam.AttachUserPolicy(build(models.AttachUserPolicyRequest, PolicyId=policy_id, AttachUin=uin))
    cam.AttachUserPolicy(build(models.AttachUserPolicyRequest, PolicyId=3, AttachUin=uin))

    attached = cam.ListAttachedUserPolicies(
        build(models.ListAttachedUserPoliciesRequest, TargetUin=uin, Page=1, Rp=20)
    )
    assert attached.TotalNum == 2
    kinds = {p.PolicyId: p.PolicyType for p in attached.List}
    assert kinds == {policy_id: "User", 3: "QCS"}
    assert all(CAM_TIME.match(p.AddTime) for p in attached.List)

    cam.DetachUserPolicy(build(models.DetachUserPolicyRequest, PolicyId=policy_id, DetachUin=uin))
    after = cam.ListAttachedUserPolicies(
        build(models.ListAttachedUserPoliciesRequest, TargetUin=uin)
    )
    assert [p.PolicyId for p in after.List] == [3]


def test_groups_memberships_and_group_policies(cam: Any, error_code: ErrorCode) -> None:
    alice = add_user(cam, "alice", UseApi=0)
    group_id = cam.CreateGroup(
        build(models.CreateGroupRequest, GroupName="devs", Remark="r")
    ).GroupId
    assert isinstance(group_id, int)

    cam.AddUserToGroup(
        build(models.AddUserToGroupRequest, Info=[{"GroupId": group_id, "Uin": alice.Uin}])
    )
    got = cam.GetGroup(build(models.GetGroupRequest, GroupId=group_id))
    assert (got.GroupName, got.Remark, got.GroupNum) == ("devs", "r", 1)
    assert [(m.Uin, m.Uid, m.Name) for m in got.UserInfo] == [(alice.Uin, alice.Uid, "alice")]

    listed = cam.ListGroups(build(models.ListGroupsRequest, Keyword="dev"))
    assert listed.TotalNum == 1
    assert listed.GroupInfo[0].GroupId == group_id

    mine = cam.ListGroupsForUser(build(models.ListGroupsForUserRequest, Uid=alice.Uid))
    assert [g.GroupId for g in mine.GroupInfo] == [group_id]
    members = cam.ListUsersForGroup(build(models.ListUsersForGroupRequest, GroupId=group_id))
    assert members.TotalNum == 1
    assert members.UserInfo[0].Uin == alice.Uin

    cam.AttachGroupPolicy(
        build(models.AttachGroupPolicyRequest, PolicyId=1, AttachGroupId=group_id)
    )
    policies = cam.ListAttachedGroupPolicies(
        build(models.ListAttachedGroupPoliciesRequest, TargetGroupId=group_id)
    )
    assert [(p.PolicyId, p.PolicyType) for p in policies.List] == [(1, "QCS")]
    cam.DetachGroupPolicy(
        build(models.DetachGroupPolicyRequest, PolicyId=1, DetachGroupId=group_id)
    )
    empty = cam.ListAttachedGroupPolicies(
        build(models.ListAttachedGroupPoliciesRequest, TargetGroupId=group_id)
    )
    assert empty.TotalNum == 0

    cam.RemoveUserFromGroup(
        build(models.RemoveUserFromGroupRequest, Info=[{"GroupId": group_id, "Uid": alice.Uid}])
    )
    assert cam.GetGroup(build(models.GetGroupRequest, GroupId=group_id)).GroupNum == 0
    cam.DeleteGroup(build(models.DeleteGroupRequest, GroupId=group_id))
    gone = build(models.GetGroupRequest, GroupId=group_id)
    assert error_code(lambda: cam.GetGroup(gone)) == "ResourceNotFound.UserNotExist"


def test_delete_group_with_members_drops_the_memberships(cam: Any, error_code: ErrorCode) -> None:
    """Neither DeleteGroup's error list nor its API page names a "group not empty" refusal, so
    the emulator keeps deleting a group that still has members; the users stay."""
    alice = add_user(cam, "alice", UseApi=0)
    group_id = cam.CreateGroup(build(models.CreateGroupRequest, GroupName="full")).GroupId
    cam.AddUserToGroup(
        build(models.AddUserToGroupRequest, Info=[{"GroupId": group_id, "Uin": alice.Uin}])
    )

    cam.DeleteGroup(build(models.DeleteGroupRequest, GroupId=group_id))
    gone = build(models.GetGroupRequest, GroupId=group_id)
    assert error_code(lambda: cam.GetGroup(gone)) == "ResourceNotFound.UserNotExist"
    assert cam.GetUser(build(models.GetUserRequest, Name="alice")).Uin == alice.Uin
    mine = cam.ListGroupsForUser(build(models.ListGroupsForUserRequest, Uid=alice.Uid))
    assert (mine.TotalNum, mine.GroupInfo) == (0, [])


def test_roles(cam: Any, emulator: RunningEmulator, error_code: ErrorCode) -> None:
    role_id = cam.CreateRole(
        build(
            models.CreateRoleRequest,
            RoleName="ci-role",
            PolicyDocument=TRUST,
            Description="ci",
            SessionDuration=3600,
            Tags=[{"Key": "team", "Value": "vault"}],
        )
    ).RoleId
    info = cam.GetRole(build(models.GetRoleRequest, RoleName="ci-role")).RoleInfo
    assert (info.RoleId, info.RoleName, info.SessionDuration) == (role_id, "ci-role", 3600)
    assert info.RoleArn == f"qcs::cam::uin/{emulator.owner_uin}:roleName/ci-role"
    assert [(t.Key, t.Value) for t in info.Tags] == [("team", "vault")]
    assert cam.GetRole(build(models.GetRoleRequest, RoleId=role_id)).RoleInfo.RoleName == "ci-role"

    listed = cam.DescribeRoleList(build(models.DescribeRoleListRequest, Page=1, Rp=200))
    assert "ci-role" in [r.RoleName for r in listed.List]
    assert listed.TotalNum == len(listed.List)

    cam.DeleteRole(build(models.DeleteRoleRequest, RoleName="ci-role"))
    missing = build(models.GetRoleRequest, RoleId=role_id)
    assert error_code(lambda: cam.GetRole(missing)) == "InvalidParameter.RoleNotExist"


def test_sub_user_keys_authenticate(sdk: Any) -> None:
    cam = sdk.cam()
    created = add_user(cam, "erin", UseApi=1)
    as_erin = sdk.sts(created.SecretId, created.SecretKey)
    from tencentcloud.sts.v20180813 import models as sts_models

    me = as_erin.GetCallerIdentity(sts_models.GetCallerIdentityRequest())
    assert me.UserId == str(created.Uin)
    assert me.Type == "CAMUser"
