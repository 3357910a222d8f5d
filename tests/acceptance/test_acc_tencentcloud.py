"""Against real Tencent Cloud: the whole lifecycle through a real Vault, with `make test-acc`.

Needs ``TENCENTCLOUD_SECRET_ID`` and ``TENCENTCLOUD_SECRET_KEY`` (a key allowed to manage CAM
users, groups and policies, and to call STS) and ``TENCENTCLOUD_ROLE_ARN`` (a CAM role that key
may assume); ``TENCENTCLOUD_REGION`` is optional. Without them every test here is skipped with
one message.

Everything the tests name carries the prefix ``vaultacc-`` (roles, and so the engine's groups
and policies for them; users; STS sessions), and a ``finally`` revokes the leases and deletes
the roles, which removes the engine's objects, even when a test fails. Each test then checks
with the engine's key that nothing it created is left.

``TENCENTCLOUD_ACC_ENDPOINT=http://127.0.0.1:9400`` sends every call to a running emulator
instead (with the demo account's key and ``qcs::cam::uin/100000000001:roleName/vault-demo-role``):
a rehearsal of this file, not a substitute for running it on the real service.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tencentcloud_secrets.tencentcloud import (
    Credentials,
    Endpoint,
    EndpointResolver,
    NotFoundError,
    TencentCloudClient,
)
from tencentcloud_secrets.tencentcloud import models_cam as cam
from tools.tcsdk import Holder
from tools.vaultserver import PLUGIN_BIN, PLUGIN_NAME, VaultServer, vault_binary

SECRET_ID = os.environ.get("TENCENTCLOUD_SECRET_ID", "")
SECRET_KEY = os.environ.get("TENCENTCLOUD_SECRET_KEY", "")
ROLE_ARN = os.environ.get("TENCENTCLOUD_ROLE_ARN", "")
REGION = os.environ.get("TENCENTCLOUD_REGION", "ap-guangzhou")
ENDPOINT = os.environ.get("TENCENTCLOUD_ACC_ENDPOINT") or None

if not (SECRET_ID and SECRET_KEY and ROLE_ARN):
    pytest.skip(
        "acceptance tests need real Tencent Cloud: set TENCENTCLOUD_SECRET_ID, "
        "TENCENTCLOUD_SECRET_KEY and TENCENTCLOUD_ROLE_ARN (optionally TENCENTCLOUD_REGION), "
        "then run `make test-acc`",
        allow_module_level=True,
    )

PREFIX = "vaultacc-"
# CAM takes a few seconds to accept a new key everywhere, and to forget a deleted one.
PROPAGATION_SECONDS = 60
INLINE_POLICY = [
    {
        "version": "2.0",
        "statement": [{"effect": "allow", "action": ["cvm:DescribeInstances"], "resource": "*"}],
    }
]


def _run_id() -> str:
    return secrets.token_hex(3)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[TencentCloudClient]:
    """The project's client on the engine's key: for checks the test makes behind Vault."""
    endpoints = None
    if ENDPOINT:
        endpoint = Endpoint.parse(ENDPOINT)
        endpoints = EndpointResolver(overrides={"cam": endpoint, "sts": endpoint})
    token = os.environ.get("TENCENTCLOUD_SECURITY_TOKEN") or None
    with TencentCloudClient(
        Credentials(SECRET_ID, SECRET_KEY, token), region=REGION, endpoints=endpoints
    ) as c:
        yield c


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultServer]:
    if not vault_binary().is_file() or not PLUGIN_BIN.is_file():
        pytest.fail("the Vault binary or the plugin is missing: run `make bootstrap dev`")
    server = VaultServer(tmp_path_factory.mktemp("vault-acc")).start()
    try:
        server.register()
        yield server
    finally:
        server.stop()


class Mount:
    """A mount configured with the engine's key, and the names a test made on it."""

    def __init__(self, vault: VaultServer, path: str) -> None:
        self.vault = vault
        self.path = path
        self.roles: list[str] = []
        self.usernames: list[str] = []

    def cli_json(self, command: str, *args: str) -> Any:
        """``command`` is the subcommand, words separated by spaces ("lease renew")."""
        result = self.vault.cli(*command.split(), "-format=json", *args)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def write_role(self, name: str, *fields: str) -> None:
        assert name.startswith(PREFIX)
        self.roles.append(name)  # before the write: a half-made role is cleaned up too
        self.vault.cli("write", f"{self.path}/role/{name}", *fields)

    def issue(self, role: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.cli_json("read", f"{self.path}/creds/{role}")
        username = answer["data"].get("username")
        if username:
            self.usernames.append(username)
        return answer

    def clean_up(self, client: TencentCloudClient) -> list[str]:
        """Revoke every lease of the mount, delete the roles, then delete any user a lease
        named that is still there (and say so: that is a bug)."""
        problems = []
        revoked = self.vault.cli(
            "lease", "revoke", "-prefix", "-sync", f"{self.path}/creds/", check=False
        )
        if revoked.returncode != 0:
            problems.append(f"revoke-prefix: {revoked.output.strip()}")
        for role in self.roles:
            deleted = self.vault.cli("delete", f"{self.path}/role/{role}", check=False)
            if deleted.returncode != 0:
                problems.append(f"deleting role {role}: {deleted.output.strip()}")
        for username in self.usernames:
            try:
                client.cam.delete_user(cam.DeleteUserRequest(username, force=True))
            except NotFoundError:
                continue
            problems.append(f"user {username} outlived its lease; deleted by the test")
        self.vault.cli("secrets", "disable", self.path, check=False)
        return problems


@pytest.fixture
def mount(vault: VaultServer, client: TencentCloudClient) -> Iterator[Mount]:
    path = f"{PREFIX}{_run_id()}"
    vault.cli("secrets", "enable", f"-path={path}", PLUGIN_NAME)
    mount = Mount(vault, path)
    config = [f"secret_id={SECRET_ID}", f"secret_key={SECRET_KEY}", f"region={REGION}"]
    if ENDPOINT:
        config += [f"cam_endpoint={ENDPOINT}", f"sts_endpoint={ENDPOINT}"]
    problems: list[str] = []
    try:
        vault.cli("write", f"{path}/config", *config)
        yield mount
    finally:
        problems = mount.clean_up(client)
    assert not problems, problems


def _holder(data: dict[str, Any]) -> Holder:
    return Holder(
        data["secret_id"], data["secret_key"], data.get("token"), endpoint=ENDPOINT, region=REGION
    )


def _rejected_within(holder: Holder, seconds: float) -> str:
    """The error code GetCallerIdentity answers once the key no longer works ('' if it still
    does after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = holder.caller_identity()
        if not answer.ok:
            return answer.code
        if time.monotonic() > deadline:
            return ""
        time.sleep(2)


# --- read-only checks of the client on the real service ---------------------------------


def test_caller_identity_of_the_engine_key(client: TencentCloudClient) -> None:
    identity = client.sts.get_caller_identity()
    assert identity.account_id
    assert identity.arn.startswith("qcs::cam::")


def test_preset_policy_is_found_by_exact_name(client: TencentCloudClient) -> None:
    policy = client.cam.find_policy_by_name("QcloudCamReadOnlyAccess")
    assert policy is not None
    assert policy.policy_name == "QcloudCamReadOnlyAccess"


def test_missing_user_is_not_found(client: TencentCloudClient) -> None:
    with pytest.raises(NotFoundError):
        client.cam.get_user(cam.GetUserRequest(f"{PREFIX}no-such-user-{_run_id()}"))


# --- the lifecycle through Vault --------------------------------------------------------


def test_cam_user_issued_used_renewed_revoked_and_gone(
    mount: Mount, client: TencentCloudClient
) -> None:
    role = f"{PREFIX}cam-{_run_id()}"
    mount.write_role(
        role,
        "remote_policies=policy_name:QcloudCamReadOnlyAccess,scope:All",
        f"inline_policies={json.dumps(INLINE_POLICY)}",
        f"username_template={PREFIX}{{{{unix_time}}}}-{{{{random 8}}}}",
        "ttl=15m",
        "max_ttl=1h",
    )
    stored = mount.cli_json("read", f"{mount.path}/role/{role}")["data"]
    assert [p["policy_name"] for p in stored["remote_policies"]] == ["QcloudCamReadOnlyAccess"]
    assert len(stored["cam_policies"]) == 1
    account = client.sts.get_caller_identity().account_id

    answer = mount.issue(role)
    data = answer["data"]
    assert data["username"].startswith(PREFIX)
    assert answer["renewable"] is True
    assert 0 < answer["lease_duration"] <= 15 * 60
    user = client.cam.get_user(cam.GetUserRequest(data["username"]))
    assert user.uin == int(data["uin"])

    holder = _holder(data)
    identity = holder.caller_identity(wait=PROPAGATION_SECONDS)
    assert identity.ok, identity.summary()
    assert str(identity.data["AccountId"]) == str(account)
    assert identity.data["Arn"].endswith(f"uin/{data['uin']}")

    renewed = mount.cli_json("lease renew", answer["lease_id"])
    assert renewed["lease_id"] == answer["lease_id"]
    assert renewed["renewable"] is True

    mount.vault.cli("lease", "revoke", "-sync", answer["lease_id"])
    with pytest.raises(NotFoundError):
        client.cam.get_user(cam.GetUserRequest(data["username"]))
    assert _rejected_within(holder, PROPAGATION_SECONDS).startswith("AuthFailure")


def test_assumed_role_credentials_work(mount: Mount, client: TencentCloudClient) -> None:
    role = f"{PREFIX}sts-{_run_id()}"
    mount.write_role(
        role,
        f"role_arn={ROLE_ARN}",
        f"session_name_template={PREFIX}{{{{unix_time}}}}-{{{{random 5}}}}",
        "session_duration=15m",
    )
    answer = mount.issue(role)
    data = answer["data"]
    assert data["token"]
    assert answer["renewable"] is False
    assert 0 < answer["lease_duration"] <= 15 * 60

    identity = _holder(data).caller_identity(wait=PROPAGATION_SECONDS)
    assert identity.ok, identity.summary()
    assert "assumed-role/" in identity.data["Arn"]
    assert f"/{PREFIX}" in identity.data["Arn"]  # the session name the role chose
    mount.vault.cli("lease", "revoke", "-sync", answer["lease_id"])


def test_role_objects_are_removed_with_the_role(mount: Mount, client: TencentCloudClient) -> None:
    role = f"{PREFIX}objs-{_run_id()}"
    mount.write_role(role, f"inline_policies={json.dumps(INLINE_POLICY)}")
    stored = mount.cli_json("read", f"{mount.path}/role/{role}")["data"]
    groups = [g["group_name"] for g in stored["cam_groups"]]
    policies = [p["policy_name"] for p in stored["cam_policies"]]
    assert groups
    assert policies
    assert all(role in name for name in groups + policies)
    mount.vault.cli("delete", f"{mount.path}/role/{role}")

    def left() -> list[str]:
        found = [g for g in groups if client.cam.find_group_by_name(g) is not None]
        return found + [
            p for p in policies if client.cam.find_policy_by_name(p, scope="Local") is not None
        ]

    deadline = time.monotonic() + PROPAGATION_SECONDS  # CAM's lists lag its deletes a little
    while left() and time.monotonic() < deadline:
        time.sleep(2)
    assert not left()
