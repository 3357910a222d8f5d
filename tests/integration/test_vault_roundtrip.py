"""Plugin-backed storage through Vault: write, read, list, delete; mounts kept apart."""

from __future__ import annotations

import hvac
import pytest

from tools.vaultserver import PLUGIN_NAME, VaultServer


def test_roundtrip_through_cli(vault: VaultServer, mount: str) -> None:
    vault.cli(
        "write",
        f"{mount}/role/app",
        "role_arn=qcs::cam::uin/100000000001:roleName/app",
        "ttl=1h",
    )
    read = vault.cli("read", "-format=json", f"{mount}/role/app").json()["data"]
    assert read["credential_type"] == "assumed_role"
    assert read["role_arn"] == "qcs::cam::uin/100000000001:roleName/app"
    assert read["ttl"] == 3600
    listed = vault.cli("list", "-format=json", f"{mount}/role").json()
    assert listed == ["app"]
    vault.cli("delete", f"{mount}/role/app")
    missing = vault.cli("read", f"{mount}/role/app", check=False)
    assert missing.returncode == 2  # the CLI's "no value found"
    assert "No value found" in missing.output


def test_roundtrip_through_hvac(vault: VaultServer, mount: str) -> None:
    client = vault.client()
    client.write_data(
        f"{mount}/role/svc",
        data={"role_arn": "qcs::cam::uin/100000000001:roleName/app"},
    )
    assert (
        client.read(f"{mount}/role/svc")["data"]["role_arn"]
        == "qcs::cam::uin/100000000001:roleName/app"
    )
    client.write_data(f"{mount}/role/svc", data={"ttl": "30m"})  # update keeps other fields
    role = client.read(f"{mount}/role/svc")["data"]
    assert role["ttl"] == 1800
    assert role["credential_type"] == "assumed_role"
    assert client.list(f"{mount}/role")["data"]["keys"] == ["svc"]
    client.delete(f"{mount}/role/svc")
    assert client.read(f"{mount}/role/svc") is None
    assert client.list(f"{mount}/role") is None


def test_bad_input_is_a_400_that_names_the_field(vault: VaultServer, mount: str) -> None:
    client = vault.client()
    with pytest.raises(hvac.exceptions.InvalidRequest) as err:
        client.write_data(
            f"{mount}/role/bad",
            data={"role_arn": "qcs::cam::uin/100000000001:roleName/app", "ttl": "forever"},
        )
    assert "ttl" in str(err.value)
    assert client.read(f"{mount}/role/bad") is None  # nothing half-written


def test_two_mounts_one_process_separate_data(vault: VaultServer) -> None:
    for path in ("tc-a", "tc-b"):
        vault.cli("secrets", "enable", f"-path={path}", PLUGIN_NAME)
    try:
        vault.cli(
            "write",
            "tc-a/role/only-in-a",
            "role_arn=qcs::cam::uin/100000000001:roleName/app",
        )
        assert vault.cli("list", "-format=json", "tc-a/role").json() == ["only-in-a"]
        assert vault.cli("read", "tc-b/role/only-in-a", check=False).returncode == 2
        assert len(vault.plugin_pids()) == 1
    finally:
        for path in ("tc-a", "tc-b"):
            vault.cli("secrets", "disable", path, check=False)
