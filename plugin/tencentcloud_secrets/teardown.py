"""Removing what a mount made in the account when the mount itself is removed.

``vault secrets disable`` revokes every lease of the mount (each lease's user is deleted),
runs a last rollback, calls the backend's Cleanup, and then erases the mount's storage. The
roles' groups and policies, static roles' keys and anything a young WAL entry still names
would be forgotten with that storage. Cleanup is also called when Vault seals, stops or
reloads the plugin, where everything must stay; the mount is "tainted" only while it is being
removed, so that flag decides.

Every deletion here is one the engine would make anyway (a role delete, a static role
delete, the rollback of every entry regardless of age), with the same marker checks.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.paths.static_roles import STATIC_ROLE_PREFIX, delete_static_role
from tencentcloud_secrets.role import CAM_USER, ROLE_PREFIX, read_role
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import TencentCloudError
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)

TEARDOWN_BUDGET = 45.0
"""How long the removal of one mount's objects may take, in seconds: it runs inside Vault's
``sys/mounts`` request, which the vault CLI gives up on after 60 s (Vault's own limit is
``max_request_duration``, 90 s by default), and Vault still has to erase the storage after."""


def tear_down(backend: TencentCloudBackend, storage: logical.Storage) -> list[str]:
    """Remove the mount's objects from the account; returns what could not be removed."""
    deadline = Deadline(time.monotonic() + TEARDOWN_BUDGET)
    left: list[str] = []
    request = logical.Request(
        operation=logical.ROLLBACK, path="", data={"immediate": True}, storage=storage
    )
    failures = fw.rollback_wal(request, storage, backend.wal_rollback, min_age=0.0, now=time.time())
    left.extend(failure.describe() for failure in failures)
    for name in storage.list(ROLE_PREFIX):
        role = read_role(storage, name)
        if role is None or role.credential_type != CAM_USER:
            continue
        backend.groups.retire(request, name, role)
        storage.delete(ROLE_PREFIX + name)
    try:
        left.extend(backend.groups.sweep(storage, deadline))
    except TencentCloudError as exc:
        left.append(f"retired role objects: {exc}")
    for name in storage.list(STATIC_ROLE_PREFIX):
        try:
            delete_static_role(backend, storage, name, deadline)
        except TencentCloudError as exc:
            left.append(f"the key of static role {name}: {exc}")
    return left


def tear_down_if_unmounting(backend: TencentCloudBackend) -> None:
    """Cleanup's half that acts only when Vault is removing the mount."""
    config = backend.config
    try:
        unmounting = config.system_view.tainted()
    except Exception as exc:  # a Vault that cannot answer is not removing the mount
        log.warning("could not ask Vault whether the mount is being removed: %s", exc)
        return
    if not unmounting:
        return
    log.info("the mount is being removed: deleting its roles' objects from the account")
    try:
        left = tear_down(backend, config.storage)
    except Exception as exc:
        log.error("removing the mount's objects failed: %s", exc)
        return
    for what in left:
        log.error("left in the account after the mount was removed: %s", what)
