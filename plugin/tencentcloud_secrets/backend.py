"""The engine's backend: wires the paths, the lease type and the rollbacks together, and owns
per-mount state.

One instance per mount. The Tencent Cloud client is built lazily from the stored
configuration and dropped whenever the configuration changes (here or, on a replicated
cluster, through ``invalidate``). The periodic function removes retired role objects once
their last lease is gone.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.cam_objects import WAL_ROLE_OBJECTS
from tencentcloud_secrets.clients import client_from_config
from tencentcloud_secrets.cloud_errors import vault_error
from tencentcloud_secrets.leases import WAL_CAM_USER, Leases
from tencentcloud_secrets.paths.config import CONFIG_KEY, ConfigPaths, MountConfig, read_config
from tencentcloud_secrets.paths.creds import CredsPaths
from tencentcloud_secrets.paths.roles import RolePaths
from tencentcloud_secrets.paths.rotate_root import RotateRootPaths, rotate_root
from tencentcloud_secrets.paths.static_roles import (
    STATIC_ROLE_PREFIX,
    StaticRolePaths,
    read_static_role,
    rotate_static_role,
    static_keys_in_use,
)
from tencentcloud_secrets.provider import SYSTEM_CLOCK, ClientFactory, Clock, CloudClient
from tencentcloud_secrets.role import ROLE_PREFIX
from tencentcloud_secrets.role_groups import RoleGroups
from tencentcloud_secrets.rotation import (
    WAL_ACCESS_KEY,
    WAL_OLD_ACCESS_KEY,
    RotationError,
    roll_back_key,
    roll_back_old_key,
)
from tencentcloud_secrets.teardown import tear_down_if_unmounting
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import CredentialsError, TencentCloudError
from tencentcloud_secrets_shim import logical

log = logging.getLogger(__name__)

BACKEND_HELP = """\
The Tencent Cloud secrets engine manages short-lived Tencent Cloud credentials: API keys of
CAM sub-users created for a lease and deleted when it ends, and STS temporary credentials
(AssumeRole, GetFederationToken).

Configure how the engine reaches Tencent Cloud with the "config" path, describe what
clients may get with "role/<name>", and issue credentials by reading "creds/<name>".
"""

# An unfinished issue or role write may still be in flight for as long as Vault's request
# deadline (90 s by default); rollback waits well past that before touching its objects.
ROLLBACK_MIN_AGE = 300.0
ROLLBACK_MIN_AGE_OPTION = "rollback_min_age"
# The shortest rollback_min_age a mount accepts: every request's cloud calls must end this
# much before, so a request still running is never rolled back under it.
MIN_ROLLBACK_MIN_AGE = 30.0
# Cloud calls end this long before the rollback may act on an entry the request wrote: time
# for the answer to be stored, and for a server still running a call the client gave up on.
ROLLBACK_MARGIN = 10.0
# Cloud calls must end before Vault's deadline, with time left to answer it.
DEADLINE_MARGIN = 2.0


class TencentCloudBackend(fw.Backend):
    def __init__(
        self, *, factory: ClientFactory = client_from_config, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.locks = fw.KeyLocks()
        self._factory = factory
        self.clock = clock
        self._client: CloudClient | None = None
        self._client_lock = threading.Lock()
        self.groups = RoleGroups(self)
        self._rotation_failures: dict[str, tuple[int, float]] = {}
        leases = Leases(self)
        self.secret_type = leases.secret()
        super().__init__(
            help_text=BACKEND_HELP,
            paths=fw.path_append(
                RotateRootPaths(self).paths(),
                ConfigPaths(self).paths(),
                RolePaths(self).paths(),
                CredsPaths(self).paths(),
                StaticRolePaths(self).paths(),
            ),
            secrets=[self.secret_type],
            special_paths=logical.SpecialPaths(
                local_storage=(fw.WAL_PREFIX,),
                seal_wrap_storage=(CONFIG_KEY, STATIC_ROLE_PREFIX),
            ),
            wal_rollback={
                WAL_CAM_USER: leases.roll_back_user,
                WAL_ROLE_OBJECTS: self.groups.roll_back,
                WAL_ACCESS_KEY: self._key_rollback(roll_back_key, "rolling back a key rotation"),
                WAL_OLD_ACCESS_KEY: self._key_rollback(
                    roll_back_old_key, "finishing a key rotation"
                ),
            },
            wal_rollback_min_age=ROLLBACK_MIN_AGE,
            periodic_func=self._periodic,
            invalidate_func=self._invalidate,
            clean_func=self._cleanup,
            cached_storage=(CONFIG_KEY, ROLE_PREFIX, STATIC_ROLE_PREFIX),
        )

    def setup(self, config: logical.BackendConfig) -> None:
        super().setup(config)
        raw = config.config.get(ROLLBACK_MIN_AGE_OPTION)
        if raw:
            # Mount option (vault secrets enable -options=rollback_min_age=30s), for tests
            # and for operators whose request deadline differs from Vault's default.
            age = fw.parse_duration_seconds(raw)
            if age < MIN_ROLLBACK_MIN_AGE:
                raise ValueError(
                    f"{ROLLBACK_MIN_AGE_OPTION} must be at least {int(MIN_ROLLBACK_MIN_AGE)}s: "
                    "a shorter one could roll back a request still running"
                )
            self.wal_rollback_min_age = age

    # --- per-mount state ------------------------------------------------------------------

    def client(self, storage: logical.Storage) -> CloudClient:
        """The mount's client, built from the stored configuration on first use."""
        with self._client_lock:
            if self._client is None:
                self._client = self._factory(read_config(storage) or MountConfig())
            return self._client

    def client_with_key(
        self, storage: logical.Storage, secret_id: str, secret_key: str
    ) -> CloudClient:
        """A client like the mount's (endpoints, region, retries) for another key: a
        rotation checks a new key through one before relying on it."""
        config = read_config(storage) or MountConfig()
        return self._factory(
            dataclasses.replace(config, secret_id=secret_id, secret_key=secret_key)
        )

    def reset_client(self) -> None:
        """Forget the cached client; the next call builds one from the stored config."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _cleanup(self) -> None:
        """Vault is done with this instance: removing the mount (then its objects leave the
        account too, see teardown), sealing, stopping or reloading."""
        tear_down_if_unmounting(self)
        self.reset_client()

    def _invalidate(self, key: str) -> None:
        if key == CONFIG_KEY:
            self.reset_client()
        elif key.startswith(ROLE_PREFIX):
            self.groups.forget(key.removeprefix(ROLE_PREFIX))

    @staticmethod
    def nonce() -> str:
        return secrets.token_hex(8)

    def cloud_deadline(self, request: logical.Request) -> Deadline:
        """When this request's cloud calls must give up, and the cancellation they check
        before each call.

        The earlier of Vault's deadline (less a margin to answer) and the rollback's: a WAL
        entry this request writes is replayed once it is ``wal_rollback_min_age`` old, and
        by then no call of the request may still run.
        """
        at = time.monotonic() + self.wal_rollback_min_age - ROLLBACK_MARGIN
        if request.deadline is not None:
            at = min(at, request.deadline - DEADLINE_MARGIN)
        return Deadline(at, request.cancelled.is_set)

    # --- periodic and rollback ------------------------------------------------------------

    def _periodic(self, request: logical.Request) -> None:
        storage = request.storage
        self._rotate_due(request)
        if not storage.list("retired/"):
            return
        try:
            left = self.groups.sweep(storage, self.cloud_deadline(request))
        except CredentialsError:
            return
        except TencentCloudError as exc:
            log.warning("sweeping retired role objects failed: %s", exc.code)
            return
        for reason in left:
            log.debug("retired role objects kept: %s", reason)

    def _rotate_due(self, request: logical.Request) -> None:
        """Rotate the root key and static roles whose time has come. A failure is logged at
        error and retried with backoff (1 min doubling to 1 h); the old key stays working."""
        storage = request.storage
        now = self.clock.now()
        due: list[tuple[str, Callable[[], object]]] = []
        config = read_config(storage)
        if config is not None and config.next_rotation and now >= config.next_rotation:
            due.append(("config", lambda: rotate_root(self, storage, None)))
        for name in storage.list(STATIC_ROLE_PREFIX):
            role = read_static_role(storage, name)
            if role is not None and now >= role.next_rotation:
                due.append(
                    (
                        STATIC_ROLE_PREFIX + name,
                        functools.partial(
                            rotate_static_role, self, storage, name, None, due_at=now
                        ),
                    )
                )
        for key, rotate in due:
            failures, retry_at = self._rotation_failures.get(key, (0, 0.0))
            if now < retry_at:
                continue
            try:
                rotate()
            except (RotationError, TencentCloudError) as exc:
                failures += 1
                wait = min(3600.0, 60.0 * 2 ** (failures - 1))
                self._rotation_failures[key] = (failures, now + wait)
                log.error("scheduled rotation of %s failed (%s); retrying in %ds", key, exc, wait)
                continue
            self._rotation_failures.pop(key, None)

    def keys_in_use(self, storage: logical.Storage) -> set[str]:
        """Every access key Vault relies on: rollbacks never delete one of these."""
        config = read_config(storage)
        keys = static_keys_in_use(storage)
        if config is not None and config.secret_id:
            keys.add(config.secret_id)
        return keys

    def _key_rollback(
        self, undo: Callable[[CloudClient, Any, set[str], Deadline], None], doing: str
    ) -> fw.WALRollbackFunc:
        """The WAL rollback of a key rotation's entry: ``undo`` with the mount's client, never
        touching a key Vault relies on."""

        def roll_back(request: logical.Request, data: Any) -> None:
            storage = request.storage
            try:
                undo(
                    self.client(storage),
                    data,
                    self.keys_in_use(storage),
                    self.cloud_deadline(request),
                )
            except TencentCloudError as exc:
                raise vault_error(exc, doing) from None

        return roll_back


def new_backend() -> logical.Backend:
    """The factory the shim calls once per mount."""
    return TencentCloudBackend()


__all__ = ["TencentCloudBackend", "new_backend"]
