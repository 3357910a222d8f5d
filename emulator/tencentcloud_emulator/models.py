"""The emulated cloud's state and the CAM operations on an account.

Plain objects, no wire format: ``responses`` turns parameters into calls here and results into
JSON. Every operation checks its inputs in the order the real service does and raises
``ApiError`` with the real code. The world lock is taken by the caller (one call at a time
mutates state), so nothing here locks.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections.abc import Iterable
from typing import Any, Literal

from . import ids, policy_grammar
from .exceptions import ApiError

_NAME = re.compile(r"^[\w+=,.@-]+$", re.ASCII)
_PASSWORD_CLASSES = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")


@dataclasses.dataclass
class Quotas:
    """Account limits (documented values by default); tests lower them to reach the errors."""

    sub_users: int = 1000
    groups: int = 300
    roles: int = 1000
    custom_policies: int = 1500
    policies_per_user: int = 200
    policies_per_group: int = 200
    keys_per_user: int = 2
    groups_per_user: int = 10
    # No documented figure was found; the sub-user quota bounds it in any case.
    users_per_group: int = 1000

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class AccessKey:
    key_id: str
    secret: str = dataclasses.field(repr=False)
    uin: int
    create_time: float
    description: str = ""
    status: Literal["Active", "Inactive"] = "Active"
    usable_from: float = 0.0


@dataclasses.dataclass
class User:
    uin: int
    uid: int
    name: str
    remark: str
    console_login: int
    create_time: float
    phone_num: str = ""
    country_code: str = ""
    email: str = ""
    policies: dict[int, float] = dataclasses.field(default_factory=dict)
    groups: dict[int, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Policy:
    policy_id: int
    name: str
    document: str
    description: str
    type: Literal[1, 2]
    add_time: float
    service_type: str = ""
    create_mode: int = 2

    @property
    def preset(self) -> bool:
        return self.type == 2


@dataclasses.dataclass
class Group:
    group_id: int
    name: str
    remark: str
    create_time: float
    members: dict[int, float] = dataclasses.field(default_factory=dict)
    policies: dict[int, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Role:
    role_id: str
    name: str
    document: str
    description: str
    add_time: float
    console_login: int = 0
    session_duration: int = 43200
    tags: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    policies: dict[int, float] = dataclasses.field(default_factory=dict)

    def arn(self, owner_uin: int) -> str:
        return f"qcs::cam::uin/{owner_uin}:roleName/{self.name}"


@dataclasses.dataclass
class OidcProvider:
    """A web identity provider: tokens are HS256 JWTs signed with ``secret`` (see sts_models)."""

    name: str
    secret: str = dataclasses.field(repr=False)
    audience: str = ""


class Env:
    """What every account shares: clock, quotas, id sequences, preset policies."""

    def __init__(self, *, rng_seed: int | None = None, quotas: Quotas | None = None) -> None:
        self.rng = random.Random(rng_seed)  # noqa: S311 - ids, not secrets
        self.quotas = quotas or Quotas()
        self.clock_offset = 0.0
        self.key_activation_delay = 0.0
        self.presets: dict[int, Policy] = {}
        self.uins = ids.Sequence(self.rng, 100_020_000_000, 100_030_000_000)
        self.uids = ids.Sequence(self.rng, 11_000_000, 12_000_000)
        self.policy_ids = ids.Sequence(self.rng, 200_000_000, 210_000_000)
        self.group_ids = ids.Sequence(self.rng, 100_000, 200_000)
        self.role_ids = ids.Sequence(self.rng, 4_611_686_018_427_000_000, 4_611_686_018_428_000_000)

    def now(self) -> float:
        return time.time() + self.clock_offset


def page(items: list[Any], page_no: int, rp: int) -> list[Any]:
    start = (page_no - 1) * rp
    return items[start : start + rp]


def check_paging(page_no: int, rp: int, *, max_rp: int = 200) -> None:
    if page_no < 1:
        raise ApiError("InvalidParameter.ParamError", "`Page` must be 1 or more.")
    if not 1 <= rp <= max_rp:
        raise ApiError("InvalidParameter.ParamError", f"`Rp` must be between 1 and {max_rp}.")


def _check_description(description: str, limit: int = 300) -> None:
    if len(description) > limit:
        raise ApiError(
            "InvalidParameter.DescriptionLengthOverlimit",
            f"The description exceeds {limit} characters.",
        )


class Account:
    """One main account (owner uin) with its sub-users, keys, policies, groups and roles."""

    def __init__(self, env: Env, owner_uin: int, app_id: int) -> None:
        self.env = env
        self.owner_uin = owner_uin
        self.app_id = app_id
        self.users: dict[str, User] = {}
        self.keys: dict[str, AccessKey] = {}
        self.policies: dict[int, Policy] = {}
        self.groups: dict[int, Group] = {}
        self.roles: dict[str, Role] = {}
        self.oidc_providers: dict[str, OidcProvider] = {}

    # ---- lookups -------------------------------------------------------------------------

    def user_by_uin(self, uin: int) -> User | None:
        return next((u for u in self.users.values() if u.uin == uin), None)

    def user_by_uid(self, uid: int) -> User | None:
        return next((u for u in self.users.values() if u.uid == uid), None)

    def policy(self, policy_id: int) -> Policy | None:
        return self.policies.get(policy_id) or self.env.presets.get(policy_id)

    def keys_of(self, uin: int) -> list[AccessKey]:
        return sorted((k for k in self.keys.values() if k.uin == uin), key=lambda k: k.create_time)

    def _require_user(self, name: str) -> User:
        user = self.users.get(name)
        if user is None:
            raise ApiError("ResourceNotFound.UserNotExist", f"The user `{name}` does not exist.")
        return user

    def _require_user_uin(self, uin: int) -> User:
        user = self.user_by_uin(uin)
        if user is None:
            raise ApiError("ResourceNotFound.UserNotExist", f"The user uin {uin} does not exist.")
        return user

    def _require_policy(self, policy_id: int) -> Policy:
        policy = self.policy(policy_id)
        if policy is None:
            raise ApiError(
                "ResourceNotFound.PolicyIdNotFound", f"The policy {policy_id} does not exist."
            )
        return policy

    def _require_group(self, group_id: int, code: str) -> Group:
        """Each action reports an unknown group with its own code (the SDK's per-action lists
        differ: GetGroup and DeleteGroup list only ResourceNotFound.UserNotExist)."""
        group = self.groups.get(group_id)
        if group is None:
            raise ApiError(code, f"The group {group_id} does not exist.")
        return group

    # ---- users ---------------------------------------------------------------------------

    def add_user(
        self,
        *,
        name: str,
        remark: str = "",
        console_login: int = 0,
        use_api: int = 0,
        password: str | None = None,
        phone_num: str = "",
        country_code: str = "",
        email: str = "",
    ) -> tuple[User, str | None, AccessKey | None]:
        """AddUser: name 1-64 of ``[\\w+=,.@-]``, unique; quota; password rules when given.
        A key is made only when ``use_api`` is set (an absent UseApi is 0)."""
        if not 1 <= len(name) <= 64 or not _NAME.match(name):
            raise ApiError("InvalidParameter.UserNameIllegal", "The user name is illegal.")
        _check_description(remark, 255)
        if name in self.users:
            raise ApiError("InvalidParameter.SubUserNameInUse", f"The name `{name}` is in use.")
        if len(self.users) >= self.env.quotas.sub_users:
            raise ApiError("InvalidParameter.SubUserFull", "The sub-user quota is reached.")
        if console_login and password:
            if len(password) < 8 or not all(re.search(c, password) for c in _PASSWORD_CLASSES):
                raise ApiError(
                    "InvalidParameter.PasswordViolatedRules",
                    "The password does not meet the password rules.",
                )
            # A password the caller chose is never sent back.
            password = None
        elif console_login:
            password = ids.console_password()
        else:
            password = None
        now = self.env.now()
        user = User(
            uin=self.env.uins.take(),
            uid=self.env.uids.take(),
            name=name,
            remark=remark,
            console_login=1 if console_login else 0,
            create_time=now,
            phone_num=phone_num,
            country_code=country_code,
            email=email,
        )
        self.users[name] = user
        key = self._new_key(user.uin, "") if use_api else None
        return user, password, key

    def get_user(self, name: str) -> User:
        return self._require_user(name)

    def list_users(self) -> list[User]:
        return sorted(self.users.values(), key=lambda u: u.create_time)

    def delete_user(self, name: str, *, force: bool) -> None:
        """DeleteUser: without Force, a user holding API keys is OperationDenied.HaveKeys."""
        user = self._require_user(name)
        keys = self.keys_of(user.uin)
        if keys and not force:
            raise ApiError("OperationDenied.HaveKeys", "The user still has API keys.")
        for key in keys:
            self._drop_key(key.key_id)
        for group_id in user.groups:
            group = self.groups.get(group_id)
            if group is not None:
                group.members.pop(user.uin, None)
        del self.users[name]

    # ---- access keys ---------------------------------------------------------------------

    def _key_owner(self, uin: int) -> int:
        """The subject of a key action must be the main account or one of its sub-users."""
        if uin != self.owner_uin and self.user_by_uin(uin) is None:
            raise ApiError("InvalidParameter.UserNotExist", f"The user {uin} does not exist.")
        return uin

    def _new_key(self, uin: int, description: str) -> AccessKey:
        now = self.env.now()
        key = AccessKey(
            key_id=ids.access_key_id(),
            secret=ids.secret_access_key(),
            uin=uin,
            create_time=now,
            description=description,
            usable_from=now + self.env.key_activation_delay,
        )
        self.keys[key.key_id] = key
        return key

    def _drop_key(self, key_id: str) -> None:
        del self.keys[key_id]

    def create_access_key(self, *, uin: int, description: str = "") -> AccessKey:
        """CreateAccessKey: at most two keys per user (OperationDenied.AccessKeyOverLimit)."""
        uin = self._key_owner(uin)
        _check_description(description, 50)
        if len(self.keys_of(uin)) >= self.env.quotas.keys_per_user:
            raise ApiError("OperationDenied.AccessKeyOverLimit", "The user already has 2 keys.")
        return self._new_key(uin, description)

    def _require_key(self, key_id: str, uin: int) -> AccessKey:
        """An unknown key is ResourceNotFound.SecretNotExist; a key of someone else than the
        subject is OperationDenied.UinNotMatch."""
        uin = self._key_owner(uin)
        key = self.keys.get(key_id)
        if key is None:
            raise ApiError("ResourceNotFound.SecretNotExist", "The access key does not exist.")
        if key.uin != uin:
            raise ApiError(
                "OperationDenied.UinNotMatch", "The access key does not belong to that user."
            )
        return key

    def delete_access_key(self, *, key_id: str, uin: int) -> None:
        self._drop_key(self._require_key(key_id, uin).key_id)

    def update_access_key(self, *, key_id: str, status: str, uin: int) -> None:
        if status not in ("Active", "Inactive"):
            raise ApiError("InvalidParameter.ParamError", "`Status` must be Active or Inactive.")
        key = self._require_key(key_id, uin)
        key.status = "Active" if status == "Active" else "Inactive"

    def list_access_keys(self, uin: int) -> list[AccessKey]:
        return self.keys_of(self._key_owner(uin))

    # ---- policies ------------------------------------------------------------------------

    def create_policy(self, *, name: str, document: str, description: str = "") -> Policy:
        """CreatePolicy: name 1-128 of ``[\\w+=,.@-]``; document grammar; unique name; quota."""
        if not 1 <= len(name) <= 128 or not _NAME.match(name):
            raise ApiError("InvalidParameter.PolicyNameError", "The policy name is illegal.")
        _check_description(description)
        policy_grammar.validate(document)
        if any(p.name == name for p in self.policies.values()) or any(
            p.name == name for p in self.env.presets.values()
        ):
            raise ApiError("FailedOperation.PolicyNameInUse", f"The name `{name}` is in use.")
        if len(self.policies) >= self.env.quotas.custom_policies:
            raise ApiError("FailedOperation.PolicyFull", "The custom policy quota is reached.")
        policy = Policy(
            policy_id=self.env.policy_ids.take(),
            name=name,
            document=document,
            description=description,
            type=1,
            add_time=self.env.now(),
        )
        self.policies[policy.policy_id] = policy
        return policy

    def delete_policies(self, policy_ids: list[int]) -> None:
        """DeletePolicy: all ids must name custom policies; deleting detaches them everywhere."""
        if not policy_ids:
            raise ApiError("InvalidParameter.PolicyIdError", "`PolicyId` must not be empty.")
        for policy_id in policy_ids:
            if policy_id in self.env.presets:
                raise ApiError(
                    "InvalidParameter.PolicyIdError", f"The preset policy {policy_id} is read-only."
                )
            if policy_id not in self.policies:
                raise ApiError(
                    "ResourceNotFound.PolicyIdNotFound", f"The policy {policy_id} does not exist."
                )
        for policy_id in policy_ids:
            self.policies.pop(policy_id, None)
            for user in self.users.values():
                user.policies.pop(policy_id, None)
            for group in self.groups.values():
                group.policies.pop(policy_id, None)
            for role in self.roles.values():
                role.policies.pop(policy_id, None)

    def get_policy(self, policy_id: int) -> Policy:
        return self._require_policy(policy_id)

    def list_policies(
        self, *, scope: str = "All", keyword: str = "", page_no: int = 1, rp: int = 20
    ) -> tuple[int, list[Policy]]:
        """ListPolicies: Keyword is a case-insensitive substring of the name; Rp at most 200."""
        check_paging(page_no, rp)
        if scope not in ("All", "QCS", "Local"):
            raise ApiError("InvalidParameter.ScopeError", "`Scope` must be All, QCS or Local.")
        if len(keyword) > 64:
            raise ApiError(
                "InvalidParameter.SearchKeywordLengthError", "`Keyword` exceeds 64 characters."
            )
        pool: list[Policy] = []
        if scope in ("All", "Local"):
            pool += sorted(self.policies.values(), key=lambda p: p.policy_id, reverse=True)
        if scope in ("All", "QCS"):
            pool += sorted(self.env.presets.values(), key=lambda p: p.policy_id)
        matched = [p for p in pool if keyword.lower() in p.name.lower()]
        return len(matched), page(matched, page_no, rp)

    def attachment_count(self, policy_id: int) -> int:
        users = sum(policy_id in u.policies for u in self.users.values())
        roles = sum(policy_id in r.policies for r in self.roles.values())
        return users + roles + sum(policy_id in g.policies for g in self.groups.values())

    def attach_user_policy(self, *, policy_id: int, uin: int) -> None:
        """AttachUserPolicy: PolicyIdNotFound, UserNotExist, AttachmentFull; idempotent."""
        self._require_policy(policy_id)
        user = self._require_user_uin(uin)
        if policy_id in user.policies:
            return
        if len(user.policies) >= self.env.quotas.policies_per_user:
            raise ApiError("InvalidParameter.AttachmentFull", "The user has too many policies.")
        user.policies[policy_id] = self.env.now()

    def detach_user_policy(self, *, policy_id: int, uin: int) -> None:
        self._require_policy(policy_id)
        self._require_user_uin(uin).policies.pop(policy_id, None)

    def attached_user_policies(
        self, *, uin: int, page_no: int = 1, rp: int = 20
    ) -> tuple[int, list[tuple[Policy, float]]]:
        check_paging(page_no, rp)
        user = self.user_by_uin(uin)
        if user is None:
            # The action's SDK list has no not-found code: an unknown uin is a bad parameter.
            raise ApiError("InvalidParameter.ParamError", f"The user uin {uin} does not exist.")
        return self._attached(user.policies, page_no, rp)

    def _attached(
        self, attached: dict[int, float], page_no: int, rp: int, keyword: str = ""
    ) -> tuple[int, list[tuple[Policy, float]]]:
        rows = [
            (policy, at)
            for policy_id, at in attached.items()
            if (policy := self.policy(policy_id)) is not None
            and keyword.lower() in policy.name.lower()
        ]
        return len(rows), page(rows, page_no, rp)

    # ---- groups --------------------------------------------------------------------------

    def create_group(self, *, name: str, remark: str = "") -> Group:
        if not 1 <= len(name) <= 64 or not _NAME.match(name):
            raise ApiError("InvalidParameter.ParamError", "The group name is illegal.")
        _check_description(remark)
        if any(g.name == name for g in self.groups.values()):
            raise ApiError("InvalidParameter.GroupNameInUse", f"The name `{name}` is in use.")
        if len(self.groups) >= self.env.quotas.groups:
            raise ApiError("InvalidParameter.GroupFull", "The group quota is reached.")
        group = Group(self.env.group_ids.take(), name, remark, self.env.now())
        self.groups[group.group_id] = group
        return group

    def delete_group(self, group_id: int) -> None:
        """DeleteGroup: a group that still has members is deleted and the memberships go with
        it. Its SDK error list (FailedOperation, ResourceNotFound.UserNotExist) and API page
        name no "group not empty" refusal, so none is invented."""
        group = self._require_group(group_id, "ResourceNotFound.UserNotExist")
        for uin in group.members:
            user = self.user_by_uin(uin)
            if user is not None:
                user.groups.pop(group_id, None)
        del self.groups[group_id]

    def get_group(self, group_id: int) -> Group:
        return self._require_group(group_id, "ResourceNotFound.UserNotExist")

    def list_groups(
        self, *, keyword: str = "", page_no: int = 1, rp: int = 20
    ) -> tuple[int, list[Group]]:
        check_paging(page_no, rp)
        rows = [g for g in self.groups.values() if keyword.lower() in g.name.lower()]
        return len(rows), page(rows, page_no, rp)

    def attach_group_policy(self, *, policy_id: int, group_id: int) -> None:
        self._require_policy(policy_id)
        group = self._require_group(group_id, "ResourceNotFound.GroupNotExist")
        if policy_id in group.policies:
            return
        if len(group.policies) >= self.env.quotas.policies_per_group:
            raise ApiError("InvalidParameter.AttachmentFull", "The group has too many policies.")
        group.policies[policy_id] = self.env.now()

    def detach_group_policy(self, *, policy_id: int, group_id: int) -> None:
        self._require_policy(policy_id)
        self._require_group(group_id, "ResourceNotFound.GroupNotExist").policies.pop(
            policy_id, None
        )

    def attached_group_policies(
        self, *, group_id: int, keyword: str = "", page_no: int = 1, rp: int = 20
    ) -> tuple[int, list[tuple[Policy, float]]]:
        check_paging(page_no, rp)
        group = self._require_group(group_id, "InvalidParameter.ParamError")
        return self._attached(group.policies, page_no, rp, keyword)

    def _member(self, uid: int | None, uin: int | None) -> User:
        user = None
        if uin is not None:
            user = self.user_by_uin(uin)
        elif uid is not None:
            user = self.user_by_uid(uid)
        else:
            raise ApiError(
                "InvalidParameter.UserUinAndUinNotAllNull", "Give either `Uid` or `Uin`."
            )
        if user is None:
            raise ApiError("ResourceNotFound.UserNotExist", "The user does not exist.")
        return user

    def add_users_to_groups(self, pairs: Iterable[tuple[int, int | None, int | None]]) -> None:
        """AddUserToGroup: every pair is checked before any is applied; the limits count the
        memberships this call adds as well as those that exist."""
        resolved: list[tuple[Group, User]] = []
        joining: dict[int, set[int]] = {}  # group id -> uins that will be members
        for group_id, uid, uin in pairs:
            group = self._require_group(group_id, "InvalidParameter.GroupNotExist")
            user = self._member(uid, uin)
            members = joining.setdefault(group_id, set(group.members))
            if user.uin not in members:
                if len(members) >= self.env.quotas.users_per_group:
                    raise ApiError(
                        "InvalidParameter.GroupUserFull", "The group has too many users."
                    )
                groups_after = {g for g, m in joining.items() if user.uin in m} | set(user.groups)
                if len(groups_after) >= self.env.quotas.groups_per_user:
                    raise ApiError(
                        "InvalidParameter.UserGroupFull", "The user is in too many groups."
                    )
                members.add(user.uin)
            resolved.append((group, user))
        now = self.env.now()
        for group, user in resolved:
            group.members.setdefault(user.uin, now)
            user.groups.setdefault(group.group_id, now)

    def remove_users_from_groups(self, pairs: Iterable[tuple[int, int | None, int | None]]) -> None:
        resolved = [
            (
                # RemoveUserFromGroup's list has no group code; the pair names no membership.
                self._require_group(group_id, "ResourceNotFound.UserNotExist"),
                self._member(uid, uin),
            )
            for group_id, uid, uin in pairs
        ]
        for group, user in resolved:
            group.members.pop(user.uin, None)
            user.groups.pop(group.group_id, None)

    def groups_for_user(
        self, *, uid: int | None, sub_uin: int | None, page_no: int = 1, rp: int = 20
    ) -> tuple[int, list[Group]]:
        check_paging(page_no, rp)
        user = self._member(uid, sub_uin)
        rows = [self.groups[g] for g in user.groups if g in self.groups]
        return len(rows), page(rows, page_no, rp)

    def users_for_group(
        self, *, group_id: int, page_no: int = 1, rp: int = 20
    ) -> tuple[int, list[User]]:
        check_paging(page_no, rp)
        group = self._require_group(group_id, "ResourceNotFound.GroupNotExist")
        rows = [u for uin in group.members if (u := self.user_by_uin(uin)) is not None]
        return len(rows), page(rows, page_no, rp)

    # ---- roles ---------------------------------------------------------------------------

    def create_role(
        self,
        *,
        name: str,
        document: str,
        description: str = "",
        console_login: int = 0,
        session_duration: int | None = None,
        tags: list[tuple[str, str]] | None = None,
        role_id: str | None = None,
    ) -> Role:
        """CreateRole: name 1-128 of ``[\\w+=,.@-]``; trust policy grammar (principal needed)."""
        if not 1 <= len(name) <= 128 or not _NAME.match(name):
            raise ApiError("InvalidParameter.RoleNameError", "The role name is illegal.")
        _check_description(description)
        policy_grammar.validate(document, trust_policy=True)
        duration = 43200 if session_duration is None else session_duration
        if not 0 <= duration <= 43200:
            raise ApiError(
                "InvalidParameter.ParamError", "`SessionDuration` must be at most 43200."
            )
        if any(r.name == name for r in self.roles.values()):
            raise ApiError("InvalidParameter.RoleNameInUse", f"The name `{name}` is in use.")
        if len(self.roles) >= self.env.quotas.roles:
            raise ApiError("InvalidParameter.RoleFull", "The role quota is reached.")
        role = Role(
            role_id=role_id or str(self.env.role_ids.take()),
            name=name,
            document=document,
            description=description,
            add_time=self.env.now(),
            console_login=1 if console_login else 0,
            session_duration=duration or 43200,
            tags=list(tags or []),
        )
        self.roles[role.role_id] = role
        return role

    def find_role(self, *, role_id: str | None, role_name: str | None) -> Role:
        if not role_id and not role_name:
            raise ApiError("InvalidParameter.ParamError", "Give `RoleId` or `RoleName`.")
        for role in self.roles.values():
            if (role_id and role.role_id == role_id) or (not role_id and role.name == role_name):
                return role
        raise ApiError("InvalidParameter.RoleNotExist", "The role does not exist.")

    def _role_policy(self, policy_id: int | None, policy_name: str | None) -> Policy:
        """Role attachments name the policy by id or by name; either unknown is
        InvalidParameter.PolicyIdNotExist (the code the role actions list)."""
        found: Policy | None = None
        if policy_id:
            found = self.policy(policy_id)
        elif policy_name:
            pool = [*self.policies.values(), *self.env.presets.values()]
            found = next((p for p in pool if p.name == policy_name), None)
        else:
            raise ApiError("InvalidParameter.ParamError", "Give `PolicyId` or `PolicyName`.")
        if found is None:
            raise ApiError("InvalidParameter.PolicyIdNotExist", "The policy does not exist.")
        return found

    def attach_role_policy(
        self,
        *,
        policy_id: int | None,
        policy_name: str | None,
        role_id: str | None,
        role_name: str | None,
    ) -> None:
        """AttachRolePolicy: the policy, then the role; the per-role limit is the per-user one."""
        policy = self._role_policy(policy_id, policy_name)
        role = self.find_role(role_id=role_id, role_name=role_name)
        if policy.policy_id in role.policies:
            return
        if len(role.policies) >= self.env.quotas.policies_per_user:
            raise ApiError("InvalidParameter.AttachmentFull", "The role has too many policies.")
        role.policies[policy.policy_id] = self.env.now()

    def detach_role_policy(
        self,
        *,
        policy_id: int | None,
        policy_name: str | None,
        role_id: str | None,
        role_name: str | None,
    ) -> None:
        policy = self._role_policy(policy_id, policy_name)
        self.find_role(role_id=role_id, role_name=role_name).policies.pop(policy.policy_id, None)

    def delete_role(self, *, role_id: str | None, role_name: str | None) -> None:
        del self.roles[self.find_role(role_id=role_id, role_name=role_name).role_id]

    def list_roles(
        self, *, page_no: int, rp: int, tags: list[tuple[str, str]] | None = None
    ) -> tuple[int, list[Role]]:
        check_paging(page_no, rp)
        rows = sorted(self.roles.values(), key=lambda r: r.add_time)
        if tags:
            rows = [r for r in rows if all(t in r.tags for t in tags)]
        return len(rows), page(rows, page_no, rp)
