"""Typed CAM (2019-01-16) operations: users, access keys, policies, groups, roles.

Each method is one action (plus, for creates, the lookups that reconcile a lost answer).
Exact-name matching over CAM's substring search is done here. Never logs what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from . import models_cam as m
from .deadline import DeadlineLike
from .errors import NotFoundError
from .reconcile import create_once
from .transport import CAM, Reply, Transport, decode

_MAX_PAGES = 100
_PAGE_SIZE = 200
T = TypeVar("T")


def _every_page(fetch: Callable[[int], tuple[int, Sequence[T]]]) -> Iterator[T]:
    """Items of every page of a listing: ``fetch(page)`` gives (total, items) for page N."""
    for page in range(1, _MAX_PAGES + 1):
        total, items = fetch(page)
        yield from items
        if not items or page * _PAGE_SIZE >= total:
            return


class CamClient:
    def __init__(self, transport: Transport, region: str | None = None) -> None:
        self._t = transport
        self._region = region

    # -- plumbing ----------------------------------------------------------------------

    def _call(
        self,
        action: str,
        params: Mapping[str, Any],
        deadline: DeadlineLike,
        *,
        gone_is_done: bool = False,
        retry_sent: bool = True,
    ) -> Reply:
        return self._t.call(
            CAM,
            action,
            params,
            region=self._region,
            deadline=deadline,
            gone_is_done=gone_is_done,
            retry_sent=retry_sent,
        )

    # -- users -------------------------------------------------------------------------

    def add_user(self, req: m.AddUserRequest, *, deadline: DeadlineLike = None) -> m.AddUserResult:
        """Create a sub-user; with ``use_api`` the answer carries its first key pair.

        If the answer is lost, a user of that name is adopted only when its Remark equals the
        request's (give each creation a unique one): anybody else's user is left alone and the
        create fails as the name being in use. An adopted user's first key pair is
        unrecoverable: that key is deleted and a new one created, so the result still has keys.
        """

        def lookup() -> m.AddUserResult | None:
            if not req.remark:
                return None
            try:
                user = self.get_user(m.GetUserRequest(req.name), deadline=deadline)
            except NotFoundError:
                return None
            if user.remark != req.remark:
                return None
            secret_id = secret_key = None
            if req.use_api:
                for key in self.list_access_keys(
                    m.ListAccessKeysRequest(user.uin), deadline=deadline
                ):
                    self.delete_access_key(
                        m.DeleteAccessKeyRequest(key.access_key_id, user.uin), deadline=deadline
                    )
                fresh = self.create_access_key(
                    m.CreateAccessKeyRequest(target_uin=user.uin), deadline=deadline
                )
                secret_id, secret_key = fresh.access_key_id, fresh.secret_access_key
            return m.AddUserResult(
                uin=user.uin,
                name=user.name,
                uid=user.uid,
                secret_id=secret_id,
                secret_key=secret_key,
                recovered=True,
            )

        return create_once(
            self._t,
            CAM,
            "AddUser",
            req.to_params(),
            decode=lambda r: decode(r, m.AddUserResult.from_wire),
            lookup=lookup,
            region=self._region,
            deadline=deadline,
        )

    def get_user(self, req: m.GetUserRequest, *, deadline: DeadlineLike = None) -> m.SubUser:
        return decode(self._call("GetUser", req.to_params(), deadline), m.SubUser.from_wire)

    def list_users(self, *, deadline: DeadlineLike = None) -> tuple[m.SubUser, ...]:
        reply = self._call("ListUsers", {}, deadline)
        return decode(reply, lambda d: tuple(m.SubUser.from_wire(u) for u in d.get("Data") or ()))

    def delete_user(
        self, req: m.DeleteUserRequest, *, deadline: DeadlineLike = None, retry_sent: bool = True
    ) -> None:
        """Delete a user by name. ``retry_sent=False``: a lost answer is raised, not retried
        (a retry could find another user given the same name meanwhile)."""
        self._call(
            "DeleteUser", req.to_params(), deadline, gone_is_done=True, retry_sent=retry_sent
        )

    # -- access keys -------------------------------------------------------------------

    def create_access_key(
        self, req: m.CreateAccessKeyRequest, *, deadline: DeadlineLike = None
    ) -> m.AccessKeyDetail:
        """Create a key pair; reconcilable only when ``description`` is unique.

        After a lost answer, keys carrying that description are deleted (their secret
        half is gone for good) and the create is sent again.
        """

        def lookup() -> m.AccessKeyDetail | None:
            for key in self.list_access_keys(
                m.ListAccessKeysRequest(req.target_uin), deadline=deadline
            ):
                if key.description == req.description:
                    self.delete_access_key(
                        m.DeleteAccessKeyRequest(key.access_key_id, req.target_uin),
                        deadline=deadline,
                    )
            return None

        return create_once(
            self._t,
            CAM,
            "CreateAccessKey",
            req.to_params(),
            decode=lambda r: decode(r, lambda d: m.AccessKeyDetail.from_wire(d["AccessKey"])),
            lookup=lookup if req.description else None,
            region=self._region,
            deadline=deadline,
        )

    def delete_access_key(
        self, req: m.DeleteAccessKeyRequest, *, deadline: DeadlineLike = None
    ) -> None:
        self._call("DeleteAccessKey", req.to_params(), deadline, gone_is_done=True)

    def list_access_keys(
        self, req: m.ListAccessKeysRequest, *, deadline: DeadlineLike = None
    ) -> tuple[m.AccessKey, ...]:
        reply = self._call("ListAccessKeys", req.to_params(), deadline)
        return decode(
            reply, lambda d: tuple(m.AccessKey.from_wire(k) for k in d.get("AccessKeys") or ())
        )

    def update_access_key(
        self, req: m.UpdateAccessKeyRequest, *, deadline: DeadlineLike = None
    ) -> None:
        self._call("UpdateAccessKey", req.to_params(), deadline)

    # -- policies ----------------------------------------------------------------------

    def create_policy(
        self, req: m.CreatePolicyRequest, *, deadline: DeadlineLike = None
    ) -> m.CreatePolicyResult:
        """Create a custom policy; after a lost answer, adopt one of that name only when its
        Description equals the request's (give each creation a unique one)."""

        def lookup() -> m.CreatePolicyResult | None:
            if not req.description:
                return None
            found = self.find_policy_by_name(req.policy_name, scope="Local", deadline=deadline)
            if found is None or found.description != req.description:
                return None
            return m.CreatePolicyResult(found.policy_id, recovered=True)

        return create_once(
            self._t,
            CAM,
            "CreatePolicy",
            req.to_params(),
            decode=lambda r: decode(r, lambda d: m.CreatePolicyResult(int(d["PolicyId"]))),
            lookup=lookup,
            region=self._region,
            deadline=deadline,
        )

    def delete_policy(self, req: m.DeletePolicyRequest, *, deadline: DeadlineLike = None) -> None:
        self._call("DeletePolicy", req.to_params(), deadline, gone_is_done=True)

    def get_policy(self, req: m.GetPolicyRequest, *, deadline: DeadlineLike = None) -> m.Policy:
        reply = self._call("GetPolicy", req.to_params(), deadline)
        return decode(reply, lambda d: m.Policy.from_wire(req.policy_id, d))

    def list_policies(
        self, req: m.ListPoliciesRequest, *, deadline: DeadlineLike = None
    ) -> m.PolicyPage:
        return decode(self._call("ListPolicies", req.to_params(), deadline), m.PolicyPage.from_wire)

    def find_policy_by_name(
        self, name: str, *, scope: str | None = None, deadline: DeadlineLike = None
    ) -> m.PolicySummary | None:
        """Exact match on the name; CAM's Keyword is only a substring filter."""

        def fetch(page: int) -> tuple[int, Sequence[m.PolicySummary]]:
            result = self.list_policies(
                m.ListPoliciesRequest(rp=_PAGE_SIZE, page=page, scope=scope, keyword=name),
                deadline=deadline,
            )
            return result.total_num, result.policies

        return next((p for p in _every_page(fetch) if p.policy_name == name), None)

    def attach_user_policy(
        self, req: m.AttachUserPolicyRequest, *, deadline: DeadlineLike = None
    ) -> None:
        self._call("AttachUserPolicy", req.to_params(), deadline)

    def detach_user_policy(
        self, req: m.DetachUserPolicyRequest, *, deadline: DeadlineLike = None
    ) -> None:
        self._call("DetachUserPolicy", req.to_params(), deadline, gone_is_done=True)

    def list_attached_user_policies(
        self, req: m.ListAttachedUserPoliciesRequest, *, deadline: DeadlineLike = None
    ) -> m.AttachedPolicyPage:
        reply = self._call("ListAttachedUserPolicies", req.to_params(), deadline)
        return decode(reply, m.AttachedPolicyPage.from_wire)

    # -- groups ------------------------------------------------------------------------

    def create_group(
        self, req: m.CreateGroupRequest, *, deadline: DeadlineLike = None
    ) -> m.CreateGroupResult:
        """Create a group; after a lost answer, adopt one of that name only when its Remark
        equals the request's (give each creation a unique one)."""

        def lookup() -> m.CreateGroupResult | None:
            if not req.remark:
                return None
            found = self.find_group_by_name(req.group_name, deadline=deadline)
            if found is None or found.remark != req.remark:
                return None
            return m.CreateGroupResult(found.group_id, recovered=True)

        return create_once(
            self._t,
            CAM,
            "CreateGroup",
            req.to_params(),
            decode=lambda r: decode(r, lambda d: m.CreateGroupResult(int(d["GroupId"]))),
            lookup=lookup,
            region=self._region,
            deadline=deadline,
        )

    def delete_group(self, req: m.DeleteGroupRequest, *, deadline: DeadlineLike = None) -> None:
        self._call("DeleteGroup", req.to_params(), deadline, gone_is_done=True)

    def list_groups(
        self, req: m.ListGroupsRequest, *, deadline: DeadlineLike = None
    ) -> m.GroupPage:
        return decode(self._call("ListGroups", req.to_params(), deadline), m.GroupPage.from_wire)

    def find_group_by_name(self, name: str, *, deadline: DeadlineLike = None) -> m.Group | None:
        """Exact match on the name; CAM's Keyword is only a substring filter."""

        def fetch(page: int) -> tuple[int, Sequence[m.Group]]:
            result = self.list_groups(
                m.ListGroupsRequest(page=page, rp=_PAGE_SIZE, keyword=name), deadline=deadline
            )
            return result.total_num, result.groups

        return next((g for g in _every_page(fetch) if g.group_name == name), None)

    def list_users_for_group(
        self, req: m.ListUsersForGroupRequest, *, deadline: DeadlineLike = None
    ) -> m.GroupMemberPage:
        reply = self._call("ListUsersForGroup", req.to_params(), deadline)
        return decode(reply, m.GroupMemberPage.from_wire)

    def list_attached_group_policies(
        self, req: m.ListAttachedGroupPoliciesRequest, *, deadline: DeadlineLike = None
    ) -> m.AttachedPolicyPage:
        reply = self._call("ListAttachedGroupPolicies", req.to_params(), deadline)
        return decode(reply, m.AttachedPolicyPage.from_wire)

    def attached_group_policy_ids(
        self, group_id: int, *, deadline: DeadlineLike = None
    ) -> set[int]:
        """Every policy attached to the group, over as many pages as it takes."""

        def fetch(page: int) -> tuple[int, Sequence[m.AttachedPolicy]]:
            result = self.list_attached_group_policies(
                m.ListAttachedGroupPoliciesRequest(group_id, page=page, rp=_PAGE_SIZE),
                deadline=deadline,
            )
            return result.total_num, result.policies

        return {p.policy_id for p in _every_page(fetch)}

    def attach_group_policy(
        self, req: m.AttachGroupPolicyRequest, *, deadline: DeadlineLike = None
    ) -> None:
        self._call("AttachGroupPolicy", req.to_params(), deadline)

    def detach_group_policy(
        self, req: m.DetachGroupPolicyRequest, *, deadline: DeadlineLike = None
    ) -> None:
        self._call("DetachGroupPolicy", req.to_params(), deadline, gone_is_done=True)

    def add_user_to_group(
        self, req: m.AddUserToGroupRequest, *, deadline: DeadlineLike = None
    ) -> None:
        self._call("AddUserToGroup", req.to_params(), deadline)

    def remove_user_from_group(
        self, req: m.RemoveUserFromGroupRequest, *, deadline: DeadlineLike = None
    ) -> None:
        self._call("RemoveUserFromGroup", req.to_params(), deadline, gone_is_done=True)

    # -- roles -------------------------------------------------------------------------

    def get_role(self, req: m.GetRoleRequest, *, deadline: DeadlineLike = None) -> m.Role:
        reply = self._call("GetRole", req.to_params(), deadline)
        return decode(reply, lambda d: m.Role.from_wire(d["RoleInfo"]))
