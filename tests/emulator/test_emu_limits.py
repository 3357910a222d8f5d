"""Quotas, limits, name rules and deletion semantics, with the real error codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tencentcloud.cam.v20190116 import models

from tencentcloud_emulator.testing import RunningEmulator
from tests.support.sdk import build

ErrorCode = Callable[[Callable[[], object]], str]
DOC = json.dumps(
    {"version": "2.0", "statement": [{"effect": "allow", "action": "cos:*", "resource": "*"}]}
)


def add_user(cam: Any, name: str, use_api: int = 0) -> Any:
    return cam.AddUser(build(models.AddUserRequest, Name=name, UseApi=use_api))


def test_sub_user_quota_and_names(
    sdk: Any, emulator: RunningEmulator, error_code: ErrorCode
) -> None:
    emulator.set_quotas(sub_users=2)
    cam = sdk.cam()
    add_user(cam, "u1")
    assert error_code(lambda: add_user(cam, "u1")) == "InvalidParameter.SubUserNameInUse"
    add_user(cam, "u2")
    assert error_code(lambda: add_user(cam, "u3")) == "InvalidParameter.SubUserFull"
    assert error_code(lambda: add_user(cam, "bad name")) == "InvalidParameter.UserNameIllegal"
    assert error_code(lambda: add_user(cam, "x" * 65)) == "InvalidParameter.UserNameIllegal"


def test_two_access_keys_per_user(sdk: Any, error_code: ErrorCode) -> None:
    cam = sdk.cam()
    uin = add_user(cam, "keys", use_api=1).Uin
    cam.CreateAccessKey(build(models.CreateAccessKeyRequest, TargetUin=uin))
    third = build(models.CreateAccessKeyRequest, TargetUin=uin)
    assert error_code(lambda: cam.CreateAccessKey(third)) == "OperationDenied.AccessKeyOverLimit"
    ghost = build(models.CreateAccessKeyRequest, TargetUin=1)
    assert error_code(lambda: cam.CreateAccessKey(ghost)) == "InvalidParameter.UserNotExist"


def test_policy_quota_names_and_attachment_limit(
    sdk: Any, emulator: RunningEmulator, error_code: ErrorCode
) -> None:
    emulator.set_quotas(custom_policies=2, policies_per_user=2)
    cam = sdk.cam()

    def create(name: str) -> Any:
        return cam.CreatePolicy(
            build(models.CreatePolicyRequest, PolicyName=name, PolicyDocument=DOC)
        )

    first, second = create("p1").PolicyId, create("p2").PolicyId
    assert error_code(lambda: create("p1")) == "FailedOperation.PolicyNameInUse"
    assert error_code(lambda: create("AdministratorAccess")) == "FailedOperation.PolicyNameInUse"
    assert error_code(lambda: create("p3")) == "FailedOperation.PolicyFull"
    assert error_code(lambda: create("bad name!")) == "InvalidParameter.PolicyNameError"

    uin = add_user(cam, "attached").Uin
    for policy_id in (first, second):
        cam.AttachUserPolicy(
            build(models.AttachUserPolicyRequest, PolicyId=policy_id, AttachUin=uin)
        )
    full = build(models.AttachUserPolicyRequest, PolicyId=1, AttachUin=uin)
    assert error_code(lambda: cam.AttachUserPolicy(full)) == "InvalidParameter.AttachmentFull"
    again = build(models.AttachUserPolicyRequest, PolicyId=first, AttachUin=uin)
    cam.AttachUserPolicy(again)  # re-attaching is idempotent
    nobody = build(models.AttachUserPolicyRequest, PolicyId=first, AttachUin=42)
    assert error_code(lambda: cam.AttachUserPolicy(nobody)) == "ResourceNotFound.UserNotExist"
    no_policy = build(models.AttachUserPolicyRequest, PolicyId=9, AttachUin=uin)
    assert (
        error_code(lambda: cam.AttachUserPolicy(no_policy)) == "ResourceNotFound.PolicyIdNotFound"
    )


def test_list_policies_limits(sdk: Any, error_code: ErrorCode) -> None:
    cam = sdk.cam()
    big = build(models.ListPoliciesRequest, Rp=201)
    assert error_code(lambda: cam.ListPolicies(big)) == "InvalidParameter.ParamError"
    scope = build(models.ListPoliciesRequest, Scope="Everything")
    assert error_code(lambda: cam.ListPolicies(scope)) == "InvalidParameter.ScopeError"


def test_group_quota(sdk: Any, emulator: RunningEmulator, error_code: ErrorCode) -> None:
    emulator.set_quotas(groups=1)
    cam = sdk.cam()
    cam.CreateGroup(build(models.CreateGroupRequest, GroupName="g1"))
    dup = build(models.CreateGroupRequest, GroupName="g1")
    assert error_code(lambda: cam.CreateGroup(dup)) == "InvalidParameter.GroupNameInUse"
    more = build(models.CreateGroupRequest, GroupName="g2")
    assert error_code(lambda: cam.CreateGroup(more)) == "InvalidParameter.GroupFull"
    ghost = build(models.AddUserToGroupRequest, Info=[{"GroupId": 1, "Uin": 1}])
    assert error_code(lambda: cam.AddUserToGroup(ghost)) == "InvalidParameter.GroupNotExist"


def test_delete_user_semantics(sdk: Any, emulator: RunningEmulator, error_code: ErrorCode) -> None:
    cam = sdk.cam()
    user = add_user(cam, "leaver", use_api=1)
    policy_id = cam.CreatePolicy(
        build(models.CreatePolicyRequest, PolicyName="lp", PolicyDocument=DOC)
    ).PolicyId
    cam.AttachUserPolicy(
        build(models.AttachUserPolicyRequest, PolicyId=policy_id, AttachUin=user.Uin)
    )
    group_id = cam.CreateGroup(build(models.CreateGroupRequest, GroupName="team")).GroupId
    cam.AddUserToGroup(
        build(models.AddUserToGroupRequest, Info=[{"GroupId": group_id, "Uin": user.Uin}])
    )

    plain = build(models.DeleteUserRequest, Name="leaver")
    assert error_code(lambda: cam.DeleteUser(plain)) == "OperationDenied.HaveKeys"
    cam.DeleteUser(build(models.DeleteUserRequest, Name="leaver", Force=1))

    account = emulator.state["accounts"][0]
    assert user.SecretId not in [k["AccessKeyId"] for k in account["AccessKeys"]]
    assert [g["MemberUins"] for g in account["Groups"]] == [[]]
    members = cam.ListUsersForGroup(build(models.ListUsersForGroupRequest, GroupId=group_id))
    assert members.TotalNum == 0
    policies = cam.ListPolicies(build(models.ListPoliciesRequest, Scope="Local"))
    assert policies.List[0].AttachEntityCount == 0
    assert error_code(lambda: cam.DeleteUser(plain)) == "ResourceNotFound.UserNotExist"
    listing = build(models.ListAttachedUserPoliciesRequest, TargetUin=user.Uin)
    assert (
        error_code(lambda: cam.ListAttachedUserPolicies(listing)) == "InvalidParameter.ParamError"
    )


def test_delete_user_without_keys_needs_no_force(sdk: Any) -> None:
    cam = sdk.cam()
    add_user(cam, "keyless")
    cam.DeleteUser(build(models.DeleteUserRequest, Name="keyless"))
    assert cam.ListUsers(models.ListUsersRequest()).Data == []


def test_delete_policy_detaches_and_rejects_presets(sdk: Any, error_code: ErrorCode) -> None:
    cam = sdk.cam()
    uin = add_user(cam, "holder").Uin
    policy_id = cam.CreatePolicy(
        build(models.CreatePolicyRequest, PolicyName="dp", PolicyDocument=DOC)
    ).PolicyId
    cam.AttachUserPolicy(build(models.AttachUserPolicyRequest, PolicyId=policy_id, AttachUin=uin))
    preset = build(models.DeletePolicyRequest, PolicyId=[1])
    assert error_code(lambda: cam.DeletePolicy(preset)) == "InvalidParameter.PolicyIdError"
    mixed = build(models.DeletePolicyRequest, PolicyId=[policy_id, 999])
    assert error_code(lambda: cam.DeletePolicy(mixed)) == "ResourceNotFound.PolicyIdNotFound"
    cam.DeletePolicy(build(models.DeletePolicyRequest, PolicyId=[policy_id]))
    attached = cam.ListAttachedUserPolicies(
        build(models.ListAttachedUserPoliciesRequest, TargetUin=uin)
    )
    assert attached.TotalNum == 0


def test_role_name_and_trust_policy_errors(sdk: Any, error_code: ErrorCode) -> None:
    cam = sdk.cam()

    def create(name: str, document: str) -> Callable[[], object]:
        request = build(models.CreateRoleRequest, RoleName=name, PolicyDocument=document)
        return lambda: cam.CreateRole(request)

    assert error_code(create("bad role", DOC)) == "InvalidParameter.RoleNameError"
    assert error_code(create("r1", DOC)) == "InvalidParameter.PrincipalError"
    trust = json.dumps(
        {
            "version": "2.0",
            "statement": [
                {
                    "effect": "allow",
                    "action": "name/sts:AssumeRole",
                    "principal": {"qcs": "qcs::cam::uin/1:root"},
                }
            ],
        }
    )
    create("r1", trust)()
    assert error_code(create("r1", trust)) == "InvalidParameter.RoleNameInUse"
