"""The CAM objects a cam_user role owns: its user groups and the custom policies of its
inline documents.

Why groups: a lease then costs two calls (AddUser with a key, AddUserToGroup into every group
at once) and one to revoke (DeleteUser), whatever the number of policies, and no custom
policy is made per lease. All the role's groups carry the same policies; a role grows a new
group only when CAM says the current ones are full.

Every creation is preceded by a WAL entry naming the object and the unique marker put in its
Remark or Description; rollback deletes an object only when the marker matches and the stored
role does not use it. A failed role write undoes what it did before returning, so neither the
account nor the storage is left half-written.

Objects a role stops using (deleted role, changed type, dropped inline document) are
"retired": written down under ``retired/`` and removed once no user is left in their groups,
right away when possible, else by the periodic sweep after the last lease is revoked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.group_use import GroupUse
from tencentcloud_secrets.provider import CloudClient
from tencentcloud_secrets.role import CamGroup, InlinePolicy, Role, read_role
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import (
    InvalidParameterError,
    NotFoundError,
    TencentCloudError,
)
from tencentcloud_secrets_shim import logical

log = logging.getLogger(__name__)

RETIRED_PREFIX = "retired/"
WAL_ROLE_OBJECTS = "role_objects"
WAL_ROLE_OBJECTS_VERSION = 1


def new_marker(what: str, role_name: str) -> str:
    """A Remark/Description that says who made the object and is unique to this creation."""
    return f"Vault {what} for role {role_name[:48]} #{secrets.token_hex(8)}"


def group_name(role_name: str, role: Role, number: int) -> str:
    return f"vault-{role_name[:32]}-{role.role_id}-{number}"


def policy_name(role_name: str, role: Role, digest: str) -> str:
    return f"vault-{role_name[:32]}-{role.role_id}-{digest[:12]}"


@dataclasses.dataclass(frozen=True)
class RoleChange:
    """A role write's cloud side: its WAL entry (delete it once the role is stored; "" when
    nothing was created) and the inline policies it dropped (detached; retire them)."""

    wal_id: str
    dropped: list[InlinePolicy]


@dataclasses.dataclass
class _Undo:
    """What a role write did so far, to take back if a later step fails."""

    steps: list[tuple[str, Callable[[], None]]] = dataclasses.field(default_factory=list)

    def add(self, what: str, step: Callable[[], None]) -> None:
        self.steps.append((what, step))

    def run(self) -> bool:
        clean = True
        for what, step in reversed(self.steps):
            try:
                step()
            except TencentCloudError as exc:
                clean = False
                log.error("could not undo %s: %s", what, exc.code)
        return clean


class RoleObjects:
    """Creates, updates and retires one mount's per-role CAM objects."""

    def __init__(self, client: CloudClient, storage: logical.Storage, group_use: GroupUse) -> None:
        self._cam = client.cam
        self._storage = storage
        self._group_use = group_use

    # --- role write -------------------------------------------------------------------

    def apply(
        self, name: str, old: Role | None, new: Role, deadline: Deadline | None
    ) -> RoleChange:
        """Make the cloud match ``new`` (ids filled in place); write nothing to storage but
        the WAL entry, which the caller deletes after storing the role.

        Raises TencentCloudError after undoing what it did.
        """
        was_cam = old is not None and old.credential_type == new.credential_type
        if not (was_cam and new.role_id):
            # A fresh id per incarnation: names never collide with retired objects.
            new.role_id = secrets.token_hex(5)
        new.managed_groups = list(old.managed_groups) if was_cam and old else []
        previous = {p.hash: p for p in (old.inline_policies if was_cam and old else [])}
        new.inline_policies = [previous.get(p.hash, p) for p in new.inline_policies]
        to_create = [p for p in new.inline_policies if not p.policy_id]
        dropped = [p for h, p in previous.items() if h not in {q.hash for q in new.inline_policies}]

        planned_groups = []
        if not new.managed_groups:
            planned_groups.append(
                {"group_name": group_name(name, new, 1), "remark": new_marker("group", name)}
            )
        planned_policies = [
            {
                "policy_name": policy_name(name, new, p.hash),
                "description": new_marker("policy", name),
                "hash": p.hash,
            }
            for p in to_create
        ]
        current = set(old.policy_ids) if was_cam and old and old.managed_groups else set()
        remote = {p.policy_id for p in new.remote_policies}
        kept = {p.policy_id for p in new.inline_policies if p.policy_id}
        reattach = bool(new.managed_groups) and (bool(to_create) or current != remote | kept)
        wal_id = ""
        if planned_groups or planned_policies or reattach:
            wal_id = fw.put_wal(
                self._storage,
                WAL_ROLE_OBJECTS,
                {
                    "version": WAL_ROLE_OBJECTS_VERSION,
                    "role": name,
                    "groups": planned_groups,
                    "policies": planned_policies,
                },
            )
        undo = _Undo()
        try:
            created: dict[str, InlinePolicy] = {}
            for plan in planned_policies:
                policy = next(p for p in to_create if p.hash == plan["hash"])
                result = self._cam.create_policy(
                    cm.CreatePolicyRequest(
                        plan["policy_name"], policy.text, description=plan["description"]
                    ),
                    deadline=deadline,
                )
                policy_id = result.policy_id
                undo.add(
                    f"policy {policy_id}", functools.partial(self._delete_policies, [policy_id])
                )
                created[policy.hash] = dataclasses.replace(
                    policy, policy_id=policy_id, policy_name=plan["policy_name"]
                )
            new.inline_policies = [created.get(p.hash, p) for p in new.inline_policies]
            for plan in planned_groups:
                made = self._cam.create_group(
                    cm.CreateGroupRequest(plan["group_name"], remark=plan["remark"]),
                    deadline=deadline,
                )
                group_id = made.group_id
                undo.add(f"group {group_id}", functools.partial(self._delete_group, group_id))
                new.managed_groups.append(CamGroup(group_id, plan["group_name"]))
            desired = new.policy_ids
            for group in new.managed_groups:
                for policy_id in [p for p in desired if p not in current]:
                    self._attach(group.group_id, policy_id, deadline)
                    undo.add(
                        f"attachment of {policy_id} to {group.group_id}",
                        functools.partial(self._detach, group.group_id, policy_id, None),
                    )
                for policy_id in sorted(current - set(desired)):
                    self._detach(group.group_id, policy_id, deadline)
                    undo.add(
                        f"detachment of {policy_id} from {group.group_id}",
                        functools.partial(self._attach, group.group_id, policy_id, None),
                    )
        except TencentCloudError as exc:
            # A create whose answer was lost may have made an object the undo cannot name:
            # then the entry stays, and the rollback finds the object by its marker.
            if undo.run() and wal_id and not exc.create_outcome_unknown:
                fw.delete_wal(self._storage, wal_id)
            raise
        return RoleChange(wal_id, dropped)

    def grow(self, name: str, role: Role, deadline: Deadline | None) -> RoleChange:
        """Add one more managed group carrying the role's policies (the others are full).

        The caller holds the role's lock, stores the role, then deletes the WAL entry.
        """
        number = max((int(g.group_name.rsplit("-", 1)[1]) for g in role.managed_groups), default=0)
        plan = {
            "group_name": group_name(name, role, number + 1),
            "remark": new_marker("group", name),
        }
        wal_id = fw.put_wal(
            self._storage,
            WAL_ROLE_OBJECTS,
            {"version": WAL_ROLE_OBJECTS_VERSION, "role": name, "groups": [plan], "policies": []},
        )
        made = self._cam.create_group(
            cm.CreateGroupRequest(plan["group_name"], remark=plan["remark"]), deadline=deadline
        )
        try:
            for policy_id in role.policy_ids:
                self._attach(made.group_id, policy_id, deadline)
        except TencentCloudError:
            try:
                self._delete_group(made.group_id)
                fw.delete_wal(self._storage, wal_id)
            except TencentCloudError:
                log.error("could not undo group %s; rollback removes it", made.group_id)
            raise
        role.managed_groups.append(CamGroup(made.group_id, plan["group_name"]))
        return RoleChange(wal_id, [])

    # --- retiring -------------------------------------------------------------------

    def retire(
        self, role_name: str, role: Role, groups: list[CamGroup], policies: list[InlinePolicy]
    ) -> str | None:
        """Record objects the role stops using and try to remove them now. Call it before
        the role is deleted or rewritten: the record names the role, and the sweep keeps
        whatever the stored role still uses, so a crash in between loses nothing.

        Returns the record's key, for ``sweep_one`` once the role is stored or deleted.
        """
        if not groups and not policies:
            return None
        key = f"{RETIRED_PREFIX}{role.role_id}-{secrets.token_hex(4)}"
        record = {
            "role": role_name,
            "groups": [dataclasses.asdict(g) for g in groups],
            "policies": [
                {"policy_id": p.policy_id, "policy_name": p.policy_name} for p in policies
            ],
        }
        self._storage.put(logical.StorageEntry(key, json.dumps(record).encode()))
        return key

    def sweep(self, deadline: Deadline | None) -> list[str]:
        """Try every retired record; returns what stays for later."""
        left = []
        for name in self._storage.list(RETIRED_PREFIX):
            reason = self.sweep_one(RETIRED_PREFIX + name, deadline)
            if reason:
                left.append(reason)
        return left

    def sweep_one(self, key: str | None, deadline: Deadline | None) -> str | None:
        """Remove what one record holds, if no user is left in its groups; returns None when
        all is gone, else what is left and why."""
        if key is None:
            return None
        entry = self._storage.get(key)
        if entry is None:
            return None
        record: dict[str, Any] = json.loads(entry.value)
        role = read_role(self._storage, str(record.get("role", "")))
        used_groups = {g.group_id for g in role.managed_groups} if role else set()
        used_policies = {p.policy_id for p in role.inline_policies} if role else set()
        remaining = []
        busy = 0
        for raw in record.get("groups", []):
            group = CamGroup(**raw)
            if group.group_id in used_groups:
                continue
            with self._group_use.removing(group.group_id) as free:
                members = self._members(group.group_id, deadline) if free else 1
                if members is None:
                    continue
                if members:
                    busy += members
                    remaining.append(raw)
                    continue
                self._delete_group(group.group_id, deadline)
        if remaining:
            record["groups"] = remaining
            self._storage.put(logical.StorageEntry(key, json.dumps(record).encode()))
            names = ", ".join(g["group_name"] for g in remaining)
            return (
                f"{busy} user(s) of live leases are still in {names}; the group(s) and the "
                "role's policies are removed after those leases end"
            )
        ids = [
            int(p["policy_id"])
            for p in record.get("policies", [])
            if p.get("policy_id") and int(p["policy_id"]) not in used_policies
        ]
        if ids:
            self._delete_policies(ids, deadline)
        self._storage.delete(key)
        return None

    # --- single calls -------------------------------------------------------------------

    def _members(self, group_id: int, deadline: Deadline | None) -> int | None:
        """How many users are in the group; None when it is gone."""
        try:
            return self._cam.list_users_for_group(
                cm.ListUsersForGroupRequest(group_id, page=1, rp=1), deadline=deadline
            ).total_num
        except NotFoundError:
            return None

    def _attach(self, group_id: int, policy_id: int, deadline: Deadline | None) -> None:
        self._cam.attach_group_policy(
            cm.AttachGroupPolicyRequest(policy_id, group_id), deadline=deadline
        )

    def _detach(self, group_id: int, policy_id: int, deadline: Deadline | None) -> None:
        with contextlib.suppress(NotFoundError):
            self._cam.detach_group_policy(
                cm.DetachGroupPolicyRequest(policy_id, group_id), deadline=deadline
            )

    def _delete_group(self, group_id: int, deadline: Deadline | None = None) -> None:
        with contextlib.suppress(NotFoundError):
            self._cam.delete_group(cm.DeleteGroupRequest(group_id), deadline=deadline)

    def _delete_policies(self, policy_ids: list[int], deadline: Deadline | None = None) -> None:
        """DeletePolicy takes many ids but fails whole when one is gone: then go one by one."""
        try:
            self._cam.delete_policy(cm.DeletePolicyRequest(tuple(policy_ids)), deadline=deadline)
        except NotFoundError:
            for policy_id in policy_ids:
                try:
                    self._cam.delete_policy(cm.DeletePolicyRequest((policy_id,)), deadline=deadline)
                except NotFoundError:
                    continue

    # --- rollback -----------------------------------------------------------------------

    def _retired_policy_ids(self) -> set[int]:
        """Policy ids named by any retired record."""
        policies: set[int] = set()
        for name in self._storage.list(RETIRED_PREFIX):
            entry = self._storage.get(RETIRED_PREFIX + name)
            if entry is None:
                continue
            record = json.loads(entry.value)
            policies |= {
                int(p["policy_id"]) for p in record.get("policies", []) if p.get("policy_id")
            }
        return policies

    def roll_back(self, data: dict[str, Any], deadline: Deadline | None) -> None:
        """Undo a role write that never finished. Safe twice: each object is deleted only if
        it still exists, carries this write's marker, and the stored role does not use it;
        then the stored role's groups get exactly the stored role's policies again."""
        role = read_role(self._storage, str(data.get("role", "")))
        self._delete_unused(data, role, deadline)
        if role is None:
            return
        desired = set(role.policy_ids)
        for group in role.managed_groups:
            try:
                attached = self._cam.attached_group_policy_ids(group.group_id, deadline=deadline)
            except (NotFoundError, InvalidParameterError):
                # CAM answers an unknown group here with InvalidParameter.ParamError.
                continue
            for policy_id in sorted(desired - attached):
                self._attach(group.group_id, policy_id, deadline)
            for policy_id in sorted(attached - desired):
                self._detach(group.group_id, policy_id, deadline)

    def _delete_unused(
        self, data: dict[str, Any], role: Role | None, deadline: Deadline | None
    ) -> None:
        # The write may have finished after all (its entry outlived it), and a later write
        # or delete retired what it made: retired policies are the sweep's, which waits for
        # the last lease in their groups; groups with members are never deleted here.
        used_groups = {g.group_id for g in role.managed_groups} if role else set()
        used_policies = {p.policy_id for p in role.inline_policies} if role else set()
        used_policies |= self._retired_policy_ids()
        for plan in data.get("groups", []):
            group = self._cam.find_group_by_name(plan["group_name"], deadline=deadline)
            if group is None or group.remark != plan["remark"] or group.group_id in used_groups:
                continue
            with self._group_use.removing(group.group_id) as free:
                # Members mean a lease's user: never take its permissions away.
                if not free or self._members(group.group_id, deadline):
                    log.warning("rollback: group %s has members; kept", group.group_name)
                    continue
                log.info(
                    "rollback: deleting group %s of an unfinished role write", group.group_name
                )
                self._delete_group(group.group_id, deadline)
        for plan in data.get("policies", []):
            policy = self._cam.find_policy_by_name(
                plan["policy_name"], scope="Local", deadline=deadline
            )
            if (
                policy is None
                or policy.description != plan["description"]
                or policy.policy_id in used_policies
            ):
                continue
            log.info("rollback: deleting policy %s of an unfinished role write", policy.policy_name)
            self._delete_policies([policy.policy_id], deadline)
