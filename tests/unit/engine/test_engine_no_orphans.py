"""No live key without a lease: each way an object could outlive every lease, role and WAL
entry, reproduced against the emulator and shown closed.

Compound faults (a lost answer, then a failed reconciliation), cancellation between cloud
calls, races forced into the order that used to leak, a WAL entry that outlives its write,
a revocation retried after the name was taken again, and the removal of the mount.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.backend import TencentCloudBackend
from tencentcloud_secrets.cam_objects import RoleObjects
from tencentcloud_secrets.paths import creds
from tencentcloud_secrets.role import read_role
from tencentcloud_secrets.rotation import KeyRotation
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets_shim import logical
from tests.support.account import (
    access_key_ids,
    account,
    custom_policy_names,
    group_names,
    marked,
    user_names,
)
from tests.support.request_log import action_names
from tests.support.seed import COS_READ, CVM_DOC
from tests.unit.engine.support import Mount

NOTHING_MARKED: dict[str, list[str]] = {"users": [], "groups": [], "policies": [], "keys": []}


def _faults(emulator: RunningEmulator, *rules: dict[str, Any]) -> None:
    emulator.set_faults({"faults": [{"times": 1, **rule} for rule in rules]})


def _issue(engine: Mount, role: str = "app") -> logical.Response | None:
    try:
        return engine("read", f"creds/{role}")
    except logical.LogicalError:
        return None


class CancelAt(logical.Cancellation):
    """Vault cancels the call just before the request's ``n``-th cloud call or check."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self._left = n

    def is_set(self) -> bool:
        self._left -= 1
        if self._left <= 0:
            self.set()
        return super().is_set()


def _cancelled_issue(engine: Mount, n: int) -> None:
    request = logical.Request(
        operation="read", path="creds/app", storage=engine.storage, cancelled=CancelAt(n)
    )
    with pytest.raises(logical.LogicalError):
        engine.backend.handle_request(request)


# --- a lost create answer, then a failed reconciliation ----------------------------------


@pytest.mark.parametrize(
    "after",
    [
        {"action": "GetUser", "code": "InternalError"},
        {"action": "GetUser", "code": "RequestLimitExceeded", "times": 10},
        {"action": "CreateAccessKey", "code": "InternalError"},
        {"action": "AddUser", "nth": 2, "code": "InternalError"},
    ],
    ids=["getuser-error", "getuser-throttled", "recovered-key-fails", "resent-adduser-fails"],
)
def test_lost_adduser_then_failed_reconciliation_keeps_the_wal_entry(
    engine: Mount, emulator: RunningEmulator, after: dict[str, Any]
) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    rules = [{"action": "AddUser", "nth": 1, "drop": "after"}, after]
    if after["action"] == "AddUser":
        rules.insert(1, {"action": "GetUser", "code": "ResourceNotFound.UserNotExist"})
    _faults(emulator, *rules)
    assert _issue(engine) is None
    made = user_names(emulator)
    assert made, "the lost AddUser ran"
    assert len(engine.wal()) == 1, "a user that may exist keeps its WAL entry"
    emulator.set_faults({"faults": []})
    engine.rollback()
    assert user_names(emulator) == []
    assert engine.wal() == []


@pytest.mark.parametrize(
    ("lost", "lookup"), [("CreateGroup", "ListGroups"), ("CreatePolicy", "ListPolicies")]
)
def test_lost_role_object_then_failed_lookup_keeps_the_wal_entry(
    engine: Mount, emulator: RunningEmulator, lost: str, lookup: str
) -> None:
    _faults(
        emulator,
        {"action": lost, "nth": 1, "drop": "after"},
        {"action": lookup, "nth": 1, "code": "InternalError"},
    )
    with pytest.raises(logical.LogicalError):
        engine(
            "update",
            "role/app",
            remote_policies="policy_id:3",
            inline_policies=json.dumps([CVM_DOC]),
        )
    assert engine.stored("role/app") is None
    assert engine.wal(), "an object that may exist keeps its WAL entry"
    emulator.set_faults({"faults": []})
    engine.rollback()
    assert marked(account(emulator)) == NOTHING_MARKED
    assert engine.wal() == []


# --- cancellation ---------------------------------------------------------------------------


def test_a_request_cancelled_before_addusertogroup_leaves_nothing(
    engine: Mount, emulator: RunningEmulator
) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    before = len(action_names(emulator))
    _cancelled_issue(engine, 2)  # AddUser goes out, the cancel comes before AddUserToGroup
    sent = action_names(emulator)[before:]
    assert "AddUserToGroup" not in sent
    assert sent[0] == "AddUser"
    engine.rollback()
    assert user_names(emulator) == []
    assert engine.wal() == []


def test_a_request_cancelled_after_its_last_call_does_not_hand_out_or_forget(
    engine: Mount, emulator: RunningEmulator
) -> None:
    """The cancel lands after AddUserToGroup: the WAL entry is deleted only once the user
    is gone, never while the credential reaches nobody."""
    engine("update", "role/app", remote_policies=COS_READ)
    _cancelled_issue(engine, 3)
    assert user_names(emulator) == []
    assert engine.wal() == []


def test_a_cancelled_issue_whose_cleanup_fails_keeps_the_wal_entry(
    engine: Mount, emulator: RunningEmulator
) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    _faults(emulator, {"action": "DeleteUser", "code": "InternalError", "times": 10})
    _cancelled_issue(engine, 3)
    assert len(user_names(emulator)) == 1
    assert len(engine.wal()) == 1
    emulator.set_faults({"faults": []})
    engine.rollback()
    assert user_names(emulator) == []


class _LostDeleteAnswer(logical.InmemStorage):
    """Storage whose first delete of a WAL entry happens, then reports a failure: the answer
    lost on its way back from Vault."""

    def __init__(self, inner: logical.InmemStorage) -> None:
        super().__init__()
        self._inner = inner
        self.lost = 0

    def list(self, prefix: str) -> list[str]:
        return self._inner.list(prefix)

    def get(self, key: str) -> logical.StorageEntry | None:
        return self._inner.get(key)

    def put(self, entry: logical.StorageEntry) -> None:
        self._inner.put(entry)

    def delete(self, key: str) -> None:
        self._inner.delete(key)
        if key.startswith(fw.WAL_PREFIX) and not self.lost:
            self.lost += 1
            raise logical.StorageError("connection reset after the delete")


def test_a_wal_delete_whose_answer_is_lost_takes_the_user_back(
    engine: Mount, emulator: RunningEmulator
) -> None:
    """The entry is gone but the issue cannot know it: without the user taken back, a failed
    request would leave a user that no lease and no entry accounts for."""
    engine("update", "role/app", remote_policies=COS_READ)
    storage = _LostDeleteAnswer(engine.storage)
    request = logical.Request(operation="read", path="creds/app", storage=storage)
    with pytest.raises(logical.StorageError):
        engine.backend.handle_request(request)
    assert storage.lost == 1
    assert user_names(emulator) == []
    assert engine.wal() == []


# --- a full extra group --------------------------------------------------------------------


def test_a_full_extra_group_fails_the_issue_without_growing_the_role(
    engine: Mount, emulator: RunningEmulator
) -> None:
    emulator.set_quotas(users_per_group=1)
    cam = engine.backend.client(engine.storage).cam
    extra = cam.create_group(cm.CreateGroupRequest("shared"))
    other = cam.add_user(cm.AddUserRequest("someone"))
    cam.add_user_to_group(
        cm.AddUserToGroupRequest((cm.GroupMembership(extra.group_id, uin=other.uin),))
    )
    engine("update", "role/app", remote_policies=COS_READ, groups="shared")
    for _ in range(3):
        with pytest.raises(logical.LogicalError) as err:
            engine("read", "creds/app")
        assert "shared" in str(err.value)
    stored = engine.stored("role/app")
    assert stored is not None
    assert len(stored["managed_groups"]) == 1
    assert [g for g in group_names(emulator) if g.startswith("vault-")] == [
        stored["managed_groups"][0]["group_name"]
    ]
    assert user_names(emulator) == ["someone"]
    assert engine.wal() == []


# --- role delete racing an issue -------------------------------------------------------------


def test_a_role_delete_never_removes_a_group_a_lease_is_joining(
    engine: Mount, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced order: the delete counts the group's members (none), an issue that read the
    role before the delete joins its user, then the delete would remove the group."""
    engine("update", "role/app", remote_policies=COS_READ)
    before_delete = read_role(engine.storage, "app")
    outcome: dict[str, Any] = {}
    real_members = RoleObjects._members

    def members_then_issue(self: RoleObjects, group_id: int, deadline: Any) -> int | None:
        counted = real_members(self, group_id, deadline)
        if "issued" not in outcome:
            with monkeypatch.context() as patch:
                patch.setattr(creds, "read_role", lambda storage, name: before_delete)
                outcome["issued"] = _issue(engine)
        return counted

    monkeypatch.setattr(RoleObjects, "_members", members_then_issue)
    answer = engine("delete", "role/app")
    issued = outcome["issued"]
    if issued is not None:
        assert issued.secret is not None
        assert issued.secret.internal_data["username"] in user_names(emulator)
        assert answer is not None
        assert answer.warnings, "the delete must say a lease is left"
        assert group_names(emulator), "the lease's group stays until the lease ends"
        engine.revoke(issued)
        engine.rollback()
    assert marked(account(emulator)) == NOTHING_MARKED
    assert engine.wal() == []


def test_a_role_delete_while_a_join_is_in_flight_leaves_the_group_to_the_sweep(
    engine: Mount, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced order: an issue's AddUserToGroup is on its way when the role is deleted."""
    engine("update", "role/app", remote_policies=COS_READ)
    cam_type = type(engine.backend.client(engine.storage).cam)
    real_join = cam_type.add_user_to_group
    answers: list[logical.Response | None] = []

    def delete_then_join(self: Any, req: Any, **kwargs: Any) -> None:
        if not answers:
            answers.append(engine("delete", "role/app"))
        real_join(self, req, **kwargs)

    monkeypatch.setattr(cam_type, "add_user_to_group", delete_then_join)
    issued = engine("read", "creds/app")
    assert issued is not None
    assert issued.secret is not None
    [answer] = answers
    assert answer is not None
    assert answer.warnings, "the delete says the group stays for a live lease"
    user = issued.secret.internal_data["username"]
    [group] = account(emulator)["Groups"]
    assert [u["Uin"] for u in account(emulator)["Users"] if u["Name"] == user] == group[
        "MemberUins"
    ]
    engine.revoke(issued)
    engine.rollback()
    assert marked(account(emulator)) == NOTHING_MARKED


# --- a static role written while the scheduler rotates ------------------------------------------


def test_a_static_role_write_racing_the_scheduler_leaves_no_unknown_key(
    engine: Mount, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced order: the write has stored the role, the scheduler finds it due and rotates,
    then the write's own first key fails. No key may stay on the user that Vault forgets."""
    cam = engine.backend.client(engine.storage).cam
    user = cam.add_user(cm.AddUserRequest("ci-bot", remark="theirs"))
    engine.clock.on_sleep = emulator.advance_clock
    real_create = KeyRotation.create
    state: dict[str, Any] = {}

    def scheduler_first(self: KeyRotation, purpose: str, keep: str) -> Any:
        if "scheduler" not in state:
            periodic = threading.Thread(
                target=engine.rollback, kwargs={"immediate": False}, daemon=True
            )
            state["scheduler"] = periodic
            periodic.start()
            periodic.join(3.0)  # with the role's lock held, it waits for the write
        return real_create(self, purpose, keep)

    monkeypatch.setattr(KeyRotation, "create", scheduler_first)
    # The scheduler's CreateAccessKey (if it runs first) succeeds; the write's fails.
    _faults(emulator, {"action": "CreateAccessKey", "nth": 2, "code": "InternalError"})
    engine("update", "static-roles/ci", username="ci-bot", rotation_period=3600)
    state["scheduler"].join(10.0)
    stored = engine.stored("static-role/ci")
    keys = sorted(k["AccessKeyId"] for k in account(emulator)["AccessKeys"] if k["Uin"] == user.uin)
    assert keys == ([stored["secret_id"]] if stored else [])
    # The scheduler, let in after the write, finds the role rotated just now: no second key.
    assert len(emulator.requests("CreateAccessKey")) == 1


# --- a role-write WAL entry that outlives its write ---------------------------------------------


def test_a_stale_role_write_entry_never_takes_a_lease_users_group(
    engine: Mount, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write stored the role but its WAL entry was not deleted (a crash, a storage
    failure); the role is deleted while a lease is live; then the entry is rolled back."""
    with monkeypatch.context() as patch:
        patch.setattr(fw, "delete_wal", lambda storage, entry_id: None)
        engine(
            "update", "role/app", remote_policies=COS_READ, inline_policies=json.dumps([CVM_DOC])
        )
    assert len(engine.wal()) == 1
    issued = engine("read", "creds/app")
    assert issued is not None
    engine("delete", "role/app")  # retired: the lease's user is in the group
    groups = group_names(emulator)
    engine.rollback()
    assert group_names(emulator) == groups, "the lease's user keeps its permissions"
    assert custom_policy_names(emulator)
    engine.revoke(issued)
    engine.rollback()
    assert marked(account(emulator)) == NOTHING_MARKED


def test_the_role_write_rollback_never_removes_a_group_with_members(
    engine: Mount, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with nothing in storage naming the group any more, members mean a lease."""
    with monkeypatch.context() as patch:
        patch.setattr(fw, "delete_wal", lambda storage, entry_id: None)
        engine("update", "role/app", remote_policies=COS_READ)
    issued = engine("read", "creds/app")
    assert issued is not None
    engine("delete", "role/app")
    for key in engine.storage.list("retired/"):
        engine.storage.delete("retired/" + key)
    groups = group_names(emulator)
    engine.rollback()
    assert group_names(emulator) == groups


@pytest.mark.parametrize("kind", ["group", "policy"])
def test_the_role_write_rollback_deletes_only_what_carries_its_marker(
    engine: Mount, emulator: RunningEmulator, kind: str
) -> None:
    """An object of the planned name made by someone else (another marker) is kept."""
    cam = engine.backend.client(engine.storage).cam
    name = "vault-app-0123456789-1"
    plan: dict[str, Any] = {"version": 1, "role": "app", "groups": [], "policies": []}
    if kind == "group":
        cam.create_group(cm.CreateGroupRequest(name, remark="Vault group for role app #theirs"))
        plan["groups"] = [{"group_name": name, "remark": "Vault group for role app #mine"}]
    else:
        doc = json.dumps(CVM_DOC)
        cam.create_policy(
            cm.CreatePolicyRequest(name, doc, description="Vault policy for role app #theirs")
        )
        plan["policies"] = [
            {"policy_name": name, "description": "Vault policy for role app #mine", "hash": "x"}
        ]
    fw.put_wal(engine.storage, "role_objects", plan)
    made = marked(account(emulator))
    engine.rollback()
    assert marked(account(emulator)) == made
    assert engine.wal() == []


# --- a revocation retried after the name was taken again -----------------------------------------


def test_a_retried_revocation_spares_another_user_of_the_same_name(
    engine: Mount, emulator: RunningEmulator
) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    issued = engine("read", "creds/app")
    assert issued is not None
    assert issued.secret is not None
    username = issued.secret.internal_data["username"]
    _faults(emulator, {"action": "DeleteUser", "nth": 1, "drop": "after"})
    with pytest.raises(logical.LogicalError):
        engine.revoke(issued)  # it ran, but the answer was lost: Vault retries later
    emulator.set_faults({"faults": []})
    cam = engine.backend.client(engine.storage).cam
    theirs = cam.add_user(cm.AddUserRequest(username, remark="someone else's"))
    assert engine.revoke(issued) is None
    assert [u["Uin"] for u in account(emulator)["Users"] if u["Name"] == username] == [theirs.uin]
    assert engine.storage.list("revoking/") == []


def test_a_first_revocation_costs_one_call(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    issued = engine("read", "creds/app")
    assert issued is not None
    before = len(action_names(emulator))
    engine.revoke(issued)
    assert action_names(emulator)[before:] == ["DeleteUser"]


# --- rollback_min_age --------------------------------------------------------------------------


def test_rollback_min_age_below_the_floor_is_refused() -> None:
    backend = TencentCloudBackend()
    with pytest.raises(ValueError, match="at least 30s"):
        backend.setup(
            logical.BackendConfig(
                storage=logical.InmemStorage(),
                system_view=logical.StaticSystemView(),
                config={"rollback_min_age": "1s"},
            )
        )


def test_cloud_calls_end_before_the_rollback_may_act(engine: Mount) -> None:
    """Vault sends no deadline of its own: the rollback's age bounds every cloud call."""
    request = logical.Request(operation="read", path="creds/app", storage=engine.storage)
    deadline = engine.backend.cloud_deadline(request)
    assert deadline.at is not None
    assert deadline.at <= time.monotonic() + engine.backend.wal_rollback_min_age - 10.0


# --- the mount is removed ------------------------------------------------------------------------


def test_removing_the_mount_removes_what_it_made(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/app", remote_policies=COS_READ, inline_policies=json.dumps([CVM_DOC]))
    engine("update", "role/two", remote_policies=COS_READ)
    engine("read", "creds/app")
    cam = engine.backend.client(engine.storage).cam
    bot = cam.add_user(cm.AddUserRequest("ci-bot", remark="theirs"))
    engine.clock.on_sleep = emulator.advance_clock
    engine("update", "static-roles/ci", username="ci-bot")
    # Vault revokes every lease before Cleanup; this lease's revocation is Vault's job.
    for lease_user in [u for u in user_names(emulator) if u.startswith("vault-")]:
        cam.delete_user(cm.DeleteUserRequest(lease_user, force=True))
    # A young WAL entry (an issue in flight when the unmount began) is acted on too.
    fw.put_wal(engine.storage, "cam_user", {"username": "vault-x", "remark": "Vault lease #1"})
    assert marked(account(emulator))["groups"]
    engine.system_view.is_tainted = True
    engine.backend.cleanup()
    assert marked(account(emulator)) == NOTHING_MARKED
    assert access_key_ids(emulator, bot.uin) == []
    assert user_names(emulator) == ["ci-bot"]


def test_cleanup_without_unmount_keeps_everything(engine: Mount, emulator: RunningEmulator) -> None:
    """Vault also calls Cleanup when it seals, stops or reloads the plugin."""
    engine("update", "role/app", remote_policies=COS_READ)
    made = marked(account(emulator))
    engine.backend.cleanup()
    assert marked(account(emulator)) == made
