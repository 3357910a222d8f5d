"""config/rotate-root, scheduled rotation and static roles, against the emulator, with faults
and crashes at every step: afterwards Vault knows exactly one working key per identity it
manages, and no key it created is left that it does not know."""

from __future__ import annotations

import contextlib

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets import framework as fw
from tencentcloud_secrets import rotation
from tencentcloud_secrets.paths.config import read_config
from tencentcloud_secrets.paths.static_roles import read_static_role
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets_shim import logical
from tests.support.account import access_key_ids, account
from tests.support.cloud_client import client_as
from tests.support.faults import FAULT_MODES, fault_rule
from tests.support.request_log import action_names
from tests.unit.engine.support import Mount, data_of, error_of


class Crash(BaseException):
    """The process dies here: nothing after this line runs, no cleanup either."""


def _works(emulator: RunningEmulator, secret_id: str, secret_key: str) -> bool:
    with client_as(emulator, secret_id, secret_key) as client:
        try:
            client.sts.get_caller_identity()
        except Exception:
            return False
    return True


@pytest.fixture
def engine_uin(engine: Mount, emulator: RunningEmulator) -> int:
    """The engine acts as a sub-user with a key of its own (the setup the docs recommend)."""
    cam = client_as(emulator, emulator.secret_id, emulator.secret_key).cam
    user = cam.add_user(cm.AddUserRequest("vault-engine", remark="setup", use_api=True))
    cam.attach_user_policy(cm.AttachUserPolicyRequest(1, user.uin))
    engine("update", "config", secret_id=user.secret_id, secret_key=user.secret_key)
    engine.clock.on_sleep = emulator.advance_clock  # CAM propagation waits cost no time
    return user.uin


def _assert_root_consistent(engine: Mount, emulator: RunningEmulator, uin: int) -> None:
    config = read_config(engine.storage)
    assert config is not None
    assert access_key_ids(emulator, uin) == [config.secret_id]
    assert _works(emulator, config.secret_id, config.secret_key)
    assert engine.wal() == []


# --- rotate-root -------------------------------------------------------------------------------


def test_rotate_root(engine: Mount, emulator: RunningEmulator, engine_uin: int) -> None:
    old = read_config(engine.storage)
    assert old is not None
    before = len(action_names(emulator))
    rotated = engine("update", "config/rotate-root")
    data = data_of(rotated)
    assert set(data) == {"secret_id"}
    assert action_names(emulator)[before:] == [
        "ListAccessKeys",
        "CreateAccessKey",
        "GetCallerIdentity",
        "DeleteAccessKey",
    ]
    assert data["secret_id"] != old.secret_id
    assert data_of(engine("read", "config"))["secret_id"] == data["secret_id"]
    _assert_root_consistent(engine, emulator, engine_uin)
    assert not _works(emulator, old.secret_id, old.secret_key)
    # The mount keeps working with the new key.
    engine("update", "role/r", remote_policies="policy_id:3")
    assert engine("read", "creds/r") is not None


def test_rotate_root_waits_for_the_new_key_to_propagate(
    engine: Mount, emulator: RunningEmulator, engine_uin: int
) -> None:
    emulator.set_faults({"faults": [], "key_activation_delay": 20})
    data_of(engine("update", "config/rotate-root"))
    identity_calls = [e["code"] for e in emulator.requests("GetCallerIdentity")]
    assert identity_calls[0] == "AuthFailure.SecretIdNotFound"
    assert identity_calls[-1] == "Success"
    _assert_root_consistent(engine, emulator, engine_uin)


def test_a_key_that_never_works_is_taken_back(
    engine: Mount, emulator: RunningEmulator, engine_uin: int
) -> None:
    old = read_config(engine.storage)
    emulator.set_faults({"faults": [], "key_activation_delay": 3600})
    with pytest.raises(logical.CodedError) as err:
        engine("update", "config/rotate-root")
    assert "SecretIdNotFound" in str(err.value)
    assert read_config(engine.storage) == old
    _assert_root_consistent(engine, emulator, engine_uin)


def test_rotate_root_refuses_a_user_holding_two_keys(
    engine: Mount, emulator: RunningEmulator, engine_uin: int
) -> None:
    extra = engine.backend.client(engine.storage).cam.create_access_key(
        cm.CreateAccessKeyRequest(engine_uin)
    )
    message = error_of(engine("update", "config/rotate-root"))
    assert "already holds 2 access keys" in message
    assert extra.access_key_id in message
    assert action_names(emulator)[-1] == "ListAccessKeys"


def test_rotate_root_needs_configured_keys(engine: Mount) -> None:
    engine("update", "config", secret_id="", secret_key="")
    assert "needs keys configured on this mount" in error_of(engine("update", "config/rotate-root"))


@pytest.mark.parametrize("mode", sorted(FAULT_MODES))
@pytest.mark.parametrize(
    "step", ["ListAccessKeys", "CreateAccessKey", "GetCallerIdentity", "DeleteAccessKey"]
)
def test_rotate_root_faults(
    engine: Mount, emulator: RunningEmulator, engine_uin: int, step: str, mode: str
) -> None:
    emulator.set_faults({"faults": [fault_rule(step, mode)]})
    with contextlib.suppress(logical.LogicalError):
        engine("update", "config/rotate-root")
    emulator.set_faults({"faults": []})
    engine.rollback()
    _assert_root_consistent(engine, emulator, engine_uin)


@pytest.mark.parametrize("where", ["after-create", "after-store"])
def test_rotate_root_crash(
    engine: Mount,
    emulator: RunningEmulator,
    engine_uin: int,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    def crash(*_: object, **__: object) -> None:
        raise Crash

    target = "wait_until_usable" if where == "after-create" else "delete"
    monkeypatch.setattr(rotation.KeyRotation, target, crash)
    with pytest.raises(Crash):
        engine("update", "config/rotate-root")
    monkeypatch.undo()
    assert len(access_key_ids(emulator, engine_uin)) == 2  # both keys exist after the crash
    engine.backend.reset_client()  # a new process
    engine.rollback()
    _assert_root_consistent(engine, emulator, engine_uin)


@pytest.mark.parametrize("where", ["before-store", "between-store-and-wal-delete"])
def test_rotate_root_crash_around_the_store(
    engine: Mount,
    emulator: RunningEmulator,
    engine_uin: int,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """Both WAL entries (the new key's and the old key's) are left. The rollback must keep
    whichever key is stored, whatever the entries say, and delete the other."""
    from tencentcloud_secrets.paths import rotate_root as rotate_root_module

    def crash(*_: object, **__: object) -> None:
        raise Crash

    if where == "before-store":
        monkeypatch.setattr(rotate_root_module, "write_config", crash)
    else:
        monkeypatch.setattr(fw, "delete_wal", crash)
    with pytest.raises(Crash):
        engine("update", "config/rotate-root")
    monkeypatch.undo()
    assert len(engine.wal()) == 2
    assert len(access_key_ids(emulator, engine_uin)) == 2
    engine.backend.reset_client()  # a new process
    engine.rollback()
    _assert_root_consistent(engine, emulator, engine_uin)


def test_a_rotation_rollback_deletes_only_keys_with_its_marker(
    engine: Mount, emulator: RunningEmulator, engine_uin: int
) -> None:
    """A key of the user that Vault does not use, but made by someone else, is kept."""
    cam = engine.backend.client(engine.storage).cam
    theirs = cam.create_access_key(
        cm.CreateAccessKeyRequest(engine_uin, description="Vault root key rotation #theirs")
    )
    fw.put_wal(
        engine.storage,
        rotation.WAL_ACCESS_KEY,
        {"target_uin": engine_uin, "description": "Vault root key rotation #mine"},
    )
    engine.rollback()
    assert theirs.access_key_id in access_key_ids(emulator, engine_uin)
    assert engine.wal() == []


# --- scheduled rotation ------------------------------------------------------------------------


def test_scheduled_rotation_with_backoff(
    engine: Mount, emulator: RunningEmulator, engine_uin: int
) -> None:
    engine("update", "config", rotation_period="1h")
    view = data_of(engine("read", "config"))
    assert view["next_rotation"] > view["last_rotation"]
    first = read_config(engine.storage)
    assert first is not None
    engine.rollback()  # not due yet
    assert read_config(engine.storage) == first
    engine.clock.fixed = first.last_rotated + 3601
    emulator.set_faults({"faults": [{"action": "CreateAccessKey", "code": "InternalError"}]})
    engine.rollback()
    attempts = len(emulator.requests("CreateAccessKey"))
    assert attempts == 1
    engine.rollback()  # within the backoff: no new attempt
    assert len(emulator.requests("CreateAccessKey")) == attempts
    emulator.set_faults({"faults": []})
    engine.clock.fixed = first.last_rotated + 3601 + 61
    engine.rollback()
    rotated = read_config(engine.storage)
    assert rotated is not None
    assert rotated.secret_id != first.secret_id
    assert rotated.last_rotated == engine.clock.now()
    _assert_root_consistent(engine, emulator, engine_uin)


def test_rotation_period_needs_configured_keys(mount: Mount) -> None:
    assert "needs keys configured" in error_of(mount("update", "config", rotation_period="1h"))
    assert "at least 1m" in error_of(
        mount("update", "config", secret_id="AKIDx", secret_key="k", rotation_period="10s")
    )


# --- static roles ------------------------------------------------------------------------------


@pytest.fixture
def bot(engine: Mount, emulator: RunningEmulator) -> int:
    """An existing user without keys (with a group of its own, which Vault leaves alone)."""
    engine.clock.on_sleep = emulator.advance_clock
    cam = engine.backend.client(engine.storage).cam
    user = cam.add_user(cm.AddUserRequest("ci-bot", remark="theirs"))
    group = cam.create_group(cm.CreateGroupRequest("bots")).group_id
    cam.add_user_to_group(cm.AddUserToGroupRequest((cm.GroupMembership(group, uin=user.uin),)))
    return user.uin


def _assert_static_consistent(
    engine: Mount, emulator: RunningEmulator, bot: int, name: str = "ci"
) -> None:
    role = read_static_role(engine.storage, name)
    assert role is not None
    assert access_key_ids(emulator, bot) == [role.secret_id]
    assert _works(emulator, role.secret_id, role.secret_key)
    assert engine.wal() == []


def test_static_role_lifecycle(engine: Mount, emulator: RunningEmulator, bot: int) -> None:
    assert engine("update", "static-roles/ci", username="ci-bot", rotation_period="1h") is None
    creds = data_of(engine("read", "static-creds/ci"))
    assert creds["username"] == "ci-bot"
    assert 3590 <= creds["ttl"] <= 3600
    _assert_static_consistent(engine, emulator, bot)
    rotated = data_of(engine("update", "rotate-role/ci"))
    assert rotated["secret_id"] != creds["secret_id"]
    assert "secret_key" not in rotated
    _assert_static_consistent(engine, emulator, bot)
    assert data_of(engine("list", "static-roles/")) == {"keys": ["ci"]}
    assert engine("delete", "static-roles/ci") is None
    assert access_key_ids(emulator, bot) == []  # as Vault found it
    [user] = [u for u in account(emulator)["Users"] if u["Uin"] == bot]
    assert len(user["GroupIds"]) == 1


def test_static_role_by_uin_and_refusals(
    engine: Mount, emulator: RunningEmulator, bot: int
) -> None:
    assert engine("update", "static-roles/ci", uin=bot) is None
    assert data_of(engine("read", "static-roles/ci"))["username"] == "ci-bot"
    assert "cannot change" in error_of(engine("update", "static-roles/ci", username="other"))
    assert "no CAM sub-user is named" in error_of(
        engine("update", "static-roles/x", username="nobody")
    )
    assert engine.stored("static-role/x") is None
    # A user with a key of its own leaves a rotation no room.
    cam = engine.backend.client(engine.storage).cam
    keyed = cam.add_user(cm.AddUserRequest("keyed", remark="t", use_api=True))
    message = error_of(engine("update", "static-roles/keyed", username="keyed"))
    assert f"holds access keys ({keyed.secret_id})" in message
    assert engine.stored("static-role/keyed") is None
    assert access_key_ids(emulator, keyed.uin) == [keyed.secret_id]


def test_static_roles_rotate_on_schedule(
    engine: Mount, emulator: RunningEmulator, bot: int
) -> None:
    engine("update", "static-roles/ci", username="ci-bot", rotation_period="1h")
    first = read_static_role(engine.storage, "ci")
    assert first is not None
    engine.clock.fixed = first.last_rotated + 3601
    engine.rollback()
    second = read_static_role(engine.storage, "ci")
    assert second is not None
    assert second.secret_id != first.secret_id
    _assert_static_consistent(engine, emulator, bot)


@pytest.mark.parametrize("mode", sorted(FAULT_MODES))
@pytest.mark.parametrize(
    "step", ["ListAccessKeys", "CreateAccessKey", "GetCallerIdentity", "DeleteAccessKey"]
)
def test_static_rotation_faults(
    engine: Mount, emulator: RunningEmulator, bot: int, step: str, mode: str
) -> None:
    engine("update", "static-roles/ci", username="ci-bot")
    emulator.set_faults({"faults": [fault_rule(step, mode)]})
    with contextlib.suppress(logical.LogicalError):
        engine("update", "rotate-role/ci")
    emulator.set_faults({"faults": []})
    engine.rollback()
    _assert_static_consistent(engine, emulator, bot)
