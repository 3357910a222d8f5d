"""The engine's config path on in-memory storage, and the client it builds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.clients import DEFAULT_REGION, client_from_config
from tencentcloud_secrets.paths.config import MountConfig
from tencentcloud_secrets_shim import logical
from tests.unit.engine.support import Mount, error_of

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
    assert rule in error_of(mount("update", "config", **data))
    assert mount.stored("config") is None


def test_config_delete(mount: Mount) -> None:
    mount("update", "config", region="ap-beijing")
    assert mount("delete", "config") is None
    assert mount("read", "config") is None


# --- the client the config builds -------------------------------------------------------


def test_client_reaches_the_configured_endpoint(mount: Mount, emulator: RunningEmulator) -> None:
    mount.configure(emulator)
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


def test_missing_credentials_are_a_400_that_says_what_to_do(
    mount: Mount, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(
        "tencentcloud_secrets.tencentcloud.credentials.InstanceRoleProvider.get",
        lambda self: None,
    )
    with pytest.raises(logical.CodedError) as err:
        mount("update", "role/app", remote_policies="policy_id:3")
    assert err.value.status == 400
    assert str(err.value).startswith('writing role "app": no Tencent Cloud credentials')
    assert "answered" not in str(err.value)
