"""Write-ahead log entries in plugin storage, in the layout Vault's framework uses.

An entry is written before a cloud-side object is created and deleted once the object is
recorded (or known not to exist). Entries left behind by a crash or a failure are replayed by
the periodic rollback through a per-kind function. Layout: key ``wal/<uuid>``, value JSON
``{"type": kind, "data": ..., "created_at": <unix seconds>}``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from tencentcloud_secrets.framework.uuids import random_uuid
from tencentcloud_secrets_shim import logical

WAL_PREFIX = "wal/"
DEFAULT_ROLLBACK_MIN_AGE = 600.0
"""Vault's default: an entry younger than ten minutes may belong to a request in flight."""

WALRollbackFunc = Callable[[logical.Request, Any], None]
"""Undo what one entry stands for; must be safe to run twice. Raising keeps the entry."""

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WALEntry:
    id: str
    kind: str
    data: Any
    created_at: int


def _json_ready(data: Any) -> Any:
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return dataclasses.asdict(data)
    return data


def put_wal(
    storage: logical.Storage, kind: str, data: Any, *, created_at: float | None = None
) -> str:
    """Write an entry and return its id. ``data`` must be JSON-encodable (or a dataclass)."""
    stamp = int(time.time() if created_at is None else created_at)
    value = json.dumps({"type": kind, "data": _json_ready(data), "created_at": stamp})
    entry_id = random_uuid()
    storage.put(logical.StorageEntry(key=WAL_PREFIX + entry_id, value=value.encode("utf-8")))
    return entry_id


def get_wal(storage: logical.Storage, entry_id: str) -> WALEntry | None:
    stored = storage.get(WAL_PREFIX + entry_id)
    if stored is None:
        return None
    raw = json.loads(stored.value)
    return WALEntry(
        id=entry_id,
        kind=str(raw.get("type", "")),
        data=raw.get("data"),
        created_at=int(raw.get("created_at", 0)),
    )


def delete_wal(storage: logical.Storage, entry_id: str) -> None:
    storage.delete(WAL_PREFIX + entry_id)


def list_wal(storage: logical.Storage) -> list[str]:
    return [key.removeprefix(WAL_PREFIX) for key in storage.list(WAL_PREFIX)]


@dataclasses.dataclass(frozen=True)
class RollbackFailure:
    """One entry that could not be rolled back; it stays in storage for the next run."""

    entry_id: str
    kind: str
    message: str

    def describe(self) -> str:
        return f'error rolling back "{self.kind}" entry: {self.message}'


def rollback_wal(
    request: logical.Request,
    storage: logical.Storage,
    functions: Mapping[str, WALRollbackFunc],
    *,
    min_age: float,
    now: float,
) -> list[RollbackFailure]:
    """Replay entries at least ``min_age`` seconds old; delete each one that succeeded.

    A request carrying an ``immediate`` key replays every entry regardless of age.
    """
    cutoff = now - min_age
    if "immediate" in (request.data or {}):
        cutoff = now + 1000 * 3600
    failures: list[RollbackFailure] = []
    for entry_id in list_wal(storage):
        try:
            entry = get_wal(storage, entry_id)
        except (ValueError, AttributeError, TypeError):
            logger.warning("WAL entry %s is unreadable; leaving it in place", entry_id)
            failures.append(RollbackFailure(entry_id, "", "entry is not valid JSON"))
            continue
        if entry is None or not entry.created_at < cutoff:
            continue
        function = functions.get(entry.kind)
        if function is None:
            failures.append(RollbackFailure(entry_id, entry.kind, "unknown WAL entry kind"))
            continue
        try:
            function(request, entry.data)
        except logical.LogicalError as exc:
            failures.append(RollbackFailure(entry_id, entry.kind, str(exc)))
            continue
        except Exception:
            logger.exception("rollback of WAL entry %s (%s) failed", entry_id, entry.kind)
            failures.append(RollbackFailure(entry_id, entry.kind, "internal error, see the log"))
            continue
        delete_wal(storage, entry_id)
    return failures
