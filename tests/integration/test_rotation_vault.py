"""Key rotation through the real Vault: rotate-root, static roles, and a rotation whose plugin
is killed between creating the new key and storing it."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tests.support.account import access_key_ids
from tests.support.cloud_client import client_as
from tests.support.mount_config import write_config
from tests.support.relaunch import read_once_relaunched
from tools.vaultserver import PLUGIN_NAME, VaultServer


def _engine_user(emulator: RunningEmulator) -> tuple[int, str, str]:
    with client_as(emulator, emulator.secret_id, emulator.secret_key) as root:
        user = root.cam.add_user(cm.AddUserRequest("vault-engine", remark="setup", use_api=True))
        root.cam.attach_user_policy(cm.AttachUserPolicyRequest(1, user.uin))
    assert user.secret_id
    assert user.secret_key
    return user.uin, user.secret_id, user.secret_key


def test_rotate_root_and_static_roles(
    vault: VaultServer, mount: str, emulator: RunningEmulator
) -> None:
    uin, secret_id, secret_key = _engine_user(emulator)
    write_config(vault, mount, emulator, secret_id=secret_id, secret_key=secret_key)
    rotated = vault.cli("write", "-format=json", "-f", f"{mount}/config/rotate-root").json()
    new_id = rotated["data"]["secret_id"]
    assert new_id != secret_id
    assert "secret_key" not in rotated["data"]
    config = vault.cli("read", "-format=json", f"{mount}/config").json()["data"]
    assert config["secret_id"] == new_id
    assert config["last_rotation"]
    assert access_key_ids(emulator, uin) == [new_id]
    # The mount works on the new key.
    vault.cli("write", f"{mount}/role/r", "remote_policies=policy_id:3")
    vault.cli("read", f"{mount}/creds/r")

    with client_as(emulator, emulator.secret_id, emulator.secret_key) as root:
        bot = root.cam.add_user(cm.AddUserRequest("ci-bot", remark="theirs"))
    vault.cli("write", f"{mount}/static-roles/ci", "username=ci-bot", "rotation_period=1h")
    creds = vault.cli("read", "-format=json", f"{mount}/static-creds/ci").json()["data"]
    assert 3500 <= creds["ttl"] <= 3600
    with client_as(emulator, creds["secret_id"], creds["secret_key"]) as as_bot:
        assert as_bot.sts.get_caller_identity().type == "CAMUser"
    again = vault.cli("write", "-format=json", "-f", f"{mount}/rotate-role/ci").json()
    assert access_key_ids(emulator, bot.uin) == [again["data"]["secret_id"]]
    vault.cli("delete", f"{mount}/static-roles/ci")
    assert access_key_ids(emulator, bot.uin) == []


def test_plugin_killed_mid_rotation(vault: VaultServer, emulator: RunningEmulator) -> None:
    """Killed after CreateAccessKey, before the new key is stored: the old key stays in use
    and working, and Vault's rollback manager deletes the new one."""
    mount = "tc-rotate-crash"
    vault.cli("secrets", "enable", f"-path={mount}", "-options=rollback_min_age=30s", PLUGIN_NAME)
    try:
        uin, secret_id, secret_key = _engine_user(emulator)
        write_config(vault, mount, emulator, secret_id=secret_id, secret_key=secret_key)
        emulator.set_faults({"latency": {"per_action": {"GetCallerIdentity": {"fixed_ms": 8000}}}})
        outcome: dict[str, Any] = {}

        def rotate() -> None:
            try:
                outcome["answer"] = vault.client().write_data(f"{mount}/config/rotate-root")
            except Exception as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=rotate)
        worker.start()
        deadline = time.monotonic() + 30
        while not emulator.requests("CreateAccessKey"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1.0)  # GetCallerIdentity is held by the emulator
        for pid in vault.plugin_pids():
            os.kill(pid, signal.SIGKILL)
        worker.join(60)
        emulator.set_faults({"faults": []})
        # Vault may retry the request once on the relaunched plugin; then that rotation's
        # key is the one stored, and the killed attempt's key is the orphan.
        stored = read_once_relaunched(vault.client(), f"{mount}/config")["data"]["secret_id"]
        if "answer" not in outcome:
            assert stored == secret_id
        assert len(access_key_ids(emulator, uin)) == 2
        deadline = time.monotonic() + 150
        while access_key_ids(emulator, uin) != [stored]:
            assert time.monotonic() < deadline, access_key_ids(emulator, uin)
            time.sleep(1)
        if stored == secret_id:
            with client_as(emulator, secret_id, secret_key) as engine_key:
                assert engine_key.sts.get_caller_identity().type == "CAMUser"
        vault.cli("read", f"{mount}/config")  # the mount still answers
    finally:
        vault.cli("secrets", "disable", mount, check=False)
