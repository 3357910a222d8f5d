"""Credentials through the real Vault: the original plugin's scripts, hvac, leases renewed and
revoked by Vault, errors as statuses, and the plugin killed in the middle of an issue."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import hvac
import pytest
import requests

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import AuthenticationError
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tests.support.account import access_key_ids, account, group_names, marked, user_names
from tests.support.cloud_client import client_as
from tests.support.mount_config import write_config
from tests.support.relaunch import read_once_relaunched
from tests.support.seed import COS_READ, CVM_DOC, DEMO_ROLE_ARN
from tools.vaultserver import PLUGIN_NAME, VaultServer


@pytest.fixture
def engine_mount(vault: VaultServer, mount: str, emulator: RunningEmulator) -> str:
    write_config(vault, mount, emulator)
    return mount


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_the_original_plugins_scripts_work_unchanged(
    vault: VaultServer, engine_mount: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    documents = tmp_path / "inline.json"
    documents.write_text(json.dumps([CVM_DOC]))
    vault.cli(
        "write",
        f"{engine_mount}/role/policy-based",
        "remote_policies=policy_name:ReadOnlyAccess,scope:All",
        f"remote_policies={COS_READ}",
        f"inline_policies=@{documents}",
    )
    role = vault.cli("read", "-format=json", f"{engine_mount}/role/policy-based").json()["data"]
    assert [p["policy_name"] for p in role["remote_policies"]] == [
        "ReadOnlyAccess",
        "QcloudCOSReadOnlyAccess",
    ]
    assert role["inline_policies"][0]["policy_document"] == CVM_DOC
    assert vault.cli("list", "-format=json", f"{engine_mount}/role").json() == ["policy-based"]

    issued = vault.cli("read", "-format=json", f"{engine_mount}/creds/policy-based").json()
    assert issued["renewable"] is True
    assert issued["lease_id"].startswith(f"{engine_mount}/creds/policy-based/")
    data = issued["data"]
    assert {"secret_id", "secret_key", "username", "uin"} <= set(data)
    with client_as(emulator, data["secret_id"], data["secret_key"]) as as_user:
        assert as_user.sts.get_caller_identity().type == "CAMUser"
        assert data["username"] in [u.name for u in as_user.cam.list_users()]  # ReadOnlyAccess
        with pytest.raises(AuthenticationError):
            as_user.cam.add_user(cm.AddUserRequest("not-allowed", remark="x"))

    # A role change reaches the live credential: drop ReadOnlyAccess, keep COS read.
    vault.cli(
        "write",
        f"{engine_mount}/role/policy-based",
        f"remote_policies={COS_READ}",
    )
    narrowed = client_as(emulator, data["secret_id"], data["secret_key"])
    with narrowed, pytest.raises(AuthenticationError):
        narrowed.cam.list_users()

    renewed = vault.cli(
        "lease", "renew", "-format=json", "-increment=30m", issued["lease_id"]
    ).json()
    assert renewed["lease_duration"] == 1800
    vault.cli("lease", "revoke", issued["lease_id"])  # queued: Vault revokes in the background
    _wait_for(lambda: user_names(emulator) == [], 30, "the revocation")
    vault.cli("delete", f"{engine_mount}/role/policy-based")
    assert group_names(emulator) == []


def test_cam_lease_ttls_follow_the_mount_and_the_role(
    vault: VaultServer, engine_mount: str, emulator: RunningEmulator
) -> None:
    """The engine asks Vault nothing about TTLs when it issues: Vault applies the mount's
    default and max as it registers the lease, the engine the role's max."""
    vault.cli("secrets", "tune", "-default-lease-ttl=20m", "-max-lease-ttl=1h", engine_mount)
    vault.cli("write", f"{engine_mount}/role/ttls", f"remote_policies={COS_READ}")

    def issue(*args: str) -> dict[str, Any]:
        lease: dict[str, Any] = vault.cli(
            "read", "-format=json", f"{engine_mount}/creds/ttls", *args
        ).json()
        vault.cli("lease", "revoke", "-sync", lease["lease_id"])
        return lease

    assert issue()["lease_duration"] == 1200  # the mount's default
    assert issue("ttl=30m")["lease_duration"] == 1800
    over_mount = issue("ttl=3h")
    assert over_mount["lease_duration"] == 3600  # the mount's max
    assert any("capped" in warning for warning in over_mount["warnings"])
    vault.cli("write", f"{engine_mount}/role/ttls", f"remote_policies={COS_READ}", "max_ttl=10m")
    over_role = issue("ttl=30m")
    assert over_role["lease_duration"] == 600  # the role's max
    assert any("capped" in warning for warning in over_role["warnings"])
    vault.cli("write", f"{engine_mount}/role/ttls", f"remote_policies={COS_READ}", "ttl=5m")
    assert issue()["lease_duration"] == 300  # the role's ttl
    assert user_names(emulator) == []
    vault.cli("delete", f"{engine_mount}/role/ttls")


def test_sts_credentials_through_hvac(
    vault: VaultServer, engine_mount: str, emulator: RunningEmulator
) -> None:
    client = vault.client()
    client.write_data(f"{engine_mount}/role/deployer", data={"role_arn": DEMO_ROLE_ARN})
    issued = client.read(f"{engine_mount}/creds/deployer")
    assert issued["renewable"] is False
    assert 7100 <= issued["lease_duration"] <= 7200
    data = issued["data"]
    assert set(data) == {"secret_id", "secret_key", "token", "expiration"}
    with client_as(emulator, data["secret_id"], data["secret_key"], data["token"]) as session:
        assert session.sts.get_caller_identity().type == "CAMRole"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.renew_lease(issued["lease_id"])
    client.sys.revoke_lease(issued["lease_id"])

    policy = {
        "version": "2.0",
        "statement": [{"effect": "allow", "action": "cam:GetUser", "resource": "*"}],
    }
    client.write_data(
        f"{engine_mount}/role/federated",
        data={"credential_type": "federation_token", "session_policy": json.dumps(policy)},
    )
    federated = client.write_data(f"{engine_mount}/creds/federated", data={"ttl": "20m"})
    assert federated["renewable"] is False
    assert 1190 <= federated["lease_duration"] <= 1200
    token = federated["data"]
    with client_as(emulator, token["secret_id"], token["secret_key"], token["token"]) as fed:
        assert fed.sts.get_caller_identity().account_id == str(emulator.owner_uin)


def test_revoke_prefix_after_the_role_was_deleted(
    vault: VaultServer, engine_mount: str, emulator: RunningEmulator
) -> None:
    client = vault.client()
    client.write_data(f"{engine_mount}/role/app", data={"inline_policies": [CVM_DOC]})
    leases = [client.read(f"{engine_mount}/creds/app")["lease_id"] for _ in range(3)]
    assert len(user_names(emulator)) == 3
    deleted = requests.delete(
        f"{vault.addr}/v1/{engine_mount}/role/app", headers={"X-Vault-Token": vault.token}
    )
    assert "removed after those leases end" in " ".join(deleted.json()["warnings"])
    revoked = vault.cli("lease", "revoke", "-prefix", f"{engine_mount}/creds/app")
    _wait_for(lambda: user_names(emulator) == [], 30, f"revocation ({revoked.output})")

    def all_gone() -> bool:
        for lease in leases:
            try:
                client.sys.read_lease(lease)
                return False
            except hvac.exceptions.InvalidRequest:
                continue
        return True

    _wait_for(all_gone, 30, "the leases to be gone")


def test_config_change_with_live_leases(
    vault: VaultServer, engine_mount: str, emulator: RunningEmulator
) -> None:
    client = vault.client()
    client.write_data(f"{engine_mount}/role/app", data={"remote_policies": "policy_id:3"})
    lease = client.read(f"{engine_mount}/creds/app")["lease_id"]
    client.write_data(f"{engine_mount}/config", data={"max_retries": 1, "request_timeout": "10s"})
    client.sys.revoke_lease(lease)
    assert user_names(emulator) == []


def test_errors_reach_the_user_as_statuses(
    vault: VaultServer, engine_mount: str, emulator: RunningEmulator
) -> None:
    client = vault.client()
    with pytest.raises(hvac.exceptions.InvalidRequest) as bad:
        client.write_data(
            f"{engine_mount}/role/app", data={"remote_policies": "policy_name:NoSuchPolicy"}
        )
    assert 'remote_policies: no CAM policy is named "NoSuchPolicy"' in str(bad.value)
    assert client.read(f"{engine_mount}/role/app") is None

    client.write_data(f"{engine_mount}/role/app", data={"remote_policies": "policy_id:3"})
    emulator.set_faults({"faults": [{"action": "AddUser", "code": "RequestLimitExceeded"}]})
    answer = requests.get(
        f"{vault.addr}/v1/{engine_mount}/creds/app", headers={"X-Vault-Token": vault.token}
    )
    assert answer.status_code == 503
    [message] = answer.json()["errors"]
    assert "RequestLimitExceeded" in message
    assert "RequestId" in message
    emulator.set_faults({"faults": []})
    assert user_names(emulator) == []

    warned = client.write_data(f"{engine_mount}/role/app", data={"colour": "blue"})
    assert "colour" in " ".join(warned["warnings"])


def _engine_with_a_role(server: VaultServer, emulator: RunningEmulator) -> hvac.Client:
    """The plugin registered on a server of the test's own, mounted at tencentcloud/ and
    configured against the emulator, with a CAM role ``app``; a client of that server."""
    server.register()
    server.cli("secrets", "enable", "-path=tencentcloud", PLUGIN_NAME)
    write_config(server, "tencentcloud", emulator)
    client = server.client()
    client.write_data("tencentcloud/role/app", data={"remote_policies": "policy_id:3"})
    return client


def test_vault_restart_with_live_leases(
    built: None, tmp_path: Path, emulator: RunningEmulator
) -> None:
    server = VaultServer(tmp_path, dev=False).start()
    try:
        client = _engine_with_a_role(server, emulator)
        lease = client.read("tencentcloud/creds/app")["lease_id"]
        server.restart()
        assert len(user_names(emulator)) == 1
        server.client().sys.revoke_lease(lease)
        assert user_names(emulator) == []
    finally:
        server.stop()


def test_plugin_killed_between_adduser_and_addusertogroup(
    vault: VaultServer, emulator: RunningEmulator
) -> None:
    """The WAL entry written before AddUser survives the crash; Vault's rollback manager
    (about once a minute) has the relaunched plugin delete the user. A lease issued before
    the crash still revokes."""
    mount = "tc-crash"
    vault.cli("secrets", "enable", f"-path={mount}", "-options=rollback_min_age=30s", PLUGIN_NAME)
    try:
        write_config(vault, mount, emulator)
        client = vault.client()
        client.write_data(f"{mount}/role/app", data={"remote_policies": "policy_id:3"})
        survivor = client.read(f"{mount}/creds/app")["lease_id"]
        [survivor_user] = user_names(emulator)
        emulator.set_faults({"latency": {"per_action": {"AddUserToGroup": {"fixed_ms": 8000}}}})
        outcome: dict[str, Any] = {}

        def issue() -> None:
            try:
                outcome["response"] = vault.client().read(f"{mount}/creds/app")
            except Exception as exc:  # the plugin dies under it
                outcome["error"] = exc

        worker = threading.Thread(target=issue)
        worker.start()
        _wait_for(lambda: len(emulator.requests("AddUser")) >= 2, 30, "the second AddUser")
        time.sleep(1.0)  # AddUserToGroup is now held by the emulator for 8 s
        for pid in vault.plugin_pids():
            os.kill(pid, signal.SIGKILL)
        worker.join(60)
        emulator.set_faults({"faults": []})
        # Vault may retry the request once on a relaunched plugin: that lease is real.
        retried = outcome.get("response")
        leases = [survivor] + ([retried["lease_id"]] if retried else [])
        accounted = {survivor_user} | ({retried["data"]["username"]} if retried else set())
        [orphan] = [u for u in user_names(emulator) if u not in accounted]
        # The next request relaunches the plugin; the rollback manager does the rest.
        read_once_relaunched(client, f"{mount}/role/app")
        _wait_for(lambda: orphan not in user_names(emulator), 150, "the rollback")
        for lease in leases:
            client.sys.revoke_lease(lease)
        assert user_names(emulator) == []
    finally:
        vault.cli("secrets", "disable", mount, check=False)


def test_32_concurrent_issues_through_vault(
    vault: VaultServer, engine_mount: str, emulator: RunningEmulator
) -> None:
    client = vault.client()
    for name in ("one", "two"):
        client.write_data(f"{engine_mount}/role/{name}", data={"remote_policies": "policy_id:3"})
    roles = ["one"] * 24 + ["two"] * 8

    def issue(role: str) -> dict[str, Any]:
        answer: dict[str, Any] = vault.client().read(f"{engine_mount}/creds/{role}")
        return answer

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        issued = list(pool.map(issue, roles))
    names = sorted(answer["data"]["username"] for answer in issued)
    assert len(set(names)) == 32
    assert user_names(emulator) == names
    vault.cli("lease", "revoke", "-prefix", f"{engine_mount}/creds")
    _wait_for(lambda: user_names(emulator) == [], 60, "revocation of 32 leases")


def test_plugin_exits_with_a_cloud_call_in_flight_when_vault_dies(
    built: None, tmp_path: Path, emulator: RunningEmulator
) -> None:
    """An orphaned plugin must not go on calling Tencent Cloud: it exits although a request
    is still waiting for an answer, leaving the WAL entry for the next active node."""
    server = VaultServer(tmp_path).start()
    try:
        client = _engine_with_a_role(server, emulator)
        emulator.set_faults({"latency": {"per_action": {"AddUserToGroup": {"fixed_ms": 30000}}}})
        threading.Thread(
            target=lambda: _swallow(lambda: client.read("tencentcloud/creds/app")), daemon=True
        ).start()
        _wait_for(lambda: bool(emulator.requests("AddUser")), 30, "AddUser")
        time.sleep(0.5)
        pids = server.plugin_pids()
        assert pids
    finally:
        server.stop(signal.SIGKILL)
    _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), 10, "the exit")
    emulator.set_faults({"faults": []})


def _swallow(call: Any) -> None:
    with contextlib.suppress(Exception):
        call()


def test_a_creds_read_whose_client_goes_away_leaves_no_user(
    vault: VaultServer, engine_mount: str, emulator: RunningEmulator
) -> None:
    """The client gives up while AddUserToGroup is slow; Vault cancels the plugin call. The
    credential reaches nobody, so the user it was made for is deleted, and no lease exists."""
    client = vault.client()
    client.write_data(f"{engine_mount}/role/app", data={"remote_policies": "policy_id:3"})
    emulator.set_faults({"latency": {"per_action": {"AddUserToGroup": {"fixed_ms": 3000}}}})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            f"{vault.addr}/v1/{engine_mount}/creds/app",
            headers={"X-Vault-Token": vault.token},
            timeout=1.0,
        )
    [made] = [e["params"]["Name"] for e in emulator.requests("AddUser")]
    assert made in user_names(emulator)  # AddUserToGroup is still held by the emulator
    _wait_for(lambda: made not in user_names(emulator), 30, "the unwanted user's removal")
    emulator.set_faults({"faults": []})
    leases = vault.cli(
        "list", "-format=json", f"sys/leases/lookup/{engine_mount}/creds/app", check=False
    )
    assert leases.returncode != 0 or leases.json() == []
    # The role's group alone.
    assert marked(account(emulator)) == {
        "users": [],
        "groups": group_names(emulator),
        "policies": [],
        "keys": [],
    }


def test_disabling_the_mount_removes_what_it_made(
    vault: VaultServer, mount: str, emulator: RunningEmulator
) -> None:
    """Vault revokes the leases, then the engine, told the mount is going, deletes the
    roles' groups and policies and the static roles' keys before Vault erases its storage."""
    write_config(vault, mount, emulator)
    client = vault.client()
    client.write_data(
        f"{mount}/role/app",
        data={"remote_policies": "policy_id:3", "inline_policies": json.dumps([CVM_DOC])},
    )
    client.write_data(f"{mount}/role/other", data={"remote_policies": "policy_id:3"})
    client.read(f"{mount}/creds/app")
    root = client_as(emulator, emulator.secret_id, emulator.secret_key)
    with root:
        bot = root.cam.add_user(cm.AddUserRequest("ci-bot", remark="theirs"))
    vault.cli("write", f"{mount}/static-roles/ci", "username=ci-bot")
    # A lease's user, two groups, one policy, and the static role's key.
    made = marked(account(emulator))
    assert {kind: len(names) for kind, names in made.items()} == {
        "users": 1,
        "groups": 2,
        "policies": 1,
        "keys": 1,
    }
    vault.cli("secrets", "disable", mount)
    assert marked(account(emulator)) == {"users": [], "groups": [], "policies": [], "keys": []}
    assert access_key_ids(emulator, bot.uin) == []
    assert user_names(emulator) == ["ci-bot"]
