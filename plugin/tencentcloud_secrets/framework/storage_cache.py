"""A mount's storage entries kept in memory, so a read served from them makes no call to Vault.

Every request through a plugin costs a gRPC exchange with Vault; a storage read costs a
second one, which is half the price of reading a role. Only this mount's backend writes
its storage, and Vault tells it of any other change (replication, a new active node that
writes) through ``invalidate``, so entries may be kept until one of those says otherwise.

Correctness rules, each guarding a race between threads:
- a write or delete goes to Vault first and then drops the key (and every cached list):
  the next read fetches what Vault holds, whatever order concurrent writers finished in;
- a read that missed stores its answer only if nothing was dropped while it was fetching
  (a generation counter), so a slow reader never puts back a value a writer replaced;
- a failed call caches nothing.
Missing keys are remembered too, up to a bound, since a role that does not exist is read
as often as one that does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from tencentcloud_secrets_shim import logical

V = TypeVar("V")
MAX_ENTRIES = 10_000  # past this the cache starts over: roles and config are far fewer


class StorageCache:
    """The cached keys of one mount: those under the given prefixes (an exact key counts)."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        self._prefixes = tuple(prefixes)
        self._entries: dict[str, logical.StorageEntry | None] = {}
        self._lists: dict[str, list[str]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def covers(self, key: str) -> bool:
        return key.startswith(self._prefixes)

    def view(self, storage: logical.Storage) -> CachedStorage:
        """``storage`` (this request's) with reads served from the cache where it can."""
        return CachedStorage(self, storage)

    def forget(self, key: str) -> None:
        """Drop ``key`` and every cached list: Vault changed it, or a write just did."""
        with self._lock:
            self._generation += 1
            self._entries.pop(key, None)
            self._lists.clear()

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._lists.clear()

    def __len__(self) -> int:
        return len(self._entries) + len(self._lists)

    def get(
        self, key: str, fetch: Callable[[], logical.StorageEntry | None]
    ) -> logical.StorageEntry | None:
        return self._cached(self._entries, key, fetch)

    def list(self, prefix: str, fetch: Callable[[], list[str]]) -> list[str]:
        return self._cached(self._lists, prefix, fetch).copy()

    def _cached(self, table: dict[str, V], key: str, fetch: Callable[[], V]) -> V:
        with self._lock:
            if key in table:
                return table[key]
            generation = self._generation
        value = fetch()
        with self._lock:
            if generation == self._generation:
                if len(self._entries) + len(self._lists) >= MAX_ENTRIES:
                    self._entries.clear()
                    self._lists.clear()
                table[key] = value
        return value


class CachedStorage:
    """``logical.Storage`` that answers cached keys from memory and writes through to Vault."""

    def __init__(self, cache: StorageCache, storage: logical.Storage) -> None:
        self.cache = cache
        self.storage = storage

    def get(self, key: str) -> logical.StorageEntry | None:
        if not self.cache.covers(key):
            return self.storage.get(key)
        return self.cache.get(key, lambda: self.storage.get(key))

    def list(self, prefix: str) -> list[str]:
        if not self.cache.covers(prefix):
            return self.storage.list(prefix)
        return self.cache.list(prefix, lambda: list(self.storage.list(prefix)))

    def put(self, entry: logical.StorageEntry) -> None:
        try:
            self.storage.put(entry)
        finally:
            if self.cache.covers(entry.key):
                self.cache.forget(entry.key)

    def delete(self, key: str) -> None:
        try:
            self.storage.delete(key)
        finally:
            if self.cache.covers(key):
                self.cache.forget(key)
