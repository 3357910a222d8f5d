"""The plugin survives what operators do to it: reload, remount, Vault restarts, crashes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tools.vaultserver import PLUGIN_NAME, VaultServer


def _write_role(vault: VaultServer, mount: str, name: str) -> None:
    vault.cli(
        "write",
        f"{mount}/role/{name}",
        "role_arn=qcs::cam::uin/100000000001:roleName/app",
    )


def _role_exists(vault: VaultServer, mount: str, name: str) -> bool:
    return vault.cli("read", f"{mount}/role/{name}", check=False).returncode == 0


def _wait_gone(pids: list[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.1)
    return False


def test_plugin_reload_keeps_data_and_replaces_process(vault: VaultServer, mount: str) -> None:
    _write_role(vault, mount, "before-reload")
    before = vault.plugin_pids()
    vault.cli("plugin", "reload", f"-plugin={PLUGIN_NAME}")
    assert _role_exists(vault, mount, "before-reload")
    after = vault.plugin_pids()
    assert after
    assert set(after).isdisjoint(before)
    assert _wait_gone(before)


def test_disable_and_reenable(vault: VaultServer) -> None:
    vault.cli("secrets", "enable", "-path=cycle", PLUGIN_NAME)
    _write_role(vault, "cycle", "x")
    vault.cli("secrets", "disable", "cycle")
    vault.cli("secrets", "enable", "-path=cycle", PLUGIN_NAME)
    try:
        assert not _role_exists(vault, "cycle", "x")  # disabling a mount deletes its data
        _write_role(vault, "cycle", "y")
        assert _role_exists(vault, "cycle", "y")
    finally:
        vault.cli("secrets", "disable", "cycle", check=False)


def test_sigkilled_plugin_is_relaunched_on_next_request(vault: VaultServer, mount: str) -> None:
    _write_role(vault, mount, "survivor")
    pids = vault.plugin_pids()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert _wait_gone(pids)
    # Vault notices the dead process on the next request and starts a new one.
    deadline = time.monotonic() + 30
    while not _role_exists(vault, mount, "survivor"):
        assert time.monotonic() < deadline, vault.log_tail()
        time.sleep(0.2)
    relaunched = vault.plugin_pids()
    assert relaunched
    assert set(relaunched).isdisjoint(pids)


def test_vault_restart_on_same_storage(built: None, tmp_path: Path) -> None:
    server = VaultServer(tmp_path, dev=False).start()
    try:
        server.register()
        server.cli("secrets", "enable", "-path=tencentcloud", PLUGIN_NAME)
        _write_role(server, "tencentcloud", "persisted")
        old_pids = server.plugin_pids()
        server.restart()
        assert _wait_gone(old_pids)  # the plugin went with the old Vault
        assert _role_exists(server, "tencentcloud", "persisted")
        assert len(server.plugin_pids()) == 1
    finally:
        server.stop()
    assert not server.plugin_pids()


def test_plugin_exits_when_vault_is_killed(built: None, tmp_path: Path) -> None:
    server = VaultServer(tmp_path).start()
    try:
        server.register()
        server.cli("secrets", "enable", "-path=tencentcloud", PLUGIN_NAME)
        pids = server.plugin_pids()
        assert pids
    finally:
        server.stop(signal.SIGKILL)
    assert _wait_gone(pids, timeout=15), "orphaned plugin process outlived Vault"


def test_the_serving_process_never_loads_the_certificate_library(
    vault: VaultServer, mount: str
) -> None:
    """The TLS identity is made by a short-lived child; the process Vault talks to has
    neither that child nor cryptography's libraries (8 MB) once it serves."""
    _write_role(vault, mount, "loaded")
    [pid] = vault.plugin_pids()
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "libpython" in maps or "python3" in maps  # the maps are readable and meaningful
    assert "cryptography" not in maps
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert children == []
