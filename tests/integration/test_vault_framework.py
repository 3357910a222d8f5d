"""The framework's leases and write-ahead log, driven by Vault itself."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tools.probe_backend import launcher_script
from tools.vaultserver import ROOT, VaultServer, sha256_of

PROBE = "framework-probe"


@pytest.fixture(scope="module")
def probe(vault: VaultServer) -> Iterator[VaultServer]:
    script = vault.plugin_dir / PROBE
    script.write_text(launcher_script(ROOT))
    script.chmod(0o755)
    vault.cli("plugin", "register", f"-sha256={sha256_of(script)}", "secret", PROBE)
    vault.cli("secrets", "enable", "-path=probe", PROBE)
    try:
        yield vault
    finally:
        vault.cli("secrets", "disable", "probe", check=False)


def _mark(vault: VaultServer, key: str) -> bool:
    return vault.cli("read", f"probe/marks/{key}", check=False).returncode == 0


def test_lease_is_issued_renewed_and_revoked_by_vault(probe: VaultServer) -> None:
    issued = probe.cli("write", "-format=json", "probe/lease/one", "ttl=1h", "max_ttl=2h").json()
    assert issued["lease_duration"] == 3600
    assert issued["renewable"] is True
    lease_id = issued["lease_id"]
    assert lease_id.startswith("probe/lease/one/")

    renewed = probe.cli("lease", "renew", "-format=json", "-increment=30m", lease_id).json()
    assert renewed["lease_duration"] == 1800
    assert _mark(probe, "renewed/one")

    # Vault caps a renewal at the backend's max TTL counted from issue time.
    capped = probe.cli("lease", "renew", "-format=json", "-increment=5h", lease_id).json()
    assert 0 < capped["lease_duration"] <= 7200

    assert not _mark(probe, "revoked/one")
    probe.cli("lease", "revoke", lease_id)
    assert _mark(probe, "revoked/one")
    lookup = probe.cli("lease", "lookup", lease_id, check=False)
    assert lookup.returncode != 0


def test_wal_entry_is_rolled_back_by_vaults_rollback_manager(probe: VaultServer) -> None:
    written = probe.cli("write", "-format=json", "-force", "probe/wal/orphan").json()
    wal_id = written["data"]["wal_id"]
    assert wal_id in probe.cli("list", "-format=json", "probe/wal-entries").json()
    # Vault's rollback manager visits every mount about once a minute.
    deadline = time.monotonic() + 150
    while not _mark(probe, "rolled-back/orphan"):
        assert time.monotonic() < deadline, probe.log_tail()
        time.sleep(2)
    # The entry is deleted once its rollback function succeeded.
    remaining = probe.cli("list", "-format=json", "probe/wal-entries", check=False)
    assert remaining.returncode != 0 or wal_id not in remaining.json()


def test_field_errors_and_unknown_paths_are_4xx(probe: VaultServer) -> None:
    bad = probe.cli("write", "probe/lease/two", "ttl=soon", check=False)
    assert bad.returncode != 0
    assert "Code: 400" in bad.output
    assert 'field "ttl"' in bad.output
    unknown = requests.get(
        f"{probe.addr}/v1/probe/no/such/path", headers={"X-Vault-Token": probe.token}, timeout=10
    )
    assert unknown.status_code == 404
    assert "unsupported path" in unknown.text
    wrong_op = probe.cli("delete", "probe/lease/two", check=False)
    assert "Code: 405" in wrong_op.output
    unknown_field = probe.cli("write", "-format=json", "probe/lease/three", "colour=blue")
    assert "colour" in " ".join(unknown_field.json()["warnings"])


def test_an_unexpected_failure_is_a_500_naming_only_the_request(probe: VaultServer) -> None:
    answer = requests.get(
        f"{probe.addr}/v1/probe/fail", headers={"X-Vault-Token": probe.token}, timeout=10
    )
    assert answer.status_code == 500
    assert "secret-probe-value" not in answer.text
    assert "Traceback" not in answer.text
    [error] = answer.json()["errors"]
    found = re.search(
        r"\* internal error \(request id ([0-9a-f-]+)\); the plugin log has the details", error
    )
    assert found is not None, error
    # The details are in the plugin's log, under the same request id, once.
    logged = [line for line in probe.log_text().splitlines() if found[1] in line]
    assert len(logged) == 1, logged
    assert "read on 'fail' failed" in logged[0]
    assert "RuntimeError" in logged[0]


def test_help_and_openapi_of_the_probe(probe: VaultServer, tmp_path: Path) -> None:
    text = probe.cli("path-help", "probe/lease/x").output
    assert "ttl" in text
    doc = probe.client().adapter.get("/v1/sys/internal/specs/openapi")
    assert "/probe/lease/{name}" in doc["paths"]
