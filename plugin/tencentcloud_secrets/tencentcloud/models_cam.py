"""Inputs and outputs of the CAM (2019-01-16) actions, with their wire names in one place.

Field names follow the official SDK's models; requests are frozen values. Secret fields
(passwords, secret keys) are excluded from reprs so a logged object never leaks one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ._wire import Tag, flag, items, opt_bool, opt_int, opt_str, params, req_int, req_str

# ---- users -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AddUserRequest:
    name: str
    remark: str | None = None
    console_login: bool = False
    use_api: bool = False
    password: str | None = dataclasses.field(default=None, repr=False)
    need_reset_password: bool | None = None
    phone_num: str | None = None
    country_code: str | None = None
    email: str | None = None

    def to_params(self) -> dict[str, Any]:
        return params(
            Name=self.name,
            Remark=self.remark,
            ConsoleLogin=flag(self.console_login),
            UseApi=flag(self.use_api),
            Password=self.password,
            NeedResetPassword=flag(self.need_reset_password),
            PhoneNum=self.phone_num,
            CountryCode=self.country_code,
            Email=self.email,
        )


@dataclasses.dataclass(frozen=True)
class AddUserResult:
    """``recovered`` is True when the answer was lost and the user was found afterwards."""

    uin: int
    name: str
    uid: int | None
    secret_id: str | None = None
    secret_key: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)
    recovered: bool = False

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AddUserResult:
        return cls(
            uin=req_int(data, "Uin"),
            name=req_str(data, "Name"),
            uid=opt_int(data, "Uid"),
            secret_id=opt_str(data, "SecretId") or None,
            secret_key=opt_str(data, "SecretKey") or None,
            password=opt_str(data, "Password") or None,
        )


@dataclasses.dataclass(frozen=True)
class SubUser:
    uin: int
    name: str
    uid: int | None = None
    remark: str | None = None
    console_login: bool | None = None
    phone_num: str | None = None
    country_code: str | None = None
    email: str | None = None
    create_time: str | None = None
    nick_name: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SubUser:
        return cls(
            uin=req_int(data, "Uin"),
            name=req_str(data, "Name"),
            uid=opt_int(data, "Uid"),
            remark=opt_str(data, "Remark"),
            console_login=opt_bool(data, "ConsoleLogin"),
            phone_num=opt_str(data, "PhoneNum"),
            country_code=opt_str(data, "CountryCode"),
            email=opt_str(data, "Email"),
            create_time=opt_str(data, "CreateTime"),
            nick_name=opt_str(data, "NickName"),
        )


@dataclasses.dataclass(frozen=True)
class GetUserRequest:
    name: str

    def to_params(self) -> dict[str, Any]:
        return params(Name=self.name)


@dataclasses.dataclass(frozen=True)
class DeleteUserRequest:
    """``force`` also deletes the user's API keys (otherwise OperationDenied.HaveKeys)."""

    name: str
    force: bool = False

    def to_params(self) -> dict[str, Any]:
        return params(Name=self.name, Force=flag(self.force))


# ---- access keys -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CreateAccessKeyRequest:
    """A unique ``description`` lets a create whose answer was lost be reconciled."""

    target_uin: int | None = None
    description: str | None = None

    def to_params(self) -> dict[str, Any]:
        return params(TargetUin=self.target_uin, Description=self.description)


@dataclasses.dataclass(frozen=True)
class AccessKeyDetail:
    access_key_id: str
    secret_access_key: str = dataclasses.field(repr=False)
    status: str | None = None
    create_time: str | None = None
    description: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AccessKeyDetail:
        return cls(
            access_key_id=req_str(data, "AccessKeyId"),
            secret_access_key=req_str(data, "SecretAccessKey"),
            status=opt_str(data, "Status"),
            create_time=opt_str(data, "CreateTime"),
            description=opt_str(data, "Description"),
        )


@dataclasses.dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    status: str | None = None
    create_time: str | None = None
    description: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AccessKey:
        return cls(
            access_key_id=req_str(data, "AccessKeyId"),
            status=opt_str(data, "Status"),
            create_time=opt_str(data, "CreateTime"),
            description=opt_str(data, "Description"),
        )


@dataclasses.dataclass(frozen=True)
class DeleteAccessKeyRequest:
    access_key_id: str
    target_uin: int | None = None

    def to_params(self) -> dict[str, Any]:
        return params(AccessKeyId=self.access_key_id, TargetUin=self.target_uin)


@dataclasses.dataclass(frozen=True)
class ListAccessKeysRequest:
    target_uin: int | None = None

    def to_params(self) -> dict[str, Any]:
        return params(TargetUin=self.target_uin)


@dataclasses.dataclass(frozen=True)
class UpdateAccessKeyRequest:
    """``status`` is ``Active`` or ``Inactive``."""

    access_key_id: str
    status: str
    target_uin: int | None = None

    def to_params(self) -> dict[str, Any]:
        return params(AccessKeyId=self.access_key_id, Status=self.status, TargetUin=self.target_uin)


# ---- policies ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CreatePolicyRequest:
    policy_name: str
    policy_document: str
    description: str | None = None
    tags: tuple[Tag, ...] = ()

    def to_params(self) -> dict[str, Any]:
        return params(
            PolicyName=self.policy_name,
            PolicyDocument=self.policy_document,
            Description=self.description,
            Tags=[t.to_wire() for t in self.tags] or None,
        )


@dataclasses.dataclass(frozen=True)
class CreatePolicyResult:
    policy_id: int
    recovered: bool = False


@dataclasses.dataclass(frozen=True)
class DeletePolicyRequest:
    """One call deletes several policies."""

    policy_ids: tuple[int, ...]

    def to_params(self) -> dict[str, Any]:
        return params(PolicyId=list(self.policy_ids))


@dataclasses.dataclass(frozen=True)
class GetPolicyRequest:
    policy_id: int

    def to_params(self) -> dict[str, Any]:
        return params(PolicyId=self.policy_id)


@dataclasses.dataclass(frozen=True)
class Policy:
    """``type`` is 1 for a custom policy, 2 for a preset one."""

    policy_id: int
    policy_name: str
    policy_document: str | None = None
    description: str | None = None
    type: int | None = None
    add_time: str | None = None
    update_time: str | None = None
    tags: tuple[Tag, ...] = ()

    @classmethod
    def from_wire(cls, policy_id: int, data: Mapping[str, Any]) -> Policy:
        return cls(
            policy_id=policy_id,
            policy_name=req_str(data, "PolicyName"),
            policy_document=opt_str(data, "PolicyDocument"),
            description=opt_str(data, "Description"),
            type=opt_int(data, "Type"),
            add_time=opt_str(data, "AddTime"),
            update_time=opt_str(data, "UpdateTime"),
            tags=tuple(Tag.from_wire(t) for t in items(data, "Tags")),
        )


@dataclasses.dataclass(frozen=True)
class ListPoliciesRequest:
    """``keyword`` is a substring search; ``scope`` is All, QCS or Local; ``rp`` <= 200."""

    rp: int | None = None
    page: int | None = None
    scope: str | None = None
    keyword: str | None = None

    def to_params(self) -> dict[str, Any]:
        return params(Rp=self.rp, Page=self.page, Scope=self.scope, Keyword=self.keyword)


@dataclasses.dataclass(frozen=True)
class PolicySummary:
    policy_id: int
    policy_name: str
    type: int | None = None
    description: str | None = None
    add_time: str | None = None
    create_mode: int | None = None
    attachments: int | None = None
    service_type: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PolicySummary:
        return cls(
            policy_id=req_int(data, "PolicyId"),
            policy_name=req_str(data, "PolicyName"),
            type=opt_int(data, "Type"),
            description=opt_str(data, "Description"),
            add_time=opt_str(data, "AddTime"),
            create_mode=opt_int(data, "CreateMode"),
            attachments=opt_int(data, "Attachments"),
            service_type=opt_str(data, "ServiceType"),
        )


@dataclasses.dataclass(frozen=True)
class PolicyPage:
    total_num: int
    policies: tuple[PolicySummary, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PolicyPage:
        return cls(
            total_num=opt_int(data, "TotalNum") or 0,
            policies=tuple(PolicySummary.from_wire(p) for p in items(data, "List")),
        )


@dataclasses.dataclass(frozen=True)
class AttachUserPolicyRequest:
    policy_id: int
    attach_uin: int

    def to_params(self) -> dict[str, Any]:
        return params(PolicyId=self.policy_id, AttachUin=self.attach_uin)


@dataclasses.dataclass(frozen=True)
class DetachUserPolicyRequest:
    policy_id: int
    detach_uin: int

    def to_params(self) -> dict[str, Any]:
        return params(PolicyId=self.policy_id, DetachUin=self.detach_uin)


@dataclasses.dataclass(frozen=True)
class ListAttachedUserPoliciesRequest:
    target_uin: int
    page: int | None = None
    rp: int | None = None

    def to_params(self) -> dict[str, Any]:
        return params(TargetUin=self.target_uin, Page=self.page, Rp=self.rp)


@dataclasses.dataclass(frozen=True)
class AttachedPolicy:
    policy_id: int
    policy_name: str | None = None
    add_time: str | None = None
    create_mode: int | None = None
    policy_type: str | None = None
    remark: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AttachedPolicy:
        return cls(
            policy_id=req_int(data, "PolicyId"),
            policy_name=opt_str(data, "PolicyName"),
            add_time=opt_str(data, "AddTime"),
            create_mode=opt_int(data, "CreateMode"),
            policy_type=opt_str(data, "PolicyType"),
            remark=opt_str(data, "Remark"),
        )


@dataclasses.dataclass(frozen=True)
class AttachedPolicyPage:
    total_num: int
    policies: tuple[AttachedPolicy, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AttachedPolicyPage:
        return cls(
            total_num=opt_int(data, "TotalNum") or 0,
            policies=tuple(AttachedPolicy.from_wire(p) for p in items(data, "List")),
        )


# ---- groups ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CreateGroupRequest:
    group_name: str
    remark: str | None = None

    def to_params(self) -> dict[str, Any]:
        return params(GroupName=self.group_name, Remark=self.remark)


@dataclasses.dataclass(frozen=True)
class CreateGroupResult:
    group_id: int
    recovered: bool = False


@dataclasses.dataclass(frozen=True)
class DeleteGroupRequest:
    group_id: int

    def to_params(self) -> dict[str, Any]:
        return params(GroupId=self.group_id)


@dataclasses.dataclass(frozen=True)
class ListGroupsRequest:
    page: int | None = None
    rp: int | None = None
    keyword: str | None = None

    def to_params(self) -> dict[str, Any]:
        return params(Page=self.page, Rp=self.rp, Keyword=self.keyword)


@dataclasses.dataclass(frozen=True)
class Group:
    group_id: int
    group_name: str
    create_time: str | None = None
    remark: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Group:
        return cls(
            group_id=req_int(data, "GroupId"),
            group_name=req_str(data, "GroupName"),
            create_time=opt_str(data, "CreateTime"),
            remark=opt_str(data, "Remark"),
        )


@dataclasses.dataclass(frozen=True)
class GroupPage:
    total_num: int
    groups: tuple[Group, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> GroupPage:
        return cls(
            total_num=opt_int(data, "TotalNum") or 0,
            groups=tuple(Group.from_wire(g) for g in items(data, "GroupInfo")),
        )


@dataclasses.dataclass(frozen=True)
class ListUsersForGroupRequest:
    group_id: int
    page: int | None = None
    rp: int | None = None

    def to_params(self) -> dict[str, Any]:
        return params(GroupId=self.group_id, Page=self.page, Rp=self.rp)


@dataclasses.dataclass(frozen=True)
class GroupMember:
    uin: int
    name: str | None = None
    uid: int | None = None
    remark: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> GroupMember:
        return cls(
            uin=req_int(data, "Uin"),
            name=opt_str(data, "Name"),
            uid=opt_int(data, "Uid"),
            remark=opt_str(data, "Remark"),
        )


@dataclasses.dataclass(frozen=True)
class GroupMemberPage:
    """``total_num`` counts every member, whatever the page size."""

    total_num: int
    members: tuple[GroupMember, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> GroupMemberPage:
        return cls(
            total_num=opt_int(data, "TotalNum") or 0,
            members=tuple(GroupMember.from_wire(u) for u in items(data, "UserInfo")),
        )


@dataclasses.dataclass(frozen=True)
class ListAttachedGroupPoliciesRequest:
    target_group_id: int
    page: int | None = None
    rp: int | None = None

    def to_params(self) -> dict[str, Any]:
        return params(TargetGroupId=self.target_group_id, Page=self.page, Rp=self.rp)


@dataclasses.dataclass(frozen=True)
class AttachGroupPolicyRequest:
    policy_id: int
    attach_group_id: int

    def to_params(self) -> dict[str, Any]:
        return params(PolicyId=self.policy_id, AttachGroupId=self.attach_group_id)


@dataclasses.dataclass(frozen=True)
class DetachGroupPolicyRequest:
    policy_id: int
    detach_group_id: int

    def to_params(self) -> dict[str, Any]:
        return params(PolicyId=self.policy_id, DetachGroupId=self.detach_group_id)


@dataclasses.dataclass(frozen=True)
class GroupMembership:
    """One (group, user) pair; the user is named by ``uid`` or ``uin``."""

    group_id: int
    uid: int | None = None
    uin: int | None = None

    def __post_init__(self) -> None:
        if self.uid is None and self.uin is None:
            raise ValueError("a group membership needs uid or uin")

    def to_wire(self) -> dict[str, Any]:
        return params(GroupId=self.group_id, Uid=self.uid, Uin=self.uin)


@dataclasses.dataclass(frozen=True)
class AddUserToGroupRequest:
    info: tuple[GroupMembership, ...]

    def to_params(self) -> dict[str, Any]:
        return params(Info=[m.to_wire() for m in self.info])


@dataclasses.dataclass(frozen=True)
class RemoveUserFromGroupRequest:
    info: tuple[GroupMembership, ...]

    def to_params(self) -> dict[str, Any]:
        return params(Info=[m.to_wire() for m in self.info])


# ---- roles -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GetRoleRequest:
    role_id: str | None = None
    role_name: str | None = None

    def __post_init__(self) -> None:
        if self.role_id is None and self.role_name is None:
            raise ValueError("GetRole needs role_id or role_name")

    def to_params(self) -> dict[str, Any]:
        return params(RoleId=self.role_id, RoleName=self.role_name)


@dataclasses.dataclass(frozen=True)
class Role:
    role_id: str
    role_name: str
    role_arn: str | None = None
    policy_document: str | None = None
    description: str | None = None
    add_time: str | None = None
    update_time: str | None = None
    console_login: bool | None = None
    role_type: str | None = None
    session_duration: int | None = None
    tags: tuple[Tag, ...] = ()

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Role:
        return cls(
            role_id=req_str(data, "RoleId"),
            role_name=req_str(data, "RoleName"),
            role_arn=opt_str(data, "RoleArn"),
            policy_document=opt_str(data, "PolicyDocument"),
            description=opt_str(data, "Description"),
            add_time=opt_str(data, "AddTime"),
            update_time=opt_str(data, "UpdateTime"),
            console_login=opt_bool(data, "ConsoleLogin"),
            role_type=opt_str(data, "RoleType"),
            session_duration=opt_int(data, "SessionDuration"),
            tags=tuple(Tag.from_wire(t) for t in items(data, "Tags")),
        )
