"""Concurrent requests through Vault: inline reads and threaded writes interleave safely."""

from __future__ import annotations

import concurrent.futures

from tools.vaultserver import VaultServer


def test_parallel_writes_and_reads_stay_consistent(vault: VaultServer, mount: str) -> None:
    def worker(n: int) -> list[str]:
        client = vault.client()
        names = []
        for i in range(25):
            name = f"w{n}-{i}"
            client.write_data(
                f"{mount}/role/{name}",
                data={"role_arn": f"qcs::cam::uin/{n}:roleName/r{i}", "ttl": i},
            )
            role = client.read(f"{mount}/role/{name}")["data"]  # an inline read
            assert role["role_arn"] == f"qcs::cam::uin/{n}:roleName/r{i}"
            assert role["ttl"] == i
            assert client.read(f"{mount}/config") is None  # another inline read
            names.append(name)
        return names

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        written = [name for names in pool.map(worker, range(8)) for name in names]
    listed = vault.client().list(f"{mount}/role")["data"]["keys"]
    assert sorted(listed) == sorted(written)
    assert len(listed) == 200
