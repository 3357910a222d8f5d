"""``roles/<name>``: what kind of Tencent Cloud credential a role hands out, and its limits.

Validation happens before anything is stored, so a rejected write leaves the old role (or
no role) in place.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

ROLE_PREFIX = "roles/"
CAM_USER = "cam_user"
ASSUMED_ROLE = "assumed_role"
FEDERATION_TOKEN = "federation_token"
CREDENTIAL_TYPES = (CAM_USER, ASSUMED_ROLE, FEDERATION_TOKEN)
POLICY_DOCUMENT_LIMIT = 6144  # CAM's limit on a policy document, in characters


@dataclasses.dataclass
class Role:
    credential_type: str = ""
    policies: list[str] = dataclasses.field(default_factory=list)
    policy_document: str = ""
    role_arn: str = ""
    ttl: int = 0
    max_ttl: int = 0

    def view(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_role(storage: logical.Storage, name: str) -> Role | None:
    entry = storage.get(ROLE_PREFIX + name)
    if entry is None:
        return None
    raw = json.loads(entry.value)
    known = {f.name for f in dataclasses.fields(Role)}
    return Role(**{k: v for k, v in raw.items() if k in known})


def write_role(storage: logical.Storage, name: str, role: Role) -> None:
    value = json.dumps(dataclasses.asdict(role)).encode()
    storage.put(logical.StorageEntry(ROLE_PREFIX + name, value))


FIELDS = {
    "name": fw.Field(fw.FieldType.STRING, "Name of the role.", required=True),
    "credential_type": fw.Field(
        fw.FieldType.LOWERCASE_STRING,
        "What the role hands out: cam_user (a CAM sub-user with an API key, deleted when the "
        "lease ends), assumed_role (STS AssumeRole) or federation_token (STS "
        "GetFederationToken).",
        allowed_values=CREDENTIAL_TYPES,
    ),
    "policies": fw.Field(
        fw.FieldType.COMMA_STRING_SLICE,
        "Names of existing CAM policies (preset or custom) to attach to each sub-user.",
    ),
    "policy_document": fw.Field(
        fw.FieldType.STRING,
        "A CAM policy document (JSON): inline policy of each sub-user, or the session "
        "policy of STS credentials.",
    ),
    "role_arn": fw.Field(
        fw.FieldType.STRING,
        "ARN of the CAM role to assume, for credential_type assumed_role, like "
        "qcs::cam::uin/100000000001:roleName/deployer.",
    ),
    "ttl": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "Default lease TTL of credentials from this role; 0 means the mount's default.",
    ),
    "max_ttl": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "Maximum lease TTL of credentials from this role; 0 means the mount's maximum.",
    ),
}


def _validate(role: Role) -> str | None:
    if role.credential_type not in CREDENTIAL_TYPES:
        return f"credential_type must be one of {', '.join(CREDENTIAL_TYPES)}"
    if role.policy_document:
        if len(role.policy_document) > POLICY_DOCUMENT_LIMIT:
            return f"policy_document must be at most {POLICY_DOCUMENT_LIMIT} characters"
        try:
            document = json.loads(role.policy_document)
        except ValueError:
            return "policy_document must be a JSON object"
        if not isinstance(document, dict):
            return "policy_document must be a JSON object"
    if role.credential_type == CAM_USER and not (role.policies or role.policy_document):
        return "a cam_user role needs policies or policy_document"
    if role.credential_type == ASSUMED_ROLE and not role.role_arn:
        return "an assumed_role role needs role_arn"
    if role.credential_type != ASSUMED_ROLE and role.role_arn:
        return "role_arn applies only to credential_type assumed_role"
    if role.credential_type == FEDERATION_TOKEN and not role.policy_document:
        return "a federation_token role needs policy_document"
    if role.credential_type != CAM_USER and role.policies:
        return "policies apply only to credential_type cam_user"
    if role.max_ttl and role.ttl > role.max_ttl:
        return "ttl must not be greater than max_ttl"
    return None


class RolePaths:
    def __init__(self, backend: TencentCloudBackend) -> None:
        self._backend = backend

    def exists(self, request: logical.Request, data: fw.FieldData) -> bool:
        assert request.storage is not None
        return read_role(request.storage, data.get_str("name")) is not None

    def list_roles(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.storage is not None
        return fw.list_response(request.storage.list(ROLE_PREFIX))

    def read(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.storage is not None
        role = read_role(request.storage, data.get_str("name"))
        return None if role is None else logical.Response(data=role.view())

    def write(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        storage = request.storage
        assert storage is not None
        name = data.get_str("name")
        with self._backend.locks.locked(ROLE_PREFIX + name):
            role = read_role(storage, name) or Role()
            for field in (
                "credential_type",
                "policies",
                "policy_document",
                "role_arn",
                "ttl",
                "max_ttl",
            ):
                value, sent = data.get_ok(field)
                if sent:
                    setattr(role, field, value)
            problem = _validate(role)
            if problem:
                return logical.error_response(problem)
            write_role(storage, name, role)
        return None

    def delete(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.storage is not None
        name = data.get_str("name")
        with self._backend.locks.locked(ROLE_PREFIX + name):
            request.storage.delete(ROLE_PREFIX + name)
        return None

    def paths(self) -> list[fw.Path]:
        return [
            fw.Path(
                "roles/?",
                operations={
                    logical.LIST: fw.Operation(
                        self.list_roles, summary="List the roles.", inline=True
                    ),
                },
                help_synopsis="List the roles of this mount.",
                help_description="Lists the names of all roles.",
                display_attrs=fw.DisplayAttributes(
                    operation_prefix="tencent-cloud", operation_suffix="roles"
                ),
            ),
            fw.Path(
                "roles/" + fw.generic_name_regex("name"),
                fields=FIELDS,
                operations={
                    logical.READ: fw.Operation(self.read, summary="Read a role.", inline=True),
                    logical.CREATE: fw.Operation(self.write, summary="Create a role."),
                    logical.UPDATE: fw.Operation(
                        self.write, summary="Update a role; unset fields keep their value."
                    ),
                    logical.DELETE: fw.Operation(self.delete, summary="Delete a role."),
                },
                existence_check=self.exists,
                help_synopsis="Manage the roles that say which credentials clients get.",
                help_description=HELP_DESCRIPTION,
                display_attrs=fw.DisplayAttributes(
                    operation_prefix="tencent-cloud", operation_suffix="role"
                ),
            ),
        ]


HELP_DESCRIPTION = """\
A role names one kind of Tencent Cloud credential and what it may do:

  cam_user          a CAM sub-user created for each lease, with the policies listed in
                    `policies` and/or the inline `policy_document`, and one API key; the
                    user is deleted when the lease ends.
  assumed_role      temporary credentials of the CAM role `role_arn` (STS AssumeRole),
                    optionally narrowed by `policy_document`.
  federation_token  temporary credentials of the engine's own identity narrowed by
                    `policy_document` (STS GetFederationToken).

Example:
  vault write tencentcloud/roles/reader credential_type=cam_user \\
      policies=QcloudCOSReadOnlyAccess ttl=1h max_ttl=24h
"""
