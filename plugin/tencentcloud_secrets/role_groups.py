"""The mount's role-groups service: everything about the CAM user groups (and inline-policy
documents) a cam_user role owns, in one place that the paths call.

- ``write``: a role write's cloud side (resolve the policies and extra groups it names, make
  the managed objects match, retire what it dropped), then store the role;
- ``provision``: the same for a role stored without groups (one the original plugin wrote);
- ``join``: put a lease's user into a managed group with room (and the role's extra groups),
  growing the role by a group when all are full;
- ``retire``, ``sweep``: take a role's objects out of use and remove them once no lease's user
  is left in them (right away when possible, else from the periodic function);
- ``roll_back``: undo a role write that never finished (its WAL entry).

``cam_objects.RoleObjects`` makes the cloud calls of one operation; this service holds what
lives as long as the mount: which group to try first for each role (the hints) and the gate
that keeps a group from being removed while a user joins it (``group_use``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.cam_objects import RoleObjects
from tencentcloud_secrets.cloud_errors import vault_error
from tencentcloud_secrets.group_use import GroupUse
from tencentcloud_secrets.provider import CamApi, CloudClient
from tencentcloud_secrets.role import (
    CAM_USER,
    ROLE_PREFIX,
    CamGroup,
    PolicySpec,
    RemotePolicy,
    Role,
    RoleError,
    read_role,
    write_role,
)
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import (
    ApiError,
    LimitExceededError,
    NotFoundError,
    TencentCloudError,
)
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)

# CAM's answer when a group holds as many users as it may.
GROUP_FULL = "InvalidParameter.GroupUserFull"


def _memberships(groups: tuple[CamGroup, ...], uin: int) -> cm.AddUserToGroupRequest:
    return cm.AddUserToGroupRequest(tuple(cm.GroupMembership(g.group_id, uin=uin) for g in groups))


class RoleGroups:
    """One per mount; the backend owns it (``backend.groups``)."""

    def __init__(self, backend: TencentCloudBackend) -> None:
        self._backend = backend
        self._hints: dict[str, int] = {}
        self.use = GroupUse()

    def _objects(self, storage: logical.Storage) -> RoleObjects:
        return RoleObjects(self._backend.client(storage), storage, self.use)

    # --- role writes ------------------------------------------------------------------

    def write(
        self,
        request: logical.Request,
        name: str,
        old: Role | None,
        role: Role,
        specs: list[PolicySpec] | None,
        group_names: list[str] | None,
    ) -> list[str]:
        """Store the cam_user ``role`` after making its cloud objects match it (the caller
        holds the role's lock); returns warnings. RoleError for a policy or group that does
        not exist; a Tencent Cloud failure as a Vault error, after undoing what it did."""
        storage = request.storage
        client = self._backend.client(storage)
        deadline = self._backend.cloud_deadline(request)
        objects = self._objects(storage)
        try:
            if specs is not None:
                role.remote_policies = _resolve_policies(client, specs, old, deadline)
            if group_names is not None:
                role.groups = _resolve_groups(client, group_names, old, deadline)
            change = objects.apply(name, old, role, deadline)
        except TencentCloudError as exc:
            raise vault_error(exc, f'writing role "{name}"') from None
        key = objects.retire(name, role, [], change.dropped) if old else None
        write_role(storage, name, role)
        if change.wal_id:
            fw.delete_wal(storage, change.wal_id)
        left = self.sweep_now(request, key)
        return [left] if left else []

    def provision(self, request: logical.Request, name: str) -> Role:
        """Create the CAM objects of a cam_user role that has none: one the original plugin
        stored, whose remote policies are resolved now (by exact name, as on a write)."""
        with self._backend.locks.locked(ROLE_PREFIX + name):
            role = read_role(request.storage, name)
            if role is None:
                raise logical.InvalidRequest(f'role "{name}" does not exist')
            if role.managed_groups or role.credential_type != CAM_USER:
                return role
            specs = [
                PolicySpec(policy_id=p.policy_id, scope=p.scope)
                if p.policy_id
                else PolicySpec(policy_name=p.policy_name, scope=p.scope)
                for p in role.remote_policies
            ]
            try:
                self.write(request, name, None, role, specs, None)
            except RoleError as exc:
                problem = f'role "{name}" cannot be provisioned: {exc}'
                raise logical.InvalidRequest(problem) from None
            log.info("role provisioned", extra={"role": name})
            return role

    def retire(self, request: logical.Request, name: str, role: Role) -> str | None:
        """Take every object of the stored cam_user ``role`` out of use (before the role is
        deleted or changes type); returns the retired record's key, for ``sweep_now``."""
        if role.credential_type != CAM_USER:
            return None
        self.forget(name)
        return self._objects(request.storage).retire(
            name, role, role.managed_groups, role.inline_policies
        )

    def sweep_now(self, request: logical.Request, key: str | None) -> str | None:
        """Remove a retired record's objects now if no user is left in them; returns why
        something stays (the periodic sweep removes it later)."""
        if key is None:
            return None
        try:
            return self._objects(request.storage).sweep_one(
                key, self._backend.cloud_deadline(request)
            )
        except TencentCloudError as exc:
            log.warning("retired objects not removed yet: %s", exc.code)
            return f"the role's old CAM objects are removed later ({exc.code}: {exc.message})"

    def sweep(self, storage: logical.Storage, deadline: Deadline | None) -> list[str]:
        """Try every retired record; returns what stays for later."""
        return self._objects(storage).sweep(deadline)

    def forget(self, name: str) -> None:
        """The role's groups changed (retired here, or a replicated write elsewhere): its hint
        may name a group it no longer has."""
        self._hints.pop(name, None)

    def roll_back(self, request: logical.Request, data: Any) -> None:
        """The WAL entry of a role write that never finished (under the role's lock: a write
        of the same role must not interleave)."""
        storage = request.storage
        try:
            with self._backend.locks.locked(ROLE_PREFIX + str(data.get("role", ""))):
                self._objects(storage).roll_back(data, self._backend.cloud_deadline(request))
        except TencentCloudError as exc:
            raise vault_error(exc, "rolling back a role write") from None

    # --- issuing --------------------------------------------------------------------------

    def join(
        self, request: logical.Request, name: str, role: Role, uin: int, deadline: Deadline
    ) -> None:
        """One AddUserToGroup into a managed group with room plus the role's extra groups.

        CAM caps the users of a group and its answer does not say which group is full: when
        the call is refused, the managed group alone is tried. If it has room, an extra group
        is full and the issue fails (a new managed group would not help); if not, the next
        managed group is tried, and when all are full the role grows one. So the steady
        state stays at one call: the group that last had room is tried first.
        """
        cam = self._backend.client(request.storage).cam
        tried: set[int] = set()
        for _ in range(2):
            groups = role.managed_groups
            start = self._hints.get(name, len(groups) - 1) % max(len(groups), 1)
            for offset in range(len(groups)):
                index = (start + offset) % len(groups)
                group = groups[index]
                if group.group_id in tried:
                    continue
                tried.add(group.group_id)
                if self._join_one(cam, group, role.groups, uin, deadline):
                    self._hints[name] = index
                    return
            role = self.grow(request, name, len(groups), deadline)
        raise ApiError(
            GROUP_FULL,
            "every managed group of the role is full, even one just created",
            action="AddUserToGroup",
        )

    def _join_one(
        self, cam: CamApi, group: CamGroup, extra: list[CamGroup], uin: int, deadline: Deadline
    ) -> bool:
        """Put the user in ``group`` and ``extra``; False when ``group`` itself is full."""
        with self.use.joining(group.group_id):
            try:
                cam.add_user_to_group(_memberships((group, *extra), uin), deadline=deadline)
                return True
            except LimitExceededError as exc:
                if exc.code != GROUP_FULL:
                    raise
            if not extra:
                log.info("group %s is full; trying the next", group.group_name)
                return False
            try:
                cam.add_user_to_group(_memberships((group,), uin), deadline=deadline)
            except LimitExceededError as exc:
                if exc.code != GROUP_FULL:
                    raise
                log.info("group %s is full; trying the next", group.group_name)
                return False
        names = ", ".join(g.group_name for g in extra)
        raise ApiError(
            GROUP_FULL,
            f"one of the role's groups ({names}) is full: remove users from it or change the "
            "role's groups",
            action="AddUserToGroup",
        )

    def grow(
        self, request: logical.Request, name: str, seen: int, deadline: Deadline | None
    ) -> Role:
        """Give the role one more managed group, unless another request grew it past the
        ``seen`` groups meanwhile (then the new group is tried first)."""
        storage = request.storage
        with self._backend.locks.locked(ROLE_PREFIX + name):
            role = read_role(storage, name)
            if role is None:
                raise logical.InvalidRequest(f'role "{name}" was deleted while issuing')
            if len(role.managed_groups) > seen:
                self._hints[name] = len(role.managed_groups) - 1
                return role
            change = self._objects(storage).grow(name, role, deadline)
            write_role(storage, name, role)
            fw.delete_wal(storage, change.wal_id)
            self._hints[name] = len(role.managed_groups) - 1
            log.info("role grew a group", extra={"role": name, "groups": len(role.managed_groups)})
            return role


# --- what a role write names ------------------------------------------------------------


def _resolve_policies(
    client: CloudClient,
    specs: list[PolicySpec],
    old: Role | None,
    deadline: Deadline | None,
) -> list[RemotePolicy]:
    """Exact ids for the written entries; entries the stored role already resolved cost
    nothing."""
    known: dict[tuple[str, str], RemotePolicy] = {}
    by_id: dict[int, RemotePolicy] = {}
    for policy in old.remote_policies if old else []:
        known[(policy.policy_name, policy.scope)] = policy
        by_id[policy.policy_id] = policy
    resolved: list[RemotePolicy] = []
    for spec in specs:
        if spec.policy_id:
            found_by_id = by_id.get(spec.policy_id)
            if found_by_id is None:
                try:
                    found = client.cam.get_policy(
                        cm.GetPolicyRequest(spec.policy_id), deadline=deadline
                    )
                except NotFoundError:
                    raise RoleError(
                        f"remote_policies: no CAM policy has id {spec.policy_id}"
                    ) from None
                scope = "QCS" if found.type == 2 else "Local"
                found_by_id = RemotePolicy(found.policy_name, scope, spec.policy_id)
            resolved.append(found_by_id)
            continue
        cached = known.get((spec.policy_name, spec.scope))
        if cached is None:
            summary = client.cam.find_policy_by_name(
                spec.policy_name, scope=spec.scope, deadline=deadline
            )
            if summary is None:
                raise RoleError(
                    f'remote_policies: no CAM policy is named "{spec.policy_name}" in scope '
                    f"{spec.scope} (names are matched exactly)"
                )
            cached = RemotePolicy(spec.policy_name, spec.scope, summary.policy_id)
        resolved.append(cached)
    unique: dict[int, RemotePolicy] = {}
    for policy in resolved:
        unique.setdefault(policy.policy_id, policy)
    return list(unique.values())


def _resolve_groups(
    client: CloudClient, names: list[str], old: Role | None, deadline: Deadline | None
) -> list[CamGroup]:
    known = {g.group_name: g for g in (old.groups if old else [])}
    groups = []
    for name in names:
        group = known.get(name)
        if group is None:
            found = client.cam.find_group_by_name(name, deadline=deadline)
            if found is None:
                raise RoleError(f'groups: no CAM user group is named "{name}"')
            group = CamGroup(found.group_id, found.group_name)
        groups.append(group)
    return groups
