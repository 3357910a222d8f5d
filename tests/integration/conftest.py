"""Fixtures that run the real Vault (built by `make vault`, or the one $VAULT_BIN names) with the
real plugin (built by `make dev`). Missing either is a failure with instructions, never a skip."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.cluster import Cluster
from tools.vaultserver import PLUGIN_BIN, PLUGIN_NAME, VaultServer, vault_binary

_mount_numbers = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.vault)


@pytest.fixture(scope="session")
def built() -> None:
    binary = vault_binary()
    if not binary.is_file():
        if os.environ.get("VAULT_BIN"):
            pytest.fail(
                f"Vault binary {binary}, named by $VAULT_BIN, is missing: `make vault"
                " VAULT_MODFILE=go.<version>.mod` builds the one tools/vault/go.<version>.mod pins"
            )
        pytest.fail(f"Vault binary {binary} is missing: run `make vault` (or `make bootstrap`)")
    if not PLUGIN_BIN.is_file():
        pytest.fail(f"{PLUGIN_BIN} is missing: run `make dev`")


@pytest.fixture(scope="session")
def vault(built: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultServer]:
    """One dev server for the session, with the plugin registered by sha256."""
    server = VaultServer(tmp_path_factory.mktemp("vault")).start()
    server.register()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_vault(built: None, tmp_path: Path) -> Iterator[VaultServer]:
    """A dev server of the test's own, for tests that disturb the server or its log."""
    server = VaultServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mount(vault: VaultServer) -> Iterator[str]:
    """A fresh mount of the plugin on the session server; its path without slashes."""
    path = f"tc{next(_mount_numbers)}"
    vault.cli("secrets", "enable", f"-path={path}", PLUGIN_NAME)
    try:
        yield path
    finally:
        vault.cli("secrets", "disable", path, check=False)


@pytest.fixture(scope="module")
def raft_cluster(built: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A three-node Raft cluster for a module, with the plugin registered by sha256. Starting
    one takes seconds, so tests share it; `cluster` puts it back together between them."""
    with Cluster(tmp_path_factory.mktemp("cluster")) as running:
        running.register()
        yield running
    assert running.leftover_plugins == [], "plugin processes outlived their Vault"


@pytest.fixture
def cluster(raft_cluster: Cluster) -> Cluster:
    """The module's cluster with every node running and a leader known to all of them: a node
    an earlier test stopped is restarted first."""
    for node in raft_cluster.nodes:
        if not node.running:
            raft_cluster.restart_node(node)
    raft_cluster.wait_active()
    return raft_cluster


@pytest.fixture
def cluster_mount(cluster: Cluster) -> Iterator[str]:
    """A fresh mount of the plugin on the cluster whose WAL entries are rolled back after 30 s,
    the shortest the engine accepts (Vault's rollback manager runs about once a minute)."""
    path = f"tc{next(_mount_numbers)}"
    cluster.active().cli(
        "secrets", "enable", f"-path={path}", "-options=rollback_min_age=30s", PLUGIN_NAME
    )
    try:
        yield path
    finally:
        cluster.wait_active().cli("secrets", "disable", path, check=False)
