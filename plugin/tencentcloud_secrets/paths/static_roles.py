"""``static-roles/<name>``, ``static-creds/<name>`` and ``rotate-role/<name>``: Vault owns
and rotates the access key of an existing CAM sub-user.

For tools bound to one user (or an allow-listed key). Vault creates its own key when the
role is written, rotates it every ``rotation_period`` (the new key first, the old one
deleted once the new one works, see ``rotation``), and deletes its key when the role is
deleted, leaving the user as it found it. The user must hold no other key: a rotation
briefly needs both of CAM's two key slots.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.cloud_errors import vault_error
from tencentcloud_secrets.paths.config import rfc3339
from tencentcloud_secrets.paths.roles import role_name_problem
from tencentcloud_secrets.provider import CloudClient
from tencentcloud_secrets.rotation import KeyRotation, NewKey, RotationError
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import NotFoundError, TencentCloudError
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)

STATIC_ROLE_PREFIX = "static-role/"
DEFAULT_ROTATION_PERIOD = 86400
MIN_ROTATION_PERIOD = 60


@dataclasses.dataclass
class StaticRole:
    username: str
    uin: int
    rotation_period: int = DEFAULT_ROTATION_PERIOD
    secret_id: str = ""
    secret_key: str = dataclasses.field(default="", repr=False)
    last_rotated: float = 0.0

    @property
    def next_rotation(self) -> float:
        return self.last_rotated + self.rotation_period

    def view(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "uin": self.uin,
            "rotation_period": self.rotation_period,
            "secret_id": self.secret_id,
            "last_rotation": rfc3339(self.last_rotated),
            "next_rotation": rfc3339(self.next_rotation),
        }


def read_static_role(storage: logical.Storage, name: str) -> StaticRole | None:
    entry = storage.get(STATIC_ROLE_PREFIX + name)
    return None if entry is None else StaticRole(**json.loads(entry.value))


def write_static_role(storage: logical.Storage, name: str, role: StaticRole) -> None:
    value = json.dumps(dataclasses.asdict(role)).encode()
    storage.put(logical.StorageEntry(STATIC_ROLE_PREFIX + name, value, seal_wrap=True))


def static_keys_in_use(storage: logical.Storage) -> set[str]:
    keys = set()
    for name in storage.list(STATIC_ROLE_PREFIX):
        role = read_static_role(storage, name)
        if role is not None and role.secret_id:
            keys.add(role.secret_id)
    return keys


def rotate_static_role(
    backend: TencentCloudBackend,
    storage: logical.Storage,
    name: str,
    deadline: Deadline | None,
    *,
    due_at: float | None = None,
) -> tuple[StaticRole, list[str]]:
    """Give the role's user a new Vault key and delete the previous one.

    With ``due_at`` (the scheduler's now), only if the role, read under its lock, is still
    due then: a write or rotation that finished meanwhile is not followed by a second one.
    """
    with backend.locks.locked(STATIC_ROLE_PREFIX + name):
        role = read_static_role(storage, name)
        if role is None:
            raise RotationError(f'static role "{name}" does not exist')
        if due_at is not None and role.secret_id and role.next_rotation > due_at:
            return role, []
        rotation = KeyRotation(
            backend.client(storage), storage, role.uin, deadline=deadline, sleep=backend.clock.sleep
        )

        def as_new(new: NewKey) -> CloudClient:
            return backend.client_with_key(storage, new.secret_id, new.secret_key)

        def store(new: NewKey) -> None:
            write_static_role(
                storage,
                name,
                dataclasses.replace(
                    role,
                    secret_id=new.secret_id,
                    secret_key=new.secret_key,
                    last_rotated=backend.clock.now(),
                ),
            )

        warnings = rotation.replace(
            f"key of static role {name[:48]}",
            role.secret_id,
            as_new,
            store,
            delete_old_as_new=False,
        )
        rotated = read_static_role(storage, name)
    assert rotated is not None
    log.info("static role rotated", extra={"role": name, "secret_id": rotated.secret_id})
    return rotated, warnings


def delete_static_role(
    backend: TencentCloudBackend, storage: logical.Storage, name: str, deadline: Deadline | None
) -> None:
    """Delete Vault's key of the role's user, then the role; the user stays as it was.
    Raises TencentCloudError (the role stays) when the key cannot be deleted."""
    with backend.locks.locked(STATIC_ROLE_PREFIX + name):
        role = read_static_role(storage, name)
        if role is None:
            return
        if role.secret_id:
            with contextlib.suppress(NotFoundError):
                backend.client(storage).cam.delete_access_key(
                    cm.DeleteAccessKeyRequest(role.secret_id, role.uin), deadline=deadline
                )
        storage.delete(STATIC_ROLE_PREFIX + name)
    log.info("static role deleted", extra={"role": name})


FIELDS = {
    "name": fw.Field(fw.FieldType.STRING, "Name of the static role.", required=True),
    "username": fw.Field(
        fw.FieldType.STRING, "Name of the existing CAM sub-user whose key Vault manages."
    ),
    "uin": fw.Field(fw.FieldType.INT64, "Uin of that sub-user (instead of username)."),
    "rotation_period": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "How often Vault replaces the key (at least 1m; default 24h).",
    ),
}


class StaticRolePaths:
    def __init__(self, backend: TencentCloudBackend) -> None:
        self._backend = backend

    def exists(self, request: logical.Request, data: fw.FieldData) -> bool:
        return read_static_role(request.storage, data.get_str("name")) is not None

    def list_roles(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return fw.list_response(request.storage.list(STATIC_ROLE_PREFIX))

    def read(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        role = read_static_role(request.storage, data.get_str("name"))
        return None if role is None else logical.Response(data=role.view())

    def write(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        name = data.get_str("name")
        storage = request.storage
        period, period_sent = data.get_ok("rotation_period")
        if period_sent and int(period) < MIN_ROTATION_PERIOD:
            return logical.error_response("rotation_period must be at least 1m")
        username, name_sent = data.get_ok("username")
        uin, uin_sent = data.get_ok("uin")
        with self._backend.locks.locked(STATIC_ROLE_PREFIX + name):
            old = read_static_role(storage, name)
            if old is not None:
                if (name_sent and username != old.username) or (uin_sent and uin != old.uin):
                    return logical.error_response(
                        "username and uin cannot change; delete the static role and write it again"
                    )
                if period_sent:
                    old.rotation_period = int(period)
                    write_static_role(storage, name, old)
                return None
            too_long = role_name_problem(name)
            if too_long:
                return logical.error_response(too_long)
            if not (name_sent or uin_sent):
                return logical.error_response("a static role needs username or uin")
            try:
                user = self._find_user(request, str(username or ""), int(uin or 0))
            except RotationError as exc:
                return logical.error_response(str(exc))
            except TencentCloudError as exc:
                raise vault_error(exc, f'looking up the user of static role "{name}"') from None
            try:
                held = self._backend.client(storage).cam.list_access_keys(
                    cm.ListAccessKeysRequest(user.uin)
                )
            except TencentCloudError as exc:
                raise vault_error(exc, f'looking up the keys of "{user.name}"') from None
            if held:
                ids = ", ".join(k.access_key_id for k in held)
                return logical.error_response(
                    f'"{user.name}" holds access keys ({ids}): a static role needs both of '
                    "CAM's two key slots (each rotation makes the new key before it deletes "
                    "the old one); delete them first"
                )
            role = StaticRole(
                username=user.name,
                uin=user.uin,
                rotation_period=int(period) if period_sent else DEFAULT_ROTATION_PERIOD,
            )
            write_static_role(storage, name, role)
            # Still under the role's lock (it is re-entrant): no scheduled rotation can give
            # the user a key between the role being stored and its first key, so a failure
            # here removes a role that holds no key.
            try:
                rotate_static_role(
                    self._backend, storage, name, self._backend.cloud_deadline(request)
                )
            except (RotationError, TencentCloudError) as exc:
                storage.delete(STATIC_ROLE_PREFIX + name)
                if isinstance(exc, RotationError):
                    return logical.error_response(str(exc))
                raise vault_error(exc, f'creating the key of static role "{name}"') from None
        return None

    def _find_user(self, request: logical.Request, username: str, uin: int) -> cm.SubUser:
        cam = self._backend.client(request.storage).cam
        deadline = self._backend.cloud_deadline(request)
        if username:
            try:
                user = cam.get_user(cm.GetUserRequest(username), deadline=deadline)
            except NotFoundError:
                raise RotationError(f'username: no CAM sub-user is named "{username}"') from None
            if uin and user.uin != uin:
                raise RotationError(f'uin {uin} is not the uin of "{username}" ({user.uin})')
            return user
        for user in cam.list_users(deadline=deadline):
            if user.uin == uin:
                return user
        raise RotationError(f"uin: no CAM sub-user has uin {uin}")

    def delete(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        name = data.get_str("name")
        try:
            delete_static_role(
                self._backend, request.storage, name, self._backend.cloud_deadline(request)
            )
        except TencentCloudError as exc:
            raise vault_error(exc, f'deleting the key of static role "{name}"') from None
        return None

    def creds(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        name = data.get_str("name")
        role = read_static_role(request.storage, name)
        if role is None:
            return logical.error_response(f'static role "{name}" does not exist')
        return logical.Response(
            data={
                "secret_id": role.secret_id,
                "secret_key": role.secret_key,
                "username": role.username,
                "uin": role.uin,
                "last_rotation": rfc3339(role.last_rotated),
                "next_rotation": rfc3339(role.next_rotation),
                "ttl": max(0, int(role.next_rotation - time.time())),
            }
        )

    def rotate(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        name = data.get_str("name")
        try:
            role, warnings = rotate_static_role(
                self._backend, request.storage, name, self._backend.cloud_deadline(request)
            )
        except RotationError as exc:
            return logical.error_response(str(exc))
        except TencentCloudError as exc:
            raise vault_error(exc, f'rotating static role "{name}"') from None
        return logical.Response(data={"secret_id": role.secret_id}, warnings=warnings)

    def paths(self) -> list[fw.Path]:
        prefix = "tencent-cloud"
        name_only = {"name": FIELDS["name"]}
        return [
            fw.Path(
                "static-roles/?",
                operations={logical.LIST: fw.Operation(self.list_roles, summary="List them.")},
                help_synopsis="List the static roles.",
                help_description="Lists the names of the static roles.",
                display_attrs=fw.DisplayAttributes(
                    operation_prefix=prefix, operation_suffix="static-roles"
                ),
            ),
            fw.Path(
                "static-roles/" + fw.generic_name_regex("name"),
                fields=FIELDS,
                operations={
                    logical.READ: fw.Operation(self.read, summary="Read a static role."),
                    logical.CREATE: fw.Operation(self.write, summary="Create a static role."),
                    logical.UPDATE: fw.Operation(
                        self.write, summary="Change a static role's rotation period."
                    ),
                    logical.DELETE: fw.Operation(
                        self.delete, summary="Delete a static role and Vault's key."
                    ),
                },
                existence_check=self.exists,
                help_synopsis="Let Vault own and rotate the access key of an existing user.",
                help_description=HELP_DESCRIPTION,
                display_attrs=fw.DisplayAttributes(
                    operation_prefix=prefix, operation_suffix="static-role"
                ),
            ),
            fw.Path(
                "static-creds/" + fw.generic_name_regex("name"),
                fields=name_only,
                operations={
                    logical.READ: fw.Operation(self.creds, summary="Read the current key.")
                },
                help_synopsis="The current access key of a static role.",
                help_description="secret_id, secret_key, the last and next rotation, and ttl "
                "(seconds until the next rotation).",
                display_attrs=fw.DisplayAttributes(
                    operation_prefix=prefix, operation_suffix="static-credentials"
                ),
            ),
            fw.Path(
                "rotate-role/" + fw.generic_name_regex("name"),
                fields=name_only,
                operations={
                    logical.UPDATE: fw.Operation(
                        self.rotate,
                        summary="Rotate a static role's key now.",
                        display_attrs=fw.DisplayAttributes(operation_verb="rotate"),
                    )
                },
                help_synopsis="Rotate a static role's key now.",
                help_description="Replaces the key at once; the next rotation is one period later.",
                display_attrs=fw.DisplayAttributes(
                    operation_prefix=prefix, operation_suffix="static-role"
                ),
            ),
        ]


HELP_DESCRIPTION = """\
Vault manages the access key of an existing CAM sub-user (username or uin): it creates a key
of its own when the role is written, replaces it every rotation_period (the new key is
checked to work before the old one is deleted), and deletes it when the role is deleted,
leaving the user as it found it. CAM allows two keys per user and a rotation needs both for
a moment, so the user must hold no key of its own. Read static-creds/<name> for the key.

Example:
  vault write tencentcloud/static-roles/ci username=ci-deployer rotation_period=24h
  vault read tencentcloud/static-creds/ci
"""
