"""``config``: how the mount reaches Tencent Cloud (keys, region, endpoints, retries).

The secret key is write-only: reads report whether one is set, never its value, and the log
line about an update names the fields that changed, not their values.

Every field is checked before anything is stored, and a refused write leaves the stored
configuration as it was. The endpoint checks matter most: with no keys here the engine signs
with the Vault server's own credentials, so an endpoint decides who receives those
signatures; plain http is refused for anything but loopback unless
``allow_insecure_endpoints`` is set (see ``tencentcloud.endpoints``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.templates import shown
from tencentcloud_secrets.tencentcloud.endpoints import (
    Endpoint,
    InsecureEndpointError,
    check_transport,
)
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)

CONFIG_KEY = "config"
DEFAULT_MAX_RETRIES = 4
DEFAULT_REQUEST_TIMEOUT = 30
# Region ids are lowercase words joined by "-" (ap-guangzhou, na-siliconvalley); the value is
# sent as a header and may become part of a host name, so nothing else gets through.
_REGION = re.compile(r"[a-z0-9-]{1,64}")
# A SecretId goes into the Authorization header, whose grammar uses "/", "," and spaces.
_SECRET_ID = re.compile(r"[\x21-\x7e]{1,128}")
_SECRET_ID_SEPARATORS = frozenset("/,")
MAX_SECRET_KEY_CHARS = 256


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
    allow_insecure_endpoints: bool = False
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
    "allow_insecure_endpoints": fw.Field(
        fw.FieldType.BOOL,
        "Allow plain http:// endpoints on hosts other than loopback (localhost, 127.0.0.0/8, "
        "::1). Signed requests then cross the network in clear text, where a signature can be "
        "replayed for five minutes. Default false.",
        default=False,
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


def endpoint_problem(name: str, value: str, *, allow_insecure: bool) -> str | None:
    """Why ``value`` cannot be the ``name`` override, or None; also used for stored configs."""
    try:
        check_transport(Endpoint.parse(value), allow_insecure=allow_insecure)
    except InsecureEndpointError as exc:
        return f'{name}: {exc} (got "{shown(value)}")'
    except ValueError as exc:
        return (
            f'{name} must be a URL of the form scheme://host[:port]: {exc} (got "{shown(value)}")'
        )
    return None


def _key_problem(config: MountConfig) -> str | None:
    if bool(config.secret_id) != bool(config.secret_key):
        return "secret_id and secret_key must be set together"
    secret_id = config.secret_id
    if secret_id and (
        not _SECRET_ID.fullmatch(secret_id) or _SECRET_ID_SEPARATORS.intersection(secret_id)
    ):
        return (
            "secret_id must be 1 to 128 printable ASCII characters without spaces, / or , "
            "(a Tencent Cloud SecretId such as AKID...)"
        )
    key = config.secret_key
    if len(key) > MAX_SECRET_KEY_CHARS or not (key.isprintable() and key.strip() == key):
        # Never quote the key itself; a pasted trailing newline is the usual cause.
        return (
            f"secret_key must be at most {MAX_SECRET_KEY_CHARS} printable characters with no "
            "leading or trailing spaces"
        )
    return None


def _validate(config: MountConfig) -> str | None:
    problem = _key_problem(config)
    if problem:
        return problem
    if config.region and not _REGION.fullmatch(config.region):
        return (
            "region must be 1 to 64 characters of lowercase letters, digits and - (such as "
            f'ap-guangzhou), got "{shown(config.region)}"'
        )
    for name in ("cam_endpoint", "sts_endpoint"):
        value = getattr(config, name)
        if value:
            problem = endpoint_problem(name, value, allow_insecure=config.allow_insecure_endpoints)
            if problem:
                return problem
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
Plain http is accepted only for loopback hosts (localhost, 127.0.0.0/8, ::1); anything else
needs https, or allow_insecure_endpoints=true to send signed requests in clear text.
"""
