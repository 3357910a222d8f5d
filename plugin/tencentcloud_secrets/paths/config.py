"""``config``: how the mount reaches Tencent Cloud (keys, region, endpoints, retries).

The secret key is write-only: reads report whether one is set, never its value, and the log
line about an update names the fields that changed, not their values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.tencentcloud.endpoints import Endpoint
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)

CONFIG_KEY = "config"
DEFAULT_MAX_RETRIES = 4
DEFAULT_REQUEST_TIMEOUT = 30


@dataclasses.dataclass
class MountConfig:
    """The stored configuration of one mount."""

    secret_id: str = ""
    secret_key: str = dataclasses.field(default="", repr=False)
    region: str = ""
    cam_endpoint: str = ""
    sts_endpoint: str = ""
    international: bool = False
    max_retries: int = DEFAULT_MAX_RETRIES
    request_timeout: int = DEFAULT_REQUEST_TIMEOUT
    rotation_period: int = 0
    # Kept by the engine: when the configured key was last set or rotated (Unix seconds).
    last_rotated: float = 0.0

    @property
    def next_rotation(self) -> float:
        """When automatic rotation is due (Unix seconds), or 0 when it is off."""
        if not (self.rotation_period and self.secret_id):
            return 0.0
        return self.last_rotated + self.rotation_period

    def public_view(self) -> dict[str, Any]:
        view = dataclasses.asdict(self)
        del view["secret_key"], view["last_rotated"]
        view["secret_key_set"] = bool(self.secret_key)
        view["last_rotation"] = rfc3339(self.last_rotated)
        view["next_rotation"] = rfc3339(self.next_rotation)
        return view


def rfc3339(stamp: float) -> str:
    """Vault's time format, or "" for "never"."""
    if not stamp:
        return ""
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_config(storage: logical.Storage) -> MountConfig | None:
    entry = storage.get(CONFIG_KEY)
    if entry is None:
        return None
    raw = json.loads(entry.value)
    known = {f.name for f in dataclasses.fields(MountConfig)}
    return MountConfig(**{k: v for k, v in raw.items() if k in known})


def write_config(storage: logical.Storage, config: MountConfig) -> None:
    value = json.dumps(dataclasses.asdict(config)).encode()
    storage.put(logical.StorageEntry(CONFIG_KEY, value, seal_wrap=True))


FIELDS = {
    "secret_id": fw.Field(
        fw.FieldType.STRING,
        "SecretId of the CAM identity the engine acts as. Leave unset to use the "
        "TENCENTCLOUD_SECRET_ID environment variable of the Vault server, or the CVM "
        "instance role.",
    ),
    "secret_key": fw.Field(
        fw.FieldType.STRING,
        "SecretKey that goes with secret_id. Write-only: never returned.",
        sensitive=True,
    ),
    "region": fw.Field(
        fw.FieldType.STRING,
        "Region for STS calls, for example ap-guangzhou. Unset: the TENCENTCLOUD_REGION "
        "environment variable of the Vault server, else ap-guangzhou.",
    ),
    "cam_endpoint": fw.Field(
        fw.FieldType.STRING,
        "Override of the CAM endpoint, as scheme://host[:port] (for a local emulator).",
    ),
    "sts_endpoint": fw.Field(
        fw.FieldType.STRING,
        "Override of the STS endpoint, as scheme://host[:port].",
    ),
    "international": fw.Field(
        fw.FieldType.BOOL,
        "Use the international site's endpoints (intl.tencentcloudapi.com).",
        default=False,
    ),
    "max_retries": fw.Field(
        fw.FieldType.INT,
        "How often a throttled or failed call is retried before the request fails.",
        default=DEFAULT_MAX_RETRIES,
    ),
    "request_timeout": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "Read timeout of one API call.",
        default=DEFAULT_REQUEST_TIMEOUT,
    ),
    "rotation_period": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "Rotate the configured key automatically this often (at least 1m; 0: never). See "
        "config/rotate-root.",
        default=0,
    ),
}


def _validate(config: MountConfig) -> str | None:
    if bool(config.secret_id) != bool(config.secret_key):
        return "secret_id and secret_key must be set together"
    for name in ("cam_endpoint", "sts_endpoint"):
        value = getattr(config, name)
        if value:
            try:
                Endpoint.parse(value)
            except ValueError:
                return f'{name} must be a URL of the form scheme://host[:port], got "{value}"'
    if not 0 <= config.max_retries <= 20:
        return "max_retries must be between 0 and 20"
    if not 1 <= config.request_timeout <= 300:
        return "request_timeout must be between 1s and 5m"
    if config.rotation_period and config.rotation_period < 60:
        return "rotation_period must be 0 (off) or at least 1m"
    if config.rotation_period and not config.secret_id:
        return "rotation_period needs keys configured here (secret_id and secret_key)"
    return None


class ConfigPaths:
    def __init__(self, backend: TencentCloudBackend) -> None:
        self._backend = backend

    def exists(self, request: logical.Request, data: fw.FieldData) -> bool:
        return read_config(request.storage) is not None

    def read(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        config = read_config(request.storage)
        return None if config is None else logical.Response(data=config.public_view())

    def write(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        storage = request.storage
        with self._backend.locks.locked(CONFIG_KEY):
            current = read_config(storage) or MountConfig()
            updated = dataclasses.replace(current)
            changed = []
            for name in FIELDS:
                value, sent = data.get_ok(name)
                if sent or request.operation == logical.CREATE:
                    value = data.get(name)
                    if getattr(updated, name) != value:
                        changed.append(name)
                    setattr(updated, name, value)
            problem = _validate(updated)
            if problem:
                return logical.error_response(problem)
            if "secret_id" in changed or "secret_key" in changed or not updated.last_rotated:
                updated.last_rotated = time.time() if updated.secret_id else 0.0
            write_config(storage, updated)
        self._backend.reset_client()
        log.info("configuration updated", extra={"changed": ",".join(changed) or "nothing"})
        return None

    def delete(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        with self._backend.locks.locked(CONFIG_KEY):
            request.storage.delete(CONFIG_KEY)
        self._backend.reset_client()
        log.info("configuration deleted")
        return None

    def paths(self) -> list[fw.Path]:
        attrs = fw.DisplayAttributes(operation_prefix="tencent-cloud")
        return [
            fw.Path(
                "config",
                fields=FIELDS,
                operations={
                    logical.READ: fw.Operation(
                        self.read,
                        summary="Read the mount's configuration (the secret key is not shown).",
                        display_attrs=fw.DisplayAttributes(operation_suffix="configuration"),
                        inline=True,
                    ),
                    logical.CREATE: fw.Operation(
                        self.write,
                        summary="Configure how the mount reaches Tencent Cloud.",
                        display_attrs=fw.DisplayAttributes(
                            operation_verb="configure", operation_suffix=""
                        ),
                    ),
                    logical.UPDATE: fw.Operation(
                        self.write,
                        summary="Change the mount's configuration; unset fields keep their value.",
                        display_attrs=fw.DisplayAttributes(
                            operation_verb="configure", operation_suffix=""
                        ),
                    ),
                    logical.DELETE: fw.Operation(
                        self.delete,
                        summary="Delete the mount's configuration.",
                        display_attrs=fw.DisplayAttributes(operation_suffix="configuration"),
                    ),
                },
                existence_check=self.exists,
                help_synopsis="Configure the credentials and endpoints the engine uses.",
                help_description=HELP_DESCRIPTION,
                display_attrs=attrs,
            )
        ]


HELP_DESCRIPTION = """\
The engine acts in Tencent Cloud as one CAM identity. Give it keys here, or leave them unset
and it uses, in this order, the TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY environment
variables of the Vault server and then the CVM instance role. Keys configured here always win.

The identity needs permission to manage CAM sub-users, policies and access keys for roles
of type cam_user, and sts:AssumeRole / sts:GetFederationToken for the other types.

cam_endpoint and sts_endpoint point the engine elsewhere, for example at the local emulator:
  vault write tencentcloud/config secret_id=... secret_key=... \\
      cam_endpoint=http://127.0.0.1:9400 sts_endpoint=http://127.0.0.1:9400
"""
