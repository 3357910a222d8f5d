"""`vault path-help` and the OpenAPI document describe the plugin's paths."""

from __future__ import annotations

from tools.vaultserver import VaultServer


def test_path_help_of_mount_and_path(vault: VaultServer, mount: str) -> None:
    root = vault.cli("path-help", f"{mount}/").output
    assert "Tencent Cloud" in root
    assert "role/" in root
    assert "creds/" in root
    assert "config" in root
    role = vault.cli("path-help", f"{mount}/role/example").output
    assert "credential_type" in role
    assert "remote_policies" in role


def test_openapi_lists_paths_with_operation_ids(vault: VaultServer, mount: str) -> None:
    doc = vault.client().adapter.get("/v1/sys/internal/specs/openapi")
    paths = doc["paths"]
    role_path = f"/{mount}/role/{{name}}"
    assert role_path in paths, sorted(p for p in paths if p.startswith(f"/{mount}/"))
    operation_ids = {
        op["operationId"]
        for op in paths[role_path].values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert any(oid.startswith("tencent-cloud-") and "role" in oid for oid in operation_ids)
    assert f"/{mount}/config" in paths
    assert f"/{mount}/creds/{{name}}" in paths
