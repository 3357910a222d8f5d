"""Registration flows, sha256 pinning and version reporting, through the vault CLI."""

from __future__ import annotations

from tools.vaultserver import PLUGIN_NAME, VaultServer, sha256_of


def _catalog(vault: VaultServer, kind: str, name: str) -> list[dict[str, str]]:
    listing = vault.cli("plugin", "list", "-detailed", "-format=json").json()
    return [p for p in listing["details"] if p["name"] == name and p["type"] == kind]


def test_typed_registration_flow_from_readme(fresh_vault: VaultServer) -> None:
    sha = fresh_vault.install_plugin()
    out = fresh_vault.cli("plugin", "register", f"-sha256={sha}", "secret", PLUGIN_NAME)
    assert "Registered plugin" in out.output
    fresh_vault.cli("secrets", "enable", "-path=tencentcloud", PLUGIN_NAME)
    mounts = fresh_vault.client().sys.list_mounted_secrets_engines()["data"]
    assert mounts["tencentcloud/"]["type"] == PLUGIN_NAME


def test_untyped_catalog_write_and_generic_enable(fresh_vault: VaultServer) -> None:
    sha = fresh_vault.install_plugin()
    fresh_vault.cli(
        "write",
        "sys/plugins/catalog/tencentcloudsecrets",
        f"sha_256={sha}",
        f"command={PLUGIN_NAME}",
    )
    # Type detection must find a secrets engine, not a database plugin.
    assert _catalog(fresh_vault, "secret", "tencentcloudsecrets")
    assert not _catalog(fresh_vault, "database", "tencentcloudsecrets")

    fresh_vault.cli(
        "secrets", "enable", "--plugin-name=tencentcloudsecrets", "--path=tencentcloud", "plugin"
    )
    fresh_vault.cli("secrets", "enable", "-plugin-name=tencentcloudsecrets", "plugin")
    mounts = fresh_vault.client().sys.list_mounted_secrets_engines()["data"]
    assert mounts["tencentcloud/"]["type"] == "tencentcloudsecrets"
    assert mounts["tencentcloudsecrets/"]["type"] == "tencentcloudsecrets"
    fresh_vault.cli(
        "write",
        "tencentcloudsecrets/role/probe",
        "role_arn=qcs::cam::uin/100000000001:roleName/app",
    )
    read = fresh_vault.cli("read", "-format=json", "tencentcloudsecrets/role/probe").json()
    assert read["data"]["credential_type"] == "assumed_role"


def test_wrong_sha256_is_refused(fresh_vault: VaultServer) -> None:
    sha = fresh_vault.install_plugin()
    wrong = ("0" if sha[0] != "0" else "1") + sha[1:]
    fresh_vault.cli("plugin", "register", f"-sha256={wrong}", "secret", PLUGIN_NAME, check=False)
    enabled = fresh_vault.cli("secrets", "enable", "-path=tencentcloud", PLUGIN_NAME, check=False)
    assert enabled.returncode != 0
    assert "checksums did not match" in enabled.output or "sha256" in enabled.output.lower()
    assert "tencentcloud/" not in fresh_vault.client().sys.list_mounted_secrets_engines()["data"]


def test_binary_changed_after_registration_is_refused(fresh_vault: VaultServer) -> None:
    fresh_vault.register()
    target = fresh_vault.plugin_dir / PLUGIN_NAME
    target.write_bytes(target.read_bytes() + b"\n# tampered\n")
    enabled = fresh_vault.cli("secrets", "enable", "-path=tampered", PLUGIN_NAME, check=False)
    assert enabled.returncode != 0
    assert "checksums did not match" in enabled.output


def test_version_is_reported(vault: VaultServer, mount: str) -> None:
    from tencentcloud_secrets import PLUGIN_VERSION

    sha = sha256_of(vault.plugin_dir / PLUGIN_NAME)
    assert [p["version"] for p in _catalog(vault, "secret", PLUGIN_NAME)] == [PLUGIN_VERSION]
    info = vault.cli(
        "plugin", "info", "-format=json", f"-version={PLUGIN_VERSION}", "secret", PLUGIN_NAME
    ).json()
    assert info["version"] == PLUGIN_VERSION
    assert info["sha256"] == sha
    detailed = vault.cli("secrets", "list", "-detailed", "-format=json").json()[f"{mount}/"]
    assert detailed["running_plugin_version"] == PLUGIN_VERSION
    assert detailed["plugin_version"] == PLUGIN_VERSION
    assert detailed["running_sha256"] == sha
    table = vault.cli("secrets", "list", "-detailed").stdout
    assert any(
        line.startswith(f"{mount}/") and PLUGIN_VERSION in line for line in table.splitlines()
    )
