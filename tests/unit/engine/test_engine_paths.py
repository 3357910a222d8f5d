"""The engine's config and roles paths on in-memory storage, and the client they build."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.backend import TencentCloudBackend
from tencentcloud_secrets.clients import DEFAULT_REGION, client_from_config
from tencentcloud_secrets.paths.config import MountConfig
from tencentcloud_secrets_shim import logical


class Mount:
    def __init__(self) -> None:
        self.storage = logical.InmemStorage()
        self.backend = TencentCloudBackend()
        self.backend.setup(
            logical.BackendConfig(storage=self.storage, system_view=logical.StaticSystemView())
        )

    def __call__(self, operation: str, path: str, **data: Any) -> logical.Response | None:
        request = logical.Request(operation=operation, path=path, data=data, storage=self.storage)
        if operation in (logical.CREATE, logical.UPDATE):
            # As Vault does: an existence check first, whose user errors become a 400.
            check = logical.Request(operation="update", path=path, data=data, storage=self.storage)
            try:
                _, exists = self.backend.handle_existence_check(check)
            except logical.InvalidRequest as exc:
                return logical.error_response(str(exc))
            request.operation = logical.UPDATE if exists else logical.CREATE
        return self.backend.handle_request(request)

    def stored(self, key: str) -> dict[str, Any] | None:
        entry = self.storage.get(key)
        return None if entry is None else json.loads(entry.value)


@pytest.fixture
def mount() -> Iterator[Mount]:
    m = Mount()
    yield m
    m.backend.cleanup()


def _error(response: logical.Response | None) -> str:
    assert response is not None
    assert response.data is not None
    return str(response.data["error"])


# --- config ---------------------------------------------------------------------------


def test_secret_key_is_write_only(mount: Mount) -> None:
    assert (
        mount("update", "config", secret_id="AKIDx", secret_key="hush", region="ap-beijing") is None
    )
    read = mount("read", "config")
    assert read is not None
    assert read.data is not None
    assert read.data["secret_key_set"] is True
    assert "secret_key" not in read.data
    assert "hush" not in json.dumps(read.data)
    assert mount.stored("config")["secret_key"] == "hush"  # type: ignore[index]


def test_update_keeps_unsent_fields(mount: Mount) -> None:
    mount("update", "config", secret_id="AKIDx", secret_key="hush", region="ap-beijing")
    mount("update", "config", max_retries=2)
    stored = mount.stored("config")
    assert stored is not None
    assert (stored["secret_id"], stored["region"], stored["max_retries"]) == (
        "AKIDx",
        "ap-beijing",
        2,
    )


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"secret_id": "AKIDx"}, "secret_id and secret_key must be set together"),
        ({"cam_endpoint": "ftp://x"}, "cam_endpoint must be a URL"),
        ({"sts_endpoint": "http://h/path"}, "sts_endpoint must be a URL"),
        ({"max_retries": 21}, "max_retries must be between 0 and 20"),
        ({"request_timeout": "10m"}, "request_timeout must be between 1s and 5m"),
    ],
)
def test_bad_config_is_refused_and_nothing_is_written(
    mount: Mount, data: dict[str, Any], rule: str
) -> None:
    assert rule in _error(mount("update", "config", **data))
    assert mount.stored("config") is None


def test_config_delete(mount: Mount) -> None:
    mount("update", "config", region="ap-beijing")
    assert mount("delete", "config") is None
    assert mount("read", "config") is None


# --- roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"credential_type": "root"}, "credential_type"),
        ({"credential_type": "cam_user"}, "needs policies or policy_document"),
        ({"credential_type": "assumed_role"}, "needs role_arn"),
        ({"credential_type": "federation_token"}, "needs policy_document"),
        (
            {
                "credential_type": "cam_user",
                "policies": "A",
                "role_arn": "qcs::cam::uin/1:roleName/x",
            },
            "role_arn applies only",
        ),
        ({"credential_type": "cam_user", "policy_document": "[1]"}, "JSON object"),
        ({"credential_type": "cam_user", "policy_document": "{"}, "JSON object"),
        ({"credential_type": "cam_user", "policy_document": "{}" + " " * 6200}, "at most 6144"),
        (
            {"credential_type": "cam_user", "policies": "A", "ttl": "2h", "max_ttl": "1h"},
            "ttl must not be greater than max_ttl",
        ),
        ({"credential_type": "cam_user", "policies": "A", "ttl": "soon"}, 'field "ttl"'),
    ],
)
def test_bad_roles_are_refused_and_nothing_is_written(
    mount: Mount, data: dict[str, Any], rule: str
) -> None:
    assert rule in _error(mount("update", "roles/r", **data))
    assert mount.stored("roles/r") is None


def test_failed_update_keeps_the_old_role(mount: Mount) -> None:
    assert mount("update", "roles/r", credential_type="cam_user", policies="A,B") is None
    assert "needs role_arn" in _error(mount("update", "roles/r", credential_type="assumed_role"))
    stored = mount.stored("roles/r")
    assert stored is not None
    assert (stored["credential_type"], stored["policies"]) == ("cam_user", ["A", "B"])


def test_roles_list_and_delete(mount: Mount) -> None:
    for name in ("b", "a"):
        mount("update", f"roles/{name}", credential_type="cam_user", policies="A")
    listed = mount("list", "roles/")
    assert listed is not None
    assert listed.data == {"keys": ["a", "b"]}
    mount("delete", "roles/a")
    listed = mount("list", "roles/")
    assert listed is not None
    assert listed.data == {"keys": ["b"]}


# --- the client the config builds -------------------------------------------------------


def test_client_reaches_the_configured_endpoint(mount: Mount, emulator: RunningEmulator) -> None:
    mount(
        "update",
        "config",
        secret_id=emulator.secret_id,
        secret_key=emulator.secret_key,
        cam_endpoint=emulator.endpoint,
        sts_endpoint=emulator.endpoint,
    )
    identity = mount.backend.client(mount.storage).sts.get_caller_identity()
    assert identity.account_id == str(emulator.owner_uin)


def test_config_change_replaces_the_client(mount: Mount, emulator: RunningEmulator) -> None:
    mount("update", "config", cam_endpoint=emulator.endpoint, sts_endpoint=emulator.endpoint)
    first = mount.backend.client(mount.storage)
    mount("update", "config", secret_id=emulator.secret_id, secret_key=emulator.secret_key)
    second = mount.backend.client(mount.storage)
    assert second is not first
    assert second.sts.get_caller_identity().account_id == str(emulator.owner_uin)


def test_region_and_retry_settings() -> None:
    client = client_from_config(MountConfig(max_retries=0), environ={})
    assert client.region == DEFAULT_REGION
    assert client.transport.retry.max_attempts == 1
    from_env = client_from_config(MountConfig(), environ={"TENCENTCLOUD_REGION": "ap-seoul"})
    assert from_env.region == "ap-seoul"
    configured = client_from_config(
        MountConfig(region="ap-tokyo"), environ={"TENCENTCLOUD_REGION": "x"}
    )
    assert configured.region == "ap-tokyo"
