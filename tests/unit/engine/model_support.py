"""What test_engine_model needs besides the state machine: the faults and interruptions it
injects, and the accounting of the engine's objects in the emulator's account.

The accounting reads only the emulator's state and the mount's storage (with the engine's
own readers), never what the model believes, except for the one thing only Vault knows:
which credentials were delivered and are still live leases.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, NamedTuple

from hypothesis import strategies as st

from tencentcloud_secrets.paths.config import read_config
from tencentcloud_secrets.paths.static_roles import STATIC_ROLE_PREFIX, read_static_role
from tencentcloud_secrets.role import ROLE_PREFIX, read_role
from tencentcloud_secrets_shim import logical
from tests.support.account import ENGINE_MARK
from tests.support.faults import FAULT_MODES
from tests.support.seed import COS_DENY_DOC, CVM_DOC, DEMO_ROLE_ARN

ROLE_NAMES = ("a", "b")
STATIC_NAMES = ("s1", "s2")
BOTS = ("bot1", "bot2")
SHARED_GROUP = "shared"
DOCS: dict[str, dict[str, Any]] = {"A": CVM_DOC, "B": COS_DENY_DOC}
SESSION_POLICY = json.dumps(
    {"version": "2.0", "statement": [{"effect": "allow", "action": ["cam:Get*"], "resource": "*"}]}
)

NO_FAULTS: dict[str, Any] = {"faults": [], "throttle": {"enabled": False}}

# The actions each operation may call (directly, in its reconciliation, or in its undo).
ISSUE_ACTIONS = (
    "AddUser",
    "AddUserToGroup",
    "GetUser",
    "ListAccessKeys",
    "DeleteAccessKey",
    "CreateAccessKey",
    "DeleteUser",
    "CreateGroup",
    "AttachGroupPolicy",
    "AssumeRole",
    "GetFederationToken",
)
ROLE_WRITE_ACTIONS = (
    "GetPolicy",
    "ListGroups",
    "CreatePolicy",
    "ListPolicies",
    "CreateGroup",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "ListUsersForGroup",
    "DeleteGroup",
    "DeletePolicy",
)
ROLE_DELETE_ACTIONS = ("ListUsersForGroup", "DeleteGroup", "DeletePolicy")
# The calls an operation makes on its own account (not to settle or undo another).
ISSUE_PRIMARY = ("AddUser", "AddUserToGroup")
ROLE_WRITE_PRIMARY = (
    "CreatePolicy",
    "CreateGroup",
    "AttachGroupPolicy",
    "ListUsersForGroup",
    "DeleteGroup",
)
KEY_PRIMARY = ("CreateAccessKey", "GetCallerIdentity", "DeleteAccessKey")
ROLLBACK_PRIMARY = (
    "DeleteUser",
    "DeleteGroup",
    "ListUsersForGroup",
    "CreateAccessKey",
    "DeleteAccessKey",
)
REVOKE_ACTIONS = ("DeleteUser", "GetUser")
KEY_ACTIONS = ("ListAccessKeys", "CreateAccessKey", "GetCallerIdentity", "DeleteAccessKey")
STATIC_WRITE_ACTIONS = ("GetUser", *KEY_ACTIONS)
ROLLBACK_ACTIONS = (
    "GetUser",
    "DeleteUser",
    "ListGroups",
    "ListPolicies",
    "ListUsersForGroup",
    "DeleteGroup",
    "DeletePolicy",
    "ListAttachedGroupPolicies",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    *KEY_ACTIONS,
)


class Crash(BaseException):
    """The process dies here: no handler, no cleanup of the engine's runs."""


class Trip(logical.Cancellation):
    """``Request.cancelled`` as the engine sees it. The engine asks ``is_set()`` before every
    cloud call attempt and before the creds path lets go of its WAL entry; from the
    ``at``-th question on, the answer is yes (Vault cancelled the request), or, for a crash,
    the ``at``-th question raises ``Crash``."""

    def __init__(self, at: int | None = None, *, crash: bool = False) -> None:
        super().__init__()
        self.at = at
        self.crash = crash
        self.asked = 0
        self.tripped = False

    def is_set(self) -> bool:
        self.asked += 1
        if self.at is None or self.asked < self.at:
            return False
        if self.crash:
            raise Crash(f"crash at check {self.asked}")
        self.tripped = True
        return True


class Interrupt(NamedTuple):
    kind: str  # "cancel" or "crash"
    at: int


class RoleSpec(NamedTuple):
    kind: str  # cam_user, assumed_role, federation_token
    remote: bool = False
    inline: tuple[str, ...] = ()
    groups: bool = False
    session_policy: bool = False

    def data(self) -> dict[str, Any]:
        """Every field a change of type must reset is sent."""
        if self.kind == "cam_user":
            return {
                "credential_type": "cam_user",
                "role_arn": "",
                "session_policy": "",
                "remote_policies": ["policy_id:3"] if self.remote else [],
                "inline_policies": json.dumps([DOCS[d] for d in self.inline]),
                "groups": SHARED_GROUP if self.groups else "",
            }
        common: dict[str, Any] = {
            "credential_type": self.kind,
            "remote_policies": [],
            "inline_policies": "[]",
            "groups": "",
        }
        if self.kind == "assumed_role":
            policy = SESSION_POLICY if self.session_policy else ""
            return {**common, "role_arn": DEMO_ROLE_ARN, "session_policy": policy}
        return {**common, "role_arn": "", "session_policy": SESSION_POLICY}


FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    # A create whose answer is lost is settled by a lookup (and, for AddUser, new keys).
    "AddUser": ("GetUser", "ListAccessKeys", "DeleteAccessKey", "CreateAccessKey", "AddUser"),
    "CreateGroup": ("ListGroups", "CreateGroup", "AttachGroupPolicy"),
    "CreatePolicy": ("ListPolicies", "CreatePolicy", "CreateGroup"),
    "CreateAccessKey": ("ListAccessKeys", "DeleteAccessKey", "CreateAccessKey"),
    # A failed step is undone by a delete; a lost delete answer is retried or checked.
    "AddUserToGroup": ("DeleteUser",),
    "AttachGroupPolicy": ("DeleteGroup", "DeletePolicy", "DetachGroupPolicy"),
    "GetCallerIdentity": ("DeleteAccessKey",),
    "DeleteUser": ("GetUser", "DeleteUser"),
    "DeleteAccessKey": ("DeleteAccessKey", "ListAccessKeys"),
    "ListUsersForGroup": ("DeleteGroup", "DeletePolicy"),
    "DeleteGroup": ("DeleteGroup", "DeletePolicy", "ListUsersForGroup"),
}


def _rule(
    actions: tuple[str, ...], nth: int = 3, modes: tuple[str, ...] = tuple(sorted(FAULT_MODES))
) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda action, mode, nth, times: {
            "action": action,
            "nth": nth,
            "times": times,
            **FAULT_MODES[mode],
        },
        st.sampled_from(actions),
        st.sampled_from(modes),
        st.integers(1, nth),
        st.integers(1, 3),
    )


# A lost answer is what reconciliation exists for: the first fault of a compound is one
# more often than not.
FIRST_MODES = ("drop-after", "drop-after", "drop-after", "error", "throttled", "drop-before")


def compound_faults(primary: tuple[str, ...]) -> st.SearchStrategy[list[dict[str, Any]]]:
    """One of the operation's ``primary`` calls fails (its answer lost, more often than not),
    then 1-2 of the calls that would settle or undo that fail too."""
    firsts = tuple(a for a in primary if a in FOLLOW_UPS)
    return st.sampled_from(firsts).flatmap(
        lambda first: st.tuples(
            _rule((first,), nth=1, modes=FIRST_MODES),
            st.lists(_rule(FOLLOW_UPS[first], nth=2), min_size=1, max_size=2),
        ).map(lambda pair: [pair[0], *pair[1]])
    )


def fault_rules(
    actions: tuple[str, ...], primary: tuple[str, ...] = ()
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """No fault; or 1-3 rules on the operation's ``actions``, each on its 1st-3rd call; or a
    compound (above)."""
    anywhere = st.lists(_rule(actions), min_size=1, max_size=3)
    if not any(a in FOLLOW_UPS for a in primary or actions):
        return st.one_of(st.just([]), anywhere)
    return st.one_of(st.just([]), anywhere, compound_faults(primary or actions))


def interruptions() -> st.SearchStrategy[Interrupt]:
    """Vault cancels the request, or the process dies, at its 1st-6th check."""
    return st.builds(Interrupt, st.sampled_from(["cancel", "crash"]), st.integers(1, 6))


def interrupts() -> st.SearchStrategy[Interrupt | None]:
    return st.one_of(st.none(), interruptions())


def role_specs() -> st.SearchStrategy[RoleSpec]:
    """cam_user three times in five: only its roles own objects in the account."""
    cam_user = st.builds(
        RoleSpec,
        st.just("cam_user"),
        remote=st.booleans(),
        inline=st.sampled_from([(), ("A",), ("B",), ("A", "B")]),
        groups=st.booleans(),
    ).filter(lambda s: s.remote or bool(s.inline) or s.groups)
    kinds: dict[str, st.SearchStrategy[RoleSpec]] = {
        "cam_user": cam_user,
        "assumed_role": st.builds(RoleSpec, st.just("assumed_role"), session_policy=st.booleans()),
        "federation_token": st.just(RoleSpec("federation_token")),
    }
    weighted = ("cam_user", "assumed_role", "cam_user", "federation_token", "cam_user")
    return st.sampled_from(weighted).flatmap(lambda kind: kinds[kind])


# --- the accounting -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Known:
    """What only Vault knows, and whose keys Vault must answer for."""

    leases: frozenset[tuple[str, int]]
    """(username, uin) of every delivered cam_user credential whose lease is live."""
    engine_uin: int
    """The CAM user whose key the mount is configured with (rotate-root's target)."""
    key_owners: frozenset[int]
    """Users every key of which Vault made or must delete (the engine's, the bots')."""


def _json(storage: logical.Storage, key: str) -> Any:
    entry = storage.get(key)
    return None if entry is None else json.loads(entry.value)


def wal_entries(storage: logical.Storage) -> list[dict[str, Any]]:
    entries = [_json(storage, "wal/" + i) for i in storage.list("wal/")]
    return [e for e in entries if e is not None]


def _retired(storage: logical.Storage) -> list[dict[str, Any]]:
    records = [_json(storage, "retired/" + i) for i in storage.list("retired/")]
    return [r for r in records if r is not None]


def unaccounted(account: dict[str, Any], storage: logical.Storage, known: Known) -> list[str]:
    """Each engine object in the account that no live lease, stored role or static role,
    retired record, configuration, or WAL entry the rollback would act on accounts for."""
    wal = wal_entries(storage)
    data_of = [(e.get("type"), e.get("data") or {}) for e in wal]
    roles = [read_role(storage, n) for n in storage.list(ROLE_PREFIX)]
    statics = [read_static_role(storage, n) for n in storage.list(STATIC_ROLE_PREFIX)]
    retired = _retired(storage)
    config = read_config(storage)

    wal_users = {(d.get("username"), d.get("remark")) for t, d in data_of if t == "cam_user"}
    wal_groups = {
        (g.get("group_name"), g.get("remark"))
        for t, d in data_of
        if t == "role_objects"
        for g in d.get("groups", [])
    }
    wal_policies = {
        (p.get("policy_name"), p.get("description"))
        for t, d in data_of
        if t == "role_objects"
        for p in d.get("policies", [])
    }

    def owner(d: dict[str, Any]) -> int:
        target = d.get("target_uin")
        return known.engine_uin if target is None else int(target)

    wal_new_keys = {(owner(d), d.get("description")) for t, d in data_of if t == "access_key"}
    wal_old_keys = {(owner(d), d.get("key_id")) for t, d in data_of if t == "old_access_key"}
    role_groups = {g.group_id for r in roles if r for g in r.managed_groups}
    role_policies = {p.policy_id for r in roles if r for p in r.inline_policies if p.policy_id}
    retired_groups = {int(g["group_id"]) for r in retired for g in r.get("groups", [])}
    retired_policies = {
        int(p["policy_id"]) for r in retired for p in r.get("policies", []) if p.get("policy_id")
    }
    keys_in_use = {s.secret_id for s in statics if s and s.secret_id}
    if config is not None and config.secret_id:
        keys_in_use.add(config.secret_id)

    problems: list[str] = []
    for user in account["Users"]:
        if not user["Remark"].startswith(ENGINE_MARK):
            continue
        if (user["Name"], user["Uin"]) in known.leases:
            continue
        if (user["Name"], user["Remark"]) in wal_users:
            continue
        problems.append(f"user {user['Name']} ({user['Remark']!r})")
    for group in account["Groups"]:
        if not group["Remark"].startswith(ENGINE_MARK):
            continue
        if group["GroupId"] in role_groups | retired_groups:
            continue
        if (group["GroupName"], group["Remark"]) in wal_groups:
            continue
        members = len(group.get("MemberUins", []))
        problems.append(f"group {group['GroupName']} ({group['Remark']!r}, {members} members)")
    for policy in account["Policies"]:
        if not policy["Description"].startswith(ENGINE_MARK):
            continue
        if policy["PolicyId"] in role_policies | retired_policies:
            continue
        if (policy["PolicyName"], policy["Description"]) in wal_policies:
            continue
        problems.append(f"policy {policy['PolicyName']} ({policy['Description']!r})")
    for key in account["AccessKeys"]:
        is_marked = key["Description"].startswith(ENGINE_MARK)
        if not (is_marked or key["Uin"] in known.key_owners):
            continue
        key_id = key["AccessKeyId"]
        if key_id in keys_in_use or (key["Uin"], key_id) in wal_old_keys:
            continue
        if is_marked and (key["Uin"], key["Description"]) in wal_new_keys:
            continue
        problems.append(f"access key {key_id} of uin {key['Uin']} ({key['Description']!r})")
    return problems
