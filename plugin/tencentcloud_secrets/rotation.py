"""Replacing an access key without a moment in which the stored key does not work.

The order is always: WAL entry naming the new key's marker, CreateAccessKey (Description =
that marker), wait until the new key signs a call (CAM takes a moment to propagate a key),
a second WAL entry naming the old key, store the new key, delete the first entry, delete the
old key, delete the second entry. A crash at any point leaves either the old key stored and
working (the rollback deletes the unfinished new key), or the new key stored and working
(the rollback deletes the old key). Each rollback deletes a key only when Vault no longer
uses it.

Used for the mount's own key (``config/rotate-root``) and for static roles. Never logs a
secret key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.provider import CloudClient
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import (
    AuthenticationError,
    NotFoundError,
    TencentCloudError,
)
from tencentcloud_secrets_shim import logical

log = logging.getLogger(__name__)

WAL_ACCESS_KEY = "access_key"
WAL_OLD_ACCESS_KEY = "old_access_key"
KEYS_PER_USER = 2
"""CAM's limit on access keys per user."""
PROPAGATION_TIMEOUT = 60.0
"""How long a new key may take to be accepted before the rotation gives up."""


class RotationError(Exception):
    """A rotation that cannot proceed for a reason the operator must fix (a 400)."""


@dataclasses.dataclass(frozen=True)
class NewKey:
    secret_id: str
    secret_key: str = dataclasses.field(repr=False)
    wal_id: str


def marker(purpose: str) -> str:
    return f"Vault {purpose} #{secrets.token_hex(8)}"


class KeyRotation:
    """The steps of one rotation, against one CAM user (``owner_uin``; None: the caller)."""

    def __init__(
        self,
        client: CloudClient,
        storage: logical.Storage,
        owner_uin: int | None,
        *,
        deadline: Deadline | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._storage = storage
        self._owner = owner_uin
        self._deadline = deadline
        self._sleep = sleep
        self._clock = clock

    def create(self, purpose: str, keep: str) -> NewKey:
        """A new key for the owner, after checking CAM's two-keys limit leaves room.

        ``keep`` is the key Vault uses now; it is never touched here.
        """
        cam = self._client.cam
        held = cam.list_access_keys(cm.ListAccessKeysRequest(self._owner), deadline=self._deadline)
        if len(held) >= KEYS_PER_USER:
            others = [k.access_key_id for k in held if k.access_key_id != keep]
            raise RotationError(
                f"the CAM user already holds {len(held)} access keys, CAM's limit; delete "
                f"one Vault does not use ({', '.join(others)}) and try again"
            )
        description = marker(purpose)
        wal_id = fw.put_wal(
            self._storage,
            WAL_ACCESS_KEY,
            {"target_uin": self._owner, "description": description},
        )
        created = cam.create_access_key(
            cm.CreateAccessKeyRequest(target_uin=self._owner, description=description),
            deadline=self._deadline,
        )
        log.info("created access key %s (%s)", created.access_key_id, purpose)
        return NewKey(created.access_key_id, created.secret_access_key, wal_id)

    def wait_until_usable(self, as_new: CloudClient) -> None:
        """Retry GetCallerIdentity with the new key until CAM accepts it, within a bound
        (counted in the time slept, so an injected sleep keeps the bound)."""
        waited, delay = 0.0, 0.5
        while True:
            try:
                as_new.sts.get_caller_identity(deadline=self._deadline)
                return
            except AuthenticationError:
                at = self._deadline.at if self._deadline is not None else None
                late = at is not None and self._clock() + delay >= at
                if waited + delay > PROPAGATION_TIMEOUT or late:
                    raise
                self._sleep(delay)
                waited += delay
                delay = min(delay * 2, 8.0)

    def delete(self, key_id: str, client: CloudClient | None = None) -> None:
        """Delete one key of the owner; a key already gone counts as deleted."""
        cam = (client or self._client).cam
        with contextlib.suppress(NotFoundError):
            cam.delete_access_key(
                cm.DeleteAccessKeyRequest(key_id, self._owner), deadline=self._deadline
            )
        log.info("deleted access key %s", key_id)

    def replace(
        self,
        purpose: str,
        current: str,
        as_new: Callable[[NewKey], CloudClient],
        store: Callable[[NewKey], None],
        *,
        delete_old_as_new: bool,
    ) -> list[str]:
        """The whole rotation; returns warnings (an old key left for the rollback).

        ``as_new`` builds a client signing with the new key; ``store`` makes Vault use the
        new key (and must not fail after partly writing). With ``delete_old_as_new`` the old
        key is deleted by the new one (a user rotating its own key), else by the engine.
        """
        new = self.create(purpose, keep=current)
        new_client = as_new(new)
        try:
            self.wait_until_usable(new_client)
        except TencentCloudError:
            self.abandon(new)
            new_client.close()
            raise
        old_wal = ""
        if current:
            old_wal = fw.put_wal(
                self._storage, WAL_OLD_ACCESS_KEY, {"target_uin": self._owner, "key_id": current}
            )
        try:
            store(new)
        except Exception:
            if old_wal:
                fw.delete_wal(self._storage, old_wal)
            raise
        fw.delete_wal(self._storage, new.wal_id)
        warnings: list[str] = []
        try:
            if current:
                self.delete(current, new_client if delete_old_as_new else None)
                fw.delete_wal(self._storage, old_wal)
        except TencentCloudError as exc:
            log.warning("old access key %s not deleted yet: %s", current, exc.code)
            warnings.append(
                f"the old key {current} could not be deleted yet ({exc.code}); the engine "
                "retries in the background"
            )
        finally:
            new_client.close()
        return warnings

    def abandon(self, new: NewKey) -> None:
        """Take back a new key that will not be stored; the WAL entry stays if that fails."""
        try:
            self.delete(new.secret_id)
        except TencentCloudError as exc:
            log.error("could not delete the unused new key %s: %s", new.secret_id, exc.code)
            return
        fw.delete_wal(self._storage, new.wal_id)


def roll_back_key(
    client: CloudClient, data: dict[str, Any], in_use: set[str], deadline: Deadline | None
) -> None:
    """Delete keys a rotation created and never stored. Safe twice: only keys carrying that
    rotation's marker in their Description, and none that Vault uses, are deleted."""
    owner = data.get("target_uin")
    cam = client.cam
    for key in cam.list_access_keys(cm.ListAccessKeysRequest(owner), deadline=deadline):
        if key.description != data.get("description") or key.access_key_id in in_use:
            continue
        log.info("rollback: deleting access key %s of an unfinished rotation", key.access_key_id)
        try:
            cam.delete_access_key(
                cm.DeleteAccessKeyRequest(key.access_key_id, owner), deadline=deadline
            )
        except NotFoundError:
            continue


def roll_back_old_key(
    client: CloudClient, data: dict[str, Any], in_use: set[str], deadline: Deadline | None
) -> None:
    """Finish a rotation that stored its new key but did not delete the old one. Safe twice,
    and a no-op when the rotation never stored the new key (the old one is then in use)."""
    key_id = str(data.get("key_id", ""))
    if not key_id or key_id in in_use:
        return
    log.info("rollback: deleting access key %s replaced by a rotation", key_id)
    with contextlib.suppress(NotFoundError):
        client.cam.delete_access_key(
            cm.DeleteAccessKeyRequest(key_id, data.get("target_uin")), deadline=deadline
        )
