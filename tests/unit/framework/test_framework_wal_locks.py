"""Write-ahead log layout and rollback, and per-key locks."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets_shim import logical

NOW = 1_700_000_000.0


def test_wal_layout_matches_vault(storage: logical.InmemStorage) -> None:
    entry_id = fw.put_wal(storage, "user", {"name": "u1"}, created_at=NOW)
    stored = storage.get("wal/" + entry_id)
    assert stored is not None
    assert json.loads(stored.value) == {
        "type": "user",
        "data": {"name": "u1"},
        "created_at": int(NOW),
    }
    assert fw.list_wal(storage) == [entry_id]
    assert fw.get_wal(storage, entry_id) == fw.WALEntry(entry_id, "user", {"name": "u1"}, int(NOW))
    fw.delete_wal(storage, entry_id)
    assert fw.get_wal(storage, entry_id) is None
    assert fw.list_wal(storage) == []


class Cloud:
    """A fake cloud whose rollback can be told to fail."""

    def __init__(self) -> None:
        self.users = {"u1", "u2"}
        self.fail = False
        self.calls = 0

    def delete_user(self, request: logical.Request, data: Any) -> None:
        # Safe to repeat: deleting a user that is already gone is a success.
        self.calls += 1
        if self.fail:
            raise logical.CodedError(502, "cloud unavailable")
        self.users.discard(data["name"])


def _backend(cloud: Cloud, clock: list[float], storage: logical.InmemStorage) -> fw.Backend:
    b = fw.Backend(wal_rollback={"user": cloud.delete_user}, clock=lambda: clock[0])
    b.setup(logical.BackendConfig(storage=storage, system_view=logical.StaticSystemView()))
    return b


def _rollback(b: fw.Backend, storage: logical.InmemStorage, data: Any = None) -> Any:
    request = logical.Request(operation="rollback", path="", data=data or {})
    request.storage = storage
    return b.handle_request(request)


def test_rollback_respects_min_age(storage: logical.InmemStorage) -> None:
    cloud, clock = Cloud(), [NOW]
    b = _backend(cloud, clock, storage)
    entry_id = fw.put_wal(storage, "user", {"name": "u1"}, created_at=NOW)
    assert _rollback(b, storage) is None
    assert cloud.users == {"u1", "u2"}
    assert fw.list_wal(storage) == [entry_id]
    clock[0] = NOW + 601  # default min age is ten minutes
    assert _rollback(b, storage) is None
    assert cloud.users == {"u2"}
    assert fw.list_wal(storage) == []


def test_immediate_rollback(storage: logical.InmemStorage) -> None:
    cloud, clock = Cloud(), [NOW]
    b = _backend(cloud, clock, storage)
    fw.put_wal(storage, "user", {"name": "u2"}, created_at=NOW)
    assert _rollback(b, storage, {"immediate": True}) is None
    assert cloud.users == {"u1"}


def test_failed_rollback_keeps_entry_and_retries(storage: logical.InmemStorage) -> None:
    cloud, clock = Cloud(), [NOW + 3600]
    b = _backend(cloud, clock, storage)
    entry_id = fw.put_wal(storage, "user", {"name": "u1"}, created_at=NOW)
    cloud.fail = True
    response = _rollback(b, storage)
    assert response.data == {"error": 'error rolling back "user" entry: cloud unavailable'}
    assert fw.list_wal(storage) == [entry_id]
    cloud.fail = False
    assert _rollback(b, storage) is None
    assert fw.list_wal(storage) == []
    # Idempotence: replaying the same entry again does no harm.
    cloud.delete_user(logical.Request(operation="rollback", path=""), {"name": "u1"})
    assert cloud.users == {"u2"}


def test_unknown_kind_and_internal_errors_keep_entries(
    storage: logical.InmemStorage, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(request: logical.Request, data: Any) -> None:
        raise RuntimeError("key=SECRET")

    b = fw.Backend(wal_rollback={"crash": crash}, clock=lambda: NOW + 3600)
    mystery = fw.put_wal(storage, "mystery", {}, created_at=NOW)
    crashed = fw.put_wal(storage, "crash", {}, created_at=NOW)
    response = _rollback(b, storage)
    assert "unknown WAL entry kind" in response.data["error"]
    assert "internal error" in response.data["error"]
    assert "SECRET" not in response.data["error"]
    assert "RuntimeError" in caplog.text
    assert sorted(fw.list_wal(storage)) == sorted([mystery, crashed])


def test_dataclass_wal_data(storage: logical.InmemStorage) -> None:
    import dataclasses

    @dataclasses.dataclass
    class UserWAL:
        name: str
        policies: list[str]

    entry_id = fw.put_wal(storage, "user", UserWAL("u", ["p"]))
    entry = fw.get_wal(storage, entry_id)
    assert entry is not None
    assert entry.data == {"name": "u", "policies": ["p"]}


# --- locks ------------------------------------------------------------------------------


def test_same_key_same_lock_and_reentrant() -> None:
    locks = fw.KeyLocks(count=4)
    assert locks.lock_for("role/a") is locks.lock_for("role/a")
    with locks.locked("role/a", "role/b", "role/a"), locks.locked("role/a"):
        pass


def test_locks_serialise_read_modify_write(storage: logical.InmemStorage) -> None:
    locks = fw.KeyLocks()
    storage.put(logical.StorageEntry(key="counter", value=b"0"))

    def bump() -> None:
        for _ in range(200):
            with locks.locked("counter"):
                entry = storage.get("counter")
                assert entry is not None
                value = int(entry.value) + 1
                storage.put(logical.StorageEntry(key="counter", value=str(value).encode()))

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = storage.get("counter")
    assert final is not None
    assert int(final.value) == 1600


def test_lock_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one"):
        fw.KeyLocks(count=0)


def test_random_uuids_are_version_4_text() -> None:
    import uuid

    from tencentcloud_secrets.framework.uuids import random_uuid

    made = {random_uuid() for _ in range(1000)}
    assert len(made) == 1000
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
