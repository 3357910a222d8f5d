"""The mount's storage cache: reads from memory, writes through, never serves a replaced value."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.framework import storage_cache
from tencentcloud_secrets_shim import logical


class CountingStorage(logical.InmemStorage):
    """InmemStorage that counts the calls that would have gone to Vault."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.lists = 0
        self.fail_puts = False

    def get(self, key: str) -> logical.StorageEntry | None:
        self.gets += 1
        return super().get(key)

    def list(self, prefix: str) -> list[str]:
        self.lists += 1
        return super().list(prefix)

    def put(self, entry: logical.StorageEntry) -> None:
        if self.fail_puts:
            raise logical.StorageError("put refused")
        super().put(entry)


def _entry(key: str, value: str) -> logical.StorageEntry:
    return logical.StorageEntry(key, value.encode())


@pytest.fixture
def vault() -> CountingStorage:
    return CountingStorage()


@pytest.fixture
def cached(vault: CountingStorage) -> fw.CachedStorage:
    return fw.StorageCache(["config", "role/"]).view(vault)


def test_a_cached_key_is_fetched_once(vault: CountingStorage, cached: fw.CachedStorage) -> None:
    vault.put(_entry("role/a", "1"))
    assert [cached.get("role/a") for _ in range(3)] == [_entry("role/a", "1")] * 3
    assert cached.get("role/missing") is None
    assert cached.get("role/missing") is None
    assert vault.gets == 2


def test_keys_outside_the_prefixes_always_reach_vault(
    vault: CountingStorage, cached: fw.CachedStorage
) -> None:
    vault.put(_entry("wal/1", "x"))
    cached.get("wal/1")
    cached.get("wal/1")
    cached.list("wal/")
    cached.list("wal/")
    assert (vault.gets, vault.lists) == (2, 2)


def test_writes_and_deletes_go_to_vault_and_are_read_back(
    vault: CountingStorage, cached: fw.CachedStorage
) -> None:
    assert cached.list("role/") == []
    cached.put(_entry("role/a", "1"))
    assert vault.get("role/a") == _entry("role/a", "1")
    assert cached.get("role/a") == _entry("role/a", "1")
    assert cached.list("role/") == ["a"]
    cached.put(_entry("role/a", "2"))
    assert cached.get("role/a") == _entry("role/a", "2")
    cached.delete("role/a")
    assert vault.get("role/a") is None
    assert cached.get("role/a") is None
    assert cached.list("role/") == []


def test_a_failed_write_leaves_no_stale_value(
    vault: CountingStorage, cached: fw.CachedStorage
) -> None:
    cached.put(_entry("config", "old"))
    assert cached.get("config") == _entry("config", "old")
    vault.fail_puts = True
    with pytest.raises(logical.StorageError):
        cached.put(_entry("config", "new"))
    # Whatever Vault holds now is what the next read returns, not the remembered value.
    vault.fail_puts = False
    logical.InmemStorage.put(vault, _entry("config", "changed meanwhile"))
    assert cached.get("config") == _entry("config", "changed meanwhile")


def test_forget_is_how_vault_reports_a_change(
    vault: CountingStorage, cached: fw.CachedStorage
) -> None:
    vault.put(_entry("role/a", "1"))
    cached.get("role/a")
    vault.put(_entry("role/a", "2"))  # written by someone else, e.g. replicated
    assert cached.get("role/a") == _entry("role/a", "1")
    cached.cache.forget("role/a")
    assert cached.get("role/a") == _entry("role/a", "2")


def test_a_slow_read_does_not_put_back_a_value_a_writer_replaced(vault: CountingStorage) -> None:
    cache = fw.StorageCache(["role/"])
    vault.put(_entry("role/a", "old"))
    fetched = threading.Event()
    release = threading.Event()

    class SlowStorage(CountingStorage):
        def get(self, key: str) -> logical.StorageEntry | None:
            value = vault.get(key)
            fetched.set()
            release.wait(5)
            return value

    reader = threading.Thread(target=lambda: cache.view(SlowStorage()).get("role/a"))
    reader.start()
    assert fetched.wait(5)  # the reader holds "old" and has not stored it yet
    cache.view(vault).put(_entry("role/a", "new"))
    release.set()
    reader.join(5)
    assert cache.view(vault).get("role/a") == _entry("role/a", "new")


def test_the_cache_starts_over_past_its_bound(
    vault: CountingStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_cache, "MAX_ENTRIES", 3)
    cache = fw.StorageCache(["role/"])
    for name in "abcdef":
        cache.view(vault).get(f"role/{name}")
    assert len(cache) <= 3


class CachedBackend(fw.Backend):
    def __init__(self) -> None:
        super().__init__(
            paths=[
                fw.Path(
                    "role/" + fw.generic_name_regex("name"),
                    fields={"name": fw.Field(fw.FieldType.STRING)},
                    operations={
                        logical.READ: fw.Operation(self.read, inline=True),
                        logical.UPDATE: fw.Operation(self.write),
                    },
                )
            ],
            cached_storage=["role/"],
        )

    def read(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        entry = request.storage.get("role/" + data.get_str("name"))
        return None if entry is None else logical.Response(data={"v": entry.value.decode()})

    def write(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        request.storage.put(_entry("role/" + data.get_str("name"), str(request.data["v"])))
        return None


def _send(backend: fw.Backend, storage: logical.Storage, op: str, path: str, **data: Any) -> Any:
    request = logical.Request(operation=op, path=path, data=data, storage=storage)
    return backend.handle_request(request)


def test_a_backend_reads_roles_from_memory_and_hears_vaults_invalidations(
    vault: CountingStorage,
) -> None:
    backend = CachedBackend()
    backend.setup(logical.BackendConfig(storage=vault, system_view=logical.StaticSystemView()))
    _send(backend, vault, "update", "role/a", v="1")
    assert [_send(backend, vault, "read", "role/a").data for _ in range(5)] == [{"v": "1"}] * 5
    assert vault.gets == 1
    logical.InmemStorage.put(vault, _entry("role/a", "2"))
    backend.invalidate("role/a")
    assert _send(backend, vault, "read", "role/a").data == {"v": "2"}


def test_a_cache_miss_on_the_event_loop_thread_reaches_the_shim_as_would_block(
    vault: CountingStorage,
) -> None:
    class LoopThreadStorage(CountingStorage):
        def get(self, key: str) -> logical.StorageEntry | None:
            raise logical.WouldBlock()

    backend = CachedBackend()
    backend.setup(logical.BackendConfig(storage=vault, system_view=logical.StaticSystemView()))
    with pytest.raises(logical.WouldBlock):
        _send(backend, LoopThreadStorage(), "read", "role/a")
    # Served from memory, the same request never needs Vault and never blocks.
    _send(backend, vault, "update", "role/a", v="1")
    _send(backend, vault, "read", "role/a")
    assert _send(backend, LoopThreadStorage(), "read", "role/a").data == {"v": "1"}
