"""Faults at every cloud step of issue, revoke, role write, role update and role delete.

Each injected fault (an error, throttling past the retries, a request dropped before it runs,
an answer lost after it ran) is followed by what Vault does next: the rollback (WAL replay
and the periodic sweep), and a retried revocation. Afterwards the account must hold exactly
what live leases and stored roles account for, and every live lease must still revoke.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets_shim import logical
from tests.support.account import account, custom_policy_names, group_names, user_names
from tests.support.faults import FAULT_MODES, fault_rule
from tests.support.request_log import action_names
from tests.support.seed import COS_DENY_DOC, COS_READ, CVM_DOC
from tests.unit.engine.support import Mount


def _attempt(engine: Mount, operation: str, path: str, **data: Any) -> logical.Response | None:
    """The request as a client sees it: a failure is an answer too."""
    try:
        return engine(operation, path, **data)
    except logical.LogicalError:
        return None


def _succeeded(response: logical.Response | None) -> bool:
    return response is not None and response.secret is not None


def _after_the_storm(engine: Mount, emulator: RunningEmulator) -> None:
    emulator.set_faults({"faults": []})
    engine.rollback()  # WAL replay (immediate) and the periodic sweep


def _role_objects(engine: Mount, name: str) -> tuple[list[str], list[str]]:
    entry = engine.stored(f"role/{name}")
    if entry is None:
        return [], []
    groups = sorted(g["group_name"] for g in entry["managed_groups"])
    policies = sorted(p["policy_name"] for p in entry["inline_policies"] if p["policy_id"])
    return groups, policies


def _assert_account_matches_roles(engine: Mount, emulator: RunningEmulator, *roles: str) -> None:
    groups: list[str] = []
    policies: list[str] = []
    for role in roles:
        g, p = _role_objects(engine, role)
        groups += g
        policies += p
    assert group_names(emulator) == sorted(groups)
    assert custom_policy_names(emulator) == sorted(policies)
    for group in account(emulator)["Groups"]:
        expected = next(
            json.loads(engine.storage.get(f"role/{r}").value)  # type: ignore[union-attr]
            for r in roles
            if group["GroupName"] in _role_objects(engine, r)[0]
        )
        ids = {p["policy_id"] for p in expected["remote_policies"]}
        ids |= {p["policy_id"] for p in expected["inline_policies"]}
        assert set(group["PolicyIds"]) == ids
    assert engine.wal() == []
    assert engine.storage.list("retired/") == []


@pytest.mark.parametrize("mode", sorted(FAULT_MODES))
@pytest.mark.parametrize("step", ["AddUser", "AddUserToGroup"])
def test_issue(engine: Mount, emulator: RunningEmulator, step: str, mode: str) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    emulator.set_faults({"faults": [fault_rule(step, mode)]})
    issued = _attempt(engine, "read", "creds/app")
    _after_the_storm(engine, emulator)
    live = [issued] if _succeeded(issued) else []
    assert user_names(emulator) == sorted(r.data["username"] for r in live if r and r.data)
    assert engine.wal() == []
    for lease in live:
        assert lease is not None
        assert engine.revoke(lease) is None
    assert user_names(emulator) == []
    # And the role still issues.
    again = engine("read", "creds/app")
    assert _succeeded(again)


@pytest.mark.parametrize("mode", sorted(FAULT_MODES))
def test_revoke(engine: Mount, emulator: RunningEmulator, mode: str) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    issued = engine("read", "creds/app")
    assert issued is not None
    emulator.set_faults({"faults": [fault_rule("DeleteUser", mode)]})
    try:
        engine.revoke(issued)
    except logical.LogicalError:
        emulator.set_faults({"faults": []})
        assert engine.revoke(issued) is None  # Vault retries a failed revocation
    assert user_names(emulator) == []


@pytest.mark.parametrize("mode", sorted(FAULT_MODES))
@pytest.mark.parametrize(
    ("step", "nth"),
    [
        ("ListPolicies", 1),
        ("CreatePolicy", 1),
        ("CreatePolicy", 2),
        ("CreateGroup", 1),
        ("AttachGroupPolicy", 1),
        ("AttachGroupPolicy", 3),
    ],
)
def test_role_create(
    engine: Mount, emulator: RunningEmulator, step: str, nth: int, mode: str
) -> None:
    emulator.set_faults({"faults": [fault_rule(step, mode, nth)]})
    _attempt(
        engine,
        "update",
        "role/app",
        remote_policies=COS_READ,
        inline_policies=[CVM_DOC, COS_DENY_DOC],
    )
    _after_the_storm(engine, emulator)
    _assert_account_matches_roles(engine, emulator, "app")


@pytest.mark.parametrize("mode", sorted(FAULT_MODES))
@pytest.mark.parametrize(
    "step", ["CreatePolicy", "AttachGroupPolicy", "DetachGroupPolicy", "DeletePolicy"]
)
def test_role_update(engine: Mount, emulator: RunningEmulator, step: str, mode: str) -> None:
    engine("update", "role/app", remote_policies=COS_READ, inline_policies=[CVM_DOC])
    issued = engine("read", "creds/app")
    emulator.set_faults({"faults": [fault_rule(step, mode)]})
    _attempt(
        engine, "update", "role/app", remote_policies="policy_id:3", inline_policies=[COS_DENY_DOC]
    )
    _after_the_storm(engine, emulator)
    _assert_account_matches_roles(engine, emulator, "app")
    assert issued is not None
    assert engine.revoke(issued) is None
    assert user_names(emulator) == []


@pytest.mark.parametrize("mode", sorted(FAULT_MODES))
@pytest.mark.parametrize("step", ["ListUsersForGroup", "DeleteGroup", "DeletePolicy"])
def test_role_delete(engine: Mount, emulator: RunningEmulator, step: str, mode: str) -> None:
    engine("update", "role/app", remote_policies=COS_READ, inline_policies=[CVM_DOC])
    emulator.set_faults({"faults": [fault_rule(step, mode)]})
    _attempt(engine, "delete", "role/app")
    _after_the_storm(engine, emulator)
    assert engine.stored("role/app") is None
    assert (group_names(emulator), custom_policy_names(emulator)) == ([], [])
    assert engine.storage.list("retired/") == []


def test_rollback_never_deletes_a_user_it_did_not_create(
    engine: Mount, emulator: RunningEmulator
) -> None:
    """A WAL entry whose AddUser never ran, while someone else made a user of that name."""
    engine("update", "role/app", remote_policies=COS_READ, username_template="fixed-{{random 6}}")
    emulator.set_faults(
        {"faults": [{"action": "AddUser", "nth": 1, "drop": "before", "times": 10}]}
    )
    assert _attempt(engine, "read", "creds/app") is None
    [wal_id] = engine.wal()
    entry = engine.stored(f"wal/{wal_id}")
    assert entry is not None
    name = entry["data"]["username"]
    emulator.set_faults({"faults": []})
    from tencentcloud_secrets.tencentcloud import models_cam as cm

    engine.backend.client(engine.storage).cam.add_user(cm.AddUserRequest(name, remark="theirs"))
    engine.rollback()
    assert user_names(emulator) == [name]
    assert engine.wal() == []


def test_a_failed_issue_cleans_up_at_once(engine: Mount, emulator: RunningEmulator) -> None:
    """Without waiting for the rollback: the user AddUser made is deleted before answering."""
    engine("update", "role/app", remote_policies=COS_READ)
    emulator.set_faults({"faults": [fault_rule("AddUserToGroup", "error")]})
    with pytest.raises(logical.CodedError) as err:
        engine("read", "creds/app")
    assert err.value.status == 502
    assert "AddUserToGroup answered InternalError" in str(err.value)
    assert user_names(emulator) == []
    assert engine.wal() == []


def test_a_failed_role_write_cleans_up_at_once(engine: Mount, emulator: RunningEmulator) -> None:
    emulator.set_faults({"faults": [fault_rule("AttachGroupPolicy", "error", 2)]})
    with pytest.raises(logical.CodedError):
        engine("update", "role/app", remote_policies=COS_READ, inline_policies=[CVM_DOC])
    assert (group_names(emulator), custom_policy_names(emulator)) == ([], [])
    assert engine.wal() == []
    assert engine.stored("role/app") is None


# --- Vault's request deadline -----------------------------------------------------------------


def test_cloud_calls_end_before_vaults_deadline(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    emulator.set_faults({"latency": {"per_action": {"AddUserToGroup": {"fixed_ms": 4000}}}})
    with pytest.raises(logical.CodedError) as err:
        engine("read", "creds/app", deadline=time.monotonic() + 3.5)
    assert err.value.status in (502, 504)
    assert "AddUserToGroup" in str(err.value)
    emulator.set_faults({"faults": []})
    time.sleep(4)  # let the held AddUserToGroup land, then clean up as Vault would
    engine.rollback()
    assert user_names(emulator) == []
    assert engine.wal() == []


def test_a_request_past_its_deadline_creates_nothing(
    engine: Mount, emulator: RunningEmulator
) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    with pytest.raises(logical.CodedError) as err:
        engine("read", "creds/app", deadline=time.monotonic() + 1.0)
    assert err.value.status == 504
    assert "AddUser" not in action_names(emulator)[-1:]
    assert user_names(emulator) == []
    assert engine.wal() == []


def test_an_answer_vault_no_longer_waits_for_is_taken_back(
    engine: Mount, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last guard: the credential is made, but too late to reach Vault. It is not handed
    out: the user is deleted at once, and only then the WAL entry."""
    engine("update", "role/app", remote_policies=COS_READ)
    monkeypatch.setattr(engine.backend, "cloud_deadline", lambda request: Deadline(None))
    with pytest.raises(logical.CodedError) as err:
        engine("read", "creds/app", deadline=time.monotonic() + 0.5)
    assert err.value.status == 504
    assert user_names(emulator) == []
    assert engine.wal() == []
    assert action_names(emulator)[-3:] == ["AddUser", "AddUserToGroup", "DeleteUser"]


def test_a_credential_finished_past_the_rollback_bound_is_taken_back(
    engine: Mount, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its WAL entry may already be rolled back under it: the credential is not handed out."""

    class Spent(Deadline):
        def passed(self) -> bool:
            return True

    engine("update", "role/app", remote_policies=COS_READ)
    monkeypatch.setattr(engine.backend, "cloud_deadline", lambda request: Spent(None))
    with pytest.raises(logical.CodedError) as err:
        engine("read", "creds/app")
    assert err.value.status == 504
    assert user_names(emulator) == []
    assert engine.wal() == []
