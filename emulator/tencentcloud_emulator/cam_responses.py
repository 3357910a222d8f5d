"""CAM 2019-01-16: each handler is one line of the API reference (parameters, then model call,
then the documented response fields). Secrets appear only in the responses that hand them out
(AddUser with UseApi=1, CreateAccessKey)."""

from __future__ import annotations

from typing import Any

from .actions import Call, action
from .ids import cam_time
from .models import AccessKey, Account, Group, Policy, Role, User
from .params import Params, i, ints, objects, s
from .subjects import key_subject


def _sub_account(u: User) -> dict[str, Any]:
    return {
        "Uin": u.uin,
        "Name": u.name,
        "Uid": u.uid,
        "Remark": u.remark,
        "ConsoleLogin": u.console_login,
        "PhoneNum": u.phone_num,
        "CountryCode": u.country_code,
        "Email": u.email,
        "CreateTime": cam_time(u.create_time),
        "NickName": "",
    }


def _access_key(k: AccessKey) -> dict[str, Any]:
    return {
        "AccessKeyId": k.key_id,
        "Status": k.status,
        "CreateTime": cam_time(k.create_time),
        "Description": k.description,
    }


def _strategy(account: Account, p: Policy) -> dict[str, Any]:
    count = account.attachment_count(p.policy_id)
    return {
        "PolicyId": p.policy_id,
        "PolicyName": p.name,
        "AddTime": cam_time(p.add_time),
        "UpdateTime": cam_time(p.add_time),
        "Type": p.type,
        "Description": p.description,
        "CreateMode": p.create_mode,
        "Attachments": count,
        "ServiceType": p.service_type,
        "Deactived": 0,
        "DeactivedDetail": [],
        "IsServiceLinkedPolicy": 0,
        "AttachEntityCount": count,
        "AttachEntityBoundaryCount": 0,
        "Tags": [],
    }


def _attached(owner_uin: int, rows: list[tuple[Policy, float]]) -> list[dict[str, Any]]:
    return [
        {
            "PolicyId": p.policy_id,
            "PolicyName": p.name,
            "AddTime": cam_time(at),
            "CreateMode": p.create_mode,
            "PolicyType": "QCS" if p.preset else "User",
            "Remark": p.description,
            "OperateOwnerUin": str(owner_uin),
            "OperateUin": str(owner_uin),
            "OperateUinType": 0,
            "Deactived": 0,
            "DeactivedDetail": [],
        }
        for p, at in rows
    ]


def _group(g: Group) -> dict[str, Any]:
    return {
        "GroupId": g.group_id,
        "GroupName": g.name,
        "CreateTime": cam_time(g.create_time),
        "Remark": g.remark,
    }


def _member(u: User, joined: float) -> dict[str, Any]:
    return {
        "Uid": u.uid,
        "Uin": u.uin,
        "Name": u.name,
        "PhoneNum": u.phone_num,
        "CountryCode": u.country_code,
        "PhoneFlag": 0,
        "Email": u.email,
        "EmailFlag": 0,
        "UserType": 0,
        "CreateTime": cam_time(joined),
        "IsReceiverOwner": 0,
        "Remark": u.remark,
    }


def _role(owner_uin: int, r: Role) -> dict[str, Any]:
    return {
        "RoleId": r.role_id,
        "RoleName": r.name,
        "PolicyDocument": r.document,
        "Description": r.description,
        "AddTime": cam_time(r.add_time),
        "UpdateTime": cam_time(r.add_time),
        "ConsoleLogin": r.console_login,
        "RoleType": "user",
        "SessionDuration": r.session_duration,
        "Tags": [{"Key": k, "Value": v} for k, v in r.tags],
        "RoleArn": r.arn(owner_uin),
    }


def _tags(p: Params) -> list[tuple[str, str]]:
    return [(t.text("Key"), t.text("Value")) for t in p.objects("Tags")]


_TAG = (s("Key", required=True), s("Value", required=True))
_PAGING = (i("Page"), i("Rp"))

# ---- users -------------------------------------------------------------------------------


@action(
    "cam",
    "AddUser",
    s("Name", required=True),
    s("Remark"),
    i("ConsoleLogin"),
    i("UseApi"),
    s("Password"),
    i("NeedResetPassword"),
    s("PhoneNum"),
    s("CountryCode"),
    s("Email"),
)
def add_user(call: Call, p: Params) -> dict[str, Any]:
    # ConsoleLogin, UseApi and NeedResetPassword are 0/1 flags ("0: no, 1: yes") with no
    # documented default; an absent flag is 0, which is what the vendor's own Vault plugin
    # relies on (AddUser with a name only, then CreateAccessKey, then DeleteUser without
    # Force). NeedResetPassword has nothing to act on here: it is accepted and not stored.
    user, password, key = call.account.add_user(
        name=p.text("Name"),
        remark=p.text("Remark"),
        console_login=p.number("ConsoleLogin"),
        use_api=p.number("UseApi"),
        password=p.opt_text("Password"),
        phone_num=p.text("PhoneNum"),
        country_code=p.text("CountryCode"),
        email=p.text("Email"),
    )
    out: dict[str, Any] = {"Uin": user.uin, "Name": user.name, "Uid": user.uid}
    if password is not None:
        out["Password"] = password
    if key is not None:
        out["SecretId"], out["SecretKey"] = key.key_id, key.secret
    return out


@action("cam", "GetUser", s("Name", required=True))
def get_user(call: Call, p: Params) -> dict[str, Any]:
    info = _sub_account(call.account.get_user(p.text("Name")))
    del info["CreateTime"], info["NickName"]
    return {**info, "RecentlyLoginIP": "", "RecentlyLoginTime": ""}


@action("cam", "ListUsers")
def list_users(call: Call, p: Params) -> dict[str, Any]:
    return {"Data": [_sub_account(u) for u in call.account.list_users()]}


@action("cam", "DeleteUser", s("Name", required=True), i("Force"))
def delete_user(call: Call, p: Params) -> dict[str, Any]:
    call.account.delete_user(p.text("Name"), force=p.number("Force") == 1)
    return {}


# ---- access keys ---------------------------------------------------------------------------


@action("cam", "CreateAccessKey", i("TargetUin"), s("Description"))
def create_access_key(call: Call, p: Params) -> dict[str, Any]:
    key = call.account.create_access_key(
        uin=key_subject(call.caller, p.opt_number("TargetUin")),
        description=p.text("Description"),
    )
    return {"AccessKey": {**_access_key(key), "SecretAccessKey": key.secret}}


@action("cam", "DeleteAccessKey", s("AccessKeyId", required=True), i("TargetUin"))
def delete_access_key(call: Call, p: Params) -> dict[str, Any]:
    call.account.delete_access_key(
        key_id=p.text("AccessKeyId"), uin=key_subject(call.caller, p.opt_number("TargetUin"))
    )
    return {}


@action(
    "cam",
    "UpdateAccessKey",
    s("AccessKeyId", required=True),
    s("Status", required=True),
    i("TargetUin"),
)
def update_access_key(call: Call, p: Params) -> dict[str, Any]:
    call.account.update_access_key(
        key_id=p.text("AccessKeyId"),
        status=p.text("Status"),
        uin=key_subject(call.caller, p.opt_number("TargetUin")),
    )
    return {}


@action("cam", "ListAccessKeys", i("TargetUin"))
def list_access_keys(call: Call, p: Params) -> dict[str, Any]:
    keys = call.account.list_access_keys(key_subject(call.caller, p.opt_number("TargetUin")))
    return {"AccessKeys": [_access_key(k) for k in keys]}


# ---- policies ------------------------------------------------------------------------------


@action(
    "cam",
    "CreatePolicy",
    s("PolicyName", required=True),
    s("PolicyDocument", required=True),
    s("Description"),
    objects("Tags", *_TAG),
)
def create_policy(call: Call, p: Params) -> dict[str, Any]:
    policy = call.account.create_policy(
        name=p.text("PolicyName"),
        document=p.text("PolicyDocument"),
        description=p.text("Description"),
    )
    return {"PolicyId": policy.policy_id}


@action("cam", "DeletePolicy", ints("PolicyId", required=True))
def delete_policy(call: Call, p: Params) -> dict[str, Any]:
    call.account.delete_policies(p.numbers("PolicyId"))
    return {}


@action("cam", "GetPolicy", i("PolicyId", required=True))
def get_policy(call: Call, p: Params) -> dict[str, Any]:
    policy = call.account.get_policy(p.number("PolicyId"))
    return {
        "PolicyName": policy.name,
        "Description": policy.description,
        "Type": policy.type,
        "AddTime": cam_time(policy.add_time),
        "UpdateTime": cam_time(policy.add_time),
        "PolicyDocument": policy.document,
        "PresetAlias": policy.name if policy.preset else "",
        "IsServiceLinkedRolePolicy": 0,
        "Tags": [],
    }


@action("cam", "ListPolicies", *_PAGING, s("Scope"), s("Keyword"))
def list_policies(call: Call, p: Params) -> dict[str, Any]:
    total, rows = call.account.list_policies(
        scope=p.text("Scope", "All"),
        keyword=p.text("Keyword"),
        page_no=p.number("Page", 1),
        rp=p.number("Rp", 20),
    )
    services = sorted({r.service_type for r in rows if r.service_type})
    return {
        "TotalNum": total,
        "List": [_strategy(call.account, r) for r in rows],
        "ServiceTypeList": services,
    }


@action("cam", "AttachUserPolicy", i("PolicyId", required=True), i("AttachUin", required=True))
def attach_user_policy(call: Call, p: Params) -> dict[str, Any]:
    call.account.attach_user_policy(policy_id=p.number("PolicyId"), uin=p.number("AttachUin"))
    return {}


@action("cam", "DetachUserPolicy", i("PolicyId", required=True), i("DetachUin", required=True))
def detach_user_policy(call: Call, p: Params) -> dict[str, Any]:
    call.account.detach_user_policy(policy_id=p.number("PolicyId"), uin=p.number("DetachUin"))
    return {}


@action("cam", "ListAttachedUserPolicies", i("TargetUin", required=True), *_PAGING)
def list_attached_user_policies(call: Call, p: Params) -> dict[str, Any]:
    total, rows = call.account.attached_user_policies(
        uin=p.number("TargetUin"), page_no=p.number("Page", 1), rp=p.number("Rp", 20)
    )
    return {"TotalNum": total, "List": _attached(call.account.owner_uin, rows)}


# ---- groups --------------------------------------------------------------------------------

_MEMBERSHIP = objects("Info", i("GroupId", required=True), i("Uid"), i("Uin"), required=True)


def _pairs(p: Params) -> list[tuple[int, int | None, int | None]]:
    return [
        (x.number("GroupId"), x.opt_number("Uid"), x.opt_number("Uin")) for x in p.objects("Info")
    ]


@action("cam", "CreateGroup", s("GroupName", required=True), s("Remark"))
def create_group(call: Call, p: Params) -> dict[str, Any]:
    group = call.account.create_group(name=p.text("GroupName"), remark=p.text("Remark"))
    return {"GroupId": group.group_id}


@action("cam", "DeleteGroup", i("GroupId", required=True))
def delete_group(call: Call, p: Params) -> dict[str, Any]:
    call.account.delete_group(p.number("GroupId"))
    return {}


@action("cam", "GetGroup", i("GroupId", required=True))
def get_group(call: Call, p: Params) -> dict[str, Any]:
    group = call.account.get_group(p.number("GroupId"))
    members = [
        _member(u, at) for uin, at in group.members.items() if (u := call.account.user_by_uin(uin))
    ]
    return {**_group(group), "GroupNum": len(members), "UserInfo": members}


@action("cam", "ListGroups", *_PAGING, s("Keyword"))
def list_groups(call: Call, p: Params) -> dict[str, Any]:
    total, rows = call.account.list_groups(
        keyword=p.text("Keyword"), page_no=p.number("Page", 1), rp=p.number("Rp", 20)
    )
    return {"TotalNum": total, "GroupInfo": [_group(g) for g in rows]}


@action("cam", "AttachGroupPolicy", i("PolicyId", required=True), i("AttachGroupId", required=True))
def attach_group_policy(call: Call, p: Params) -> dict[str, Any]:
    call.account.attach_group_policy(
        policy_id=p.number("PolicyId"), group_id=p.number("AttachGroupId")
    )
    return {}


@action("cam", "DetachGroupPolicy", i("PolicyId", required=True), i("DetachGroupId", required=True))
def detach_group_policy(call: Call, p: Params) -> dict[str, Any]:
    call.account.detach_group_policy(
        policy_id=p.number("PolicyId"), group_id=p.number("DetachGroupId")
    )
    return {}


@action(
    "cam", "ListAttachedGroupPolicies", i("TargetGroupId", required=True), *_PAGING, s("Keyword")
)
def list_attached_group_policies(call: Call, p: Params) -> dict[str, Any]:
    total, rows = call.account.attached_group_policies(
        group_id=p.number("TargetGroupId"),
        keyword=p.text("Keyword"),
        page_no=p.number("Page", 1),
        rp=p.number("Rp", 20),
    )
    return {"TotalNum": total, "List": _attached(call.account.owner_uin, rows)}


@action("cam", "AddUserToGroup", _MEMBERSHIP)
def add_user_to_group(call: Call, p: Params) -> dict[str, Any]:
    call.account.add_users_to_groups(_pairs(p))
    return {}


@action("cam", "RemoveUserFromGroup", _MEMBERSHIP)
def remove_user_from_group(call: Call, p: Params) -> dict[str, Any]:
    call.account.remove_users_from_groups(_pairs(p))
    return {}


@action("cam", "ListGroupsForUser", i("Uid"), *_PAGING, i("SubUin"))
def list_groups_for_user(call: Call, p: Params) -> dict[str, Any]:
    total, rows = call.account.groups_for_user(
        uid=p.opt_number("Uid"),
        sub_uin=p.opt_number("SubUin"),
        page_no=p.number("Page", 1),
        rp=p.number("Rp", 20),
    )
    return {"TotalNum": total, "GroupInfo": [_group(g) for g in rows]}


@action("cam", "ListUsersForGroup", i("GroupId", required=True), *_PAGING)
def list_users_for_group(call: Call, p: Params) -> dict[str, Any]:
    account = call.account
    total, rows = account.users_for_group(
        group_id=p.number("GroupId"), page_no=p.number("Page", 1), rp=p.number("Rp", 20)
    )
    group = account.get_group(p.number("GroupId"))
    return {"TotalNum": total, "UserInfo": [_member(u, group.members[u.uin]) for u in rows]}


# ---- roles ---------------------------------------------------------------------------------


@action("cam", "GetRole", s("RoleId"), s("RoleName"))
def get_role(call: Call, p: Params) -> dict[str, Any]:
    role = call.account.find_role(role_id=p.opt_text("RoleId"), role_name=p.opt_text("RoleName"))
    return {"RoleInfo": _role(call.account.owner_uin, role)}


@action(
    "cam",
    "CreateRole",
    s("RoleName", required=True),
    s("PolicyDocument", required=True),
    s("Description"),
    i("ConsoleLogin"),
    i("SessionDuration"),
    objects("Tags", *_TAG),
)
def create_role(call: Call, p: Params) -> dict[str, Any]:
    role = call.account.create_role(
        name=p.text("RoleName"),
        document=p.text("PolicyDocument"),
        description=p.text("Description"),
        console_login=p.number("ConsoleLogin"),
        session_duration=p.opt_number("SessionDuration"),
        tags=_tags(p),
    )
    return {"RoleId": role.role_id}


@action(
    "cam",
    "AttachRolePolicy",
    i("PolicyId"),
    s("AttachRoleId"),
    s("AttachRoleName"),
    s("PolicyName"),
)
def attach_role_policy(call: Call, p: Params) -> dict[str, Any]:
    call.account.attach_role_policy(
        policy_id=p.opt_number("PolicyId"),
        policy_name=p.opt_text("PolicyName"),
        role_id=p.opt_text("AttachRoleId"),
        role_name=p.opt_text("AttachRoleName"),
    )
    return {}


@action(
    "cam",
    "DetachRolePolicy",
    i("PolicyId"),
    s("DetachRoleId"),
    s("DetachRoleName"),
    s("PolicyName"),
)
def detach_role_policy(call: Call, p: Params) -> dict[str, Any]:
    call.account.detach_role_policy(
        policy_id=p.opt_number("PolicyId"),
        policy_name=p.opt_text("PolicyName"),
        role_id=p.opt_text("DetachRoleId"),
        role_name=p.opt_text("DetachRoleName"),
    )
    return {}


@action("cam", "DeleteRole", s("RoleId"), s("RoleName"))
def delete_role(call: Call, p: Params) -> dict[str, Any]:
    call.account.delete_role(role_id=p.opt_text("RoleId"), role_name=p.opt_text("RoleName"))
    return {}


@action(
    "cam",
    "DescribeRoleList",
    i("Page", required=True),
    i("Rp", required=True),
    objects("Tags", *_TAG),
)
def describe_role_list(call: Call, p: Params) -> dict[str, Any]:
    total, rows = call.account.list_roles(
        page_no=p.number("Page"), rp=p.number("Rp"), tags=_tags(p)
    )
    return {"List": [_role(call.account.owner_uin, r) for r in rows], "TotalNum": total}
