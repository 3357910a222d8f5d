"""``config/rotate-root``: replace the mount's own access key with a new one.

The new key is created for the same CAM user (the caller), checked to work, stored, and only
then is the old key deleted (see ``rotation``). The answer names the new SecretId, never
the secret. The same function runs from the periodic function when ``rotation_period`` is
set on ``config``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.cloud_errors import vault_error
from tencentcloud_secrets.paths.config import CONFIG_KEY, read_config, write_config
from tencentcloud_secrets.provider import CloudClient
from tencentcloud_secrets.rotation import KeyRotation, NewKey, RotationError
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import TencentCloudError
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)


def rotate_root(
    backend: TencentCloudBackend, storage: logical.Storage, deadline: Deadline | None
) -> tuple[str, list[str]]:
    """Rotate the configured key; returns the new SecretId and any warnings."""
    with backend.locks.locked(CONFIG_KEY):
        config = read_config(storage)
        if config is None or not config.secret_id:
            raise RotationError(
                "rotate-root needs keys configured on this mount (secret_id and secret_key); "
                "keys from the environment or an instance role are not Vault's to rotate"
            )
        rotation = KeyRotation(
            backend.client(storage), storage, None, deadline=deadline, sleep=backend.clock.sleep
        )

        def as_new(new: NewKey) -> CloudClient:
            return backend.client_with_key(storage, new.secret_id, new.secret_key)

        def store(new: NewKey) -> None:
            write_config(
                storage,
                dataclasses.replace(
                    config,
                    secret_id=new.secret_id,
                    secret_key=new.secret_key,
                    last_rotated=backend.clock.now(),
                ),
            )
            backend.reset_client()

        warnings = rotation.replace(
            "root key rotation", config.secret_id, as_new, store, delete_old_as_new=True
        )
        rotated = read_config(storage)
    assert rotated is not None
    log.info("root key rotated", extra={"secret_id": rotated.secret_id})
    return rotated.secret_id, warnings


class RotateRootPaths:
    def __init__(self, backend: TencentCloudBackend) -> None:
        self._backend = backend

    def rotate(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        try:
            secret_id, warnings = rotate_root(
                self._backend, request.storage, self._backend.cloud_deadline(request)
            )
        except RotationError as exc:
            return logical.error_response(str(exc))
        except TencentCloudError as exc:
            raise vault_error(exc, "rotating the root key") from None
        return logical.Response(data={"secret_id": secret_id}, warnings=warnings)

    def paths(self) -> list[fw.Path]:
        return [
            fw.Path(
                "config/rotate-root",
                operations={
                    logical.UPDATE: fw.Operation(
                        self.rotate,
                        summary="Replace the configured access key with a new one.",
                        display_attrs=fw.DisplayAttributes(
                            operation_verb="rotate", operation_suffix="root-credentials"
                        ),
                    ),
                },
                help_synopsis="Rotate the access key the engine is configured with.",
                help_description=HELP_DESCRIPTION,
                display_attrs=fw.DisplayAttributes(operation_prefix="tencent-cloud"),
            )
        ]


HELP_DESCRIPTION = """\
Creates a new access key for the CAM user whose key is configured on this mount, waits until
CAM accepts it, stores it, and then deletes the old key. CAM allows two keys per user: the
user must hold only the configured one. The answer shows the new secret_id; the secret key
is never returned.

Needs cam:ListAccessKeys, cam:CreateAccessKey and cam:DeleteAccessKey for the user itself.
Set rotation_period on config to rotate automatically.
"""
