"""Per-key locks for read-modify-write of storage within one mount.

Requests run concurrently in a thread pool, so two writes to the same role could interleave
between their read and their write. A fixed set of locks picked by a hash of the key bounds
memory however many keys exist (as Vault's locksutil does); locks are re-entrant, so holding
one key's lock while taking another that hashes to the same slot cannot deadlock.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator

DEFAULT_LOCK_COUNT = 256


class KeyLocks:
    def __init__(self, count: int = DEFAULT_LOCK_COUNT) -> None:
        if count < 1:
            raise ValueError("need at least one lock")
        self._locks = tuple(threading.RLock() for _ in range(count))

    def _index(self, key: str) -> int:
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % len(self._locks)

    def lock_for(self, key: str) -> threading.RLock:
        """The lock guarding ``key`` (the same object for the same key, always)."""
        return self._locks[self._index(key)]

    @contextlib.contextmanager
    def locked(self, *keys: str) -> Iterator[None]:
        """Hold the locks of all ``keys``, taken in a fixed order so callers cannot deadlock."""
        indexes = sorted({self._index(key) for key in keys})
        with contextlib.ExitStack() as stack:
            for index in indexes:
                stack.enter_context(self._locks[index])
            yield
