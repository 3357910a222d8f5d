"""``role/<name>``: what kind of Tencent Cloud credential a role hands out, and its limits.

The original plugin's contract: ``remote_policies``, ``inline_policies``, ``role_arn``, ``ttl``
and ``max_ttl`` are written and read back as its users' scripts expect. Every input is
checked, and remote policy names resolved to ids, before anything is created; a cam_user
role's groups and policies are created or updated before the role is stored (see
``cam_objects``), so a rejected or failed write leaves the old role, and the account, as
they were.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.role import (
    ASSUMED_ROLE,
    CAM_USER,
    CREDENTIAL_TYPES,
    DEFAULT_SESSION_NAME_TEMPLATE,
    DEFAULT_USERNAME_TEMPLATE,
    FEDERATION_TOKEN,
    GROUPS_PER_USER,
    POLICIES_PER_GROUP,
    ROLE_PREFIX,
    PolicySpec,
    Role,
    RoleError,
    check_external_id,
    check_role_arn,
    check_session_tags,
    parse_inline_policies,
    parse_remote_policies,
    parse_session_policy,
    read_role,
    sts_bounds,
    write_role,
)
from tencentcloud_secrets.templates import (
    NameTemplate,
    TemplateError,
    check_name,
    sample_context,
    shown,
)
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)

FIELDS = {
    "name": fw.Field(fw.FieldType.STRING, "Name of the role.", required=True),
    "credential_type": fw.Field(
        fw.FieldType.LOWERCASE_STRING,
        "What the role hands out: cam_user (a CAM sub-user with an API key, deleted when the "
        "lease ends), assumed_role (STS AssumeRole of role_arn) or federation_token (STS "
        "GetFederationToken). Inferred when unset: assumed_role with role_arn, else cam_user.",
        allowed_values=CREDENTIAL_TYPES,
    ),
    "remote_policies": fw.Field(
        fw.FieldType.STRING_SLICE,
        'Existing CAM policies for cam_user credentials, each "policy_name:<name>,scope:'
        '<All|QCS|Local>" or "policy_id:<id>". Names are matched exactly when the role is '
        "written.",
    ),
    "inline_policies": fw.Field(
        fw.FieldType.SLICE,
        "A JSON array of CAM policy documents for cam_user credentials; the engine keeps one "
        "custom policy per document and role (not per lease).",
    ),
    "role_arn": fw.Field(
        fw.FieldType.STRING,
        "ARN of the CAM role to assume (qcs::cam::uin/<uin>:roleName/<name>); setting it "
        "makes the role an assumed_role role. The engine's key must be trusted by that role.",
    ),
    "ttl": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "Default lease TTL of cam_user credentials (0: the mount's default); for STS types, "
        "the credential lifetime when session_duration is unset.",
    ),
    "max_ttl": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "Maximum lease TTL of credentials from this role (0: the mount's maximum).",
    ),
    "groups": fw.Field(
        fw.FieldType.COMMA_STRING_SLICE,
        "Names of existing CAM user groups that cam_user credentials also join.",
    ),
    "external_id": fw.Field(
        fw.FieldType.STRING,
        "External ID sent with AssumeRole, when the assumed role's trust policy requires one.",
    ),
    "session_duration": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "Lifetime of STS credentials (AssumeRole 15m-12h, default 2h; GetFederationToken up "
        "to 36h, default 30m).",
    ),
    "session_policy": fw.Field(
        fw.FieldType.STRING,
        "A CAM policy document (JSON) that narrows STS credentials; required for federation_token.",
    ),
    "session_tags": fw.Field(
        fw.FieldType.KV_PAIRS,
        "Session tags for AssumeRole, as key=value pairs.",
    ),
    "session_name_template": fw.Field(
        fw.FieldType.STRING,
        "Template of the STS session name (AssumeRole's RoleSessionName, GetFederationToken's "
        f"Name). Default: {DEFAULT_SESSION_NAME_TEMPLATE}",
    ),
    "username_template": fw.Field(
        fw.FieldType.STRING,
        f"Template of cam_user user names (64 characters at most). Default: "
        f"{DEFAULT_USERNAME_TEMPLATE}",
    ),
}

_SIMPLE_FIELDS = (
    "role_arn",
    "ttl",
    "max_ttl",
    "external_id",
    "session_duration",
    "session_tags",
    "session_name_template",
    "username_template",
)


def _merge(
    old: Role | None, data: fw.FieldData
) -> tuple[Role, list[PolicySpec] | None, list[str] | None]:
    """The role as written: the stored one with the sent fields replaced. Remote policies
    and groups come back unresolved (None when not sent)."""
    role = dataclasses.replace(old) if old else Role()
    for name in _SIMPLE_FIELDS:
        value, sent = data.get_ok(name)
        if sent:
            setattr(role, name, value)
    specs = None
    raw, sent = data.get_ok("remote_policies")
    if sent:
        specs = parse_remote_policies(raw)
    raw, sent = data.get_ok("inline_policies")
    if sent:
        role.inline_policies = parse_inline_policies(raw)
    raw, sent = data.get_ok("session_policy")
    if sent:
        role.session_policy = parse_session_policy(raw)
    group_names = None
    raw, sent = data.get_ok("groups")
    if sent:
        group_names = list(dict.fromkeys(n for n in raw if n))
    kind, sent = data.get_ok("credential_type")
    if sent and kind:
        role.credential_type = kind
    elif role.role_arn:
        role.credential_type = ASSUMED_ROLE
    elif not old or old.credential_type == ASSUMED_ROLE:
        role.credential_type = CAM_USER
    return role, specs, group_names


def _validate(role: Role, specs: list[PolicySpec] | None, groups: list[str] | None) -> None:
    kind = role.credential_type
    if kind not in CREDENTIAL_TYPES:
        raise RoleError(f"credential_type must be one of {', '.join(CREDENTIAL_TYPES)}")
    remote = len(specs) if specs is not None else len(role.remote_policies)
    group_count = len(groups) if groups is not None else len(role.groups)
    if role.max_ttl and role.ttl > role.max_ttl:
        raise RoleError("ttl must not be greater than max_ttl")
    if kind == CAM_USER:
        if role.role_arn:
            raise RoleError("role_arn applies only to assumed_role roles")
        if not (remote or role.inline_policies or group_count):
            raise RoleError(
                "a cam_user role needs at least one of remote_policies, inline_policies, "
                "groups (or set role_arn for an assumed_role role)"
            )
        if remote + len(role.inline_policies) > POLICIES_PER_GROUP:
            raise RoleError(
                f"remote_policies and inline_policies together may name at most "
                f"{POLICIES_PER_GROUP} policies (CAM's limit per user group)"
            )
        if group_count + 1 > GROUPS_PER_USER:
            raise RoleError(
                f"groups may name at most {GROUPS_PER_USER - 1} groups (CAM lets a user join "
                f"{GROUPS_PER_USER}, one of them the role's own)"
            )
        for name in ("external_id", "session_policy", "session_name_template"):
            if getattr(role, name):
                raise RoleError(f"{name} applies only to assumed_role and federation_token roles")
        if role.session_tags or role.session_duration:
            raise RoleError(
                "session_tags and session_duration apply only to assumed_role and "
                "federation_token roles"
            )
    else:
        if remote:
            raise RoleError(f"remote_policies must be empty for {kind} roles")
        if role.inline_policies:
            raise RoleError(
                f"inline_policies must be empty for {kind} roles (use session_policy to "
                "narrow STS credentials)"
            )
        if group_count:
            raise RoleError(f"groups apply only to cam_user roles, not to {kind}")
        if role.username_template:
            raise RoleError("username_template applies only to cam_user roles")
        low, high, _ = sts_bounds(kind)
        if role.session_duration and not low <= role.session_duration <= high:
            raise RoleError(f"session_duration must be between {low}s and {high}s for {kind}")
    if kind == ASSUMED_ROLE:
        if not role.role_arn:
            raise RoleError("an assumed_role role needs role_arn")
        check_role_arn(role.role_arn)
        check_external_id(role.external_id)
        check_session_tags(role.session_tags)
    if kind == FEDERATION_TOKEN:
        if role.role_arn:
            raise RoleError("role_arn applies only to assumed_role roles")
        if not role.session_policy:
            raise RoleError("a federation_token role needs session_policy")
        if role.external_id or role.session_tags:
            raise RoleError("external_id and session_tags apply only to assumed_role roles")


MAX_ROLE_NAME_CHARS = 128
"""Longest role name a new role may have. CAM's own role names stop at 128 characters, and
names built from a role name (groups and policies keep its first 32 characters, remarks 48)
are cut anyway; 128 also lets ``{{.RoleName}}`` alone fit AssumeRole's session name."""


def role_name_problem(name: str) -> str | None:
    """Why a new role (or static role) may not be called ``name``, or None."""
    if len(name) > MAX_ROLE_NAME_CHARS:
        return (
            f'name "{shown(name)}" is {len(name)} characters; role names may have at most '
            f"{MAX_ROLE_NAME_CHARS}"
        )
    return None


def _check_template(field: str, text: str, role_name: str, *, low: int, high: int) -> None:
    """Parse the template (which refuses one that is too long or could build too much) and
    check one sample name against the credential type's name rule."""
    try:
        template = NameTemplate.parse(text)
        if field == "username_template" and template.random_chars < 6:
            raise RoleError(
                "username_template must contain {{random N}} with N >= 6 (or {{uuid}}) so that "
                "every lease gets a user of its own"
            )
        sample = template.render(sample_context(role_name))
    except TemplateError as exc:
        raise RoleError(f"{field}: {exc}") from None
    problem = check_name(sample, what=f"{field} gives names like", low=low, high=high)
    if problem:
        raise RoleError(problem)


class RolePaths:
    def __init__(self, backend: TencentCloudBackend) -> None:
        self._backend = backend

    def exists(self, request: logical.Request, data: fw.FieldData) -> bool:
        return read_role(request.storage, data.get_str("name")) is not None

    def list_roles(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return fw.list_response(request.storage.list(ROLE_PREFIX))

    def read(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        role = read_role(request.storage, data.get_str("name"))
        return None if role is None else logical.Response(data=role.view())

    def write(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        name = data.get_str("name")
        storage = request.storage
        with self._backend.locks.locked(ROLE_PREFIX + name):
            old = read_role(storage, name)
            # A role stored before the cap existed stays editable; only new names are capped.
            too_long = None if old is not None else role_name_problem(name)
            if too_long:
                return logical.error_response(too_long)
            try:
                role, specs, group_names = _merge(old, data)
                _validate(role, specs, group_names)
                if role.credential_type == CAM_USER:
                    _check_template(
                        "username_template",
                        role.username_template or DEFAULT_USERNAME_TEMPLATE,
                        name,
                        low=1,
                        high=64,
                    )
                else:
                    high = 128 if role.credential_type == ASSUMED_ROLE else 32
                    _check_template(
                        "session_name_template",
                        role.session_name_template or DEFAULT_SESSION_NAME_TEMPLATE,
                        name,
                        low=2,
                        high=high,
                    )
            except RoleError as exc:
                return logical.error_response(str(exc))
            warnings: list[str] = []
            groups = self._backend.groups
            if role.credential_type == CAM_USER:
                try:
                    warnings.extend(groups.write(request, name, old, role, specs, group_names))
                except RoleError as exc:
                    return logical.error_response(str(exc))
            else:
                key = groups.retire(request, name, old) if old is not None else None
                role.remote_policies, role.groups, role.managed_groups = [], [], []
                write_role(storage, name, role)
                left = groups.sweep_now(request, key)
                if left:
                    warnings.append(left)
        max_lease = self._backend.config.system_view.max_lease_ttl()
        if role.ttl > max_lease:
            warnings.append(
                f"ttl of {role.ttl}s exceeds the mount's max TTL of {int(max_lease)}s; "
                "the latter is used"
            )
        log.info("role written", extra={"role": name, "credential_type": role.credential_type})
        if warnings:
            return logical.Response(data={}, warnings=warnings)
        return None

    def delete(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        name = data.get_str("name")
        groups = self._backend.groups
        with self._backend.locks.locked(ROLE_PREFIX + name):
            role = read_role(request.storage, name)
            if role is None:
                return None
            key = groups.retire(request, name, role)
            request.storage.delete(ROLE_PREFIX + name)
            left = groups.sweep_now(request, key)
        log.info("role deleted", extra={"role": name})
        if left:
            return logical.Response(data={}, warnings=[left])
        return None

    def paths(self) -> list[fw.Path]:
        return [
            fw.Path(
                "role/?",
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
                "role/" + fw.generic_name_regex("name"),
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
A role names one kind of Tencent Cloud credential and what it may do. The credential type
follows from the fields, as in the original Tencent Cloud plugin:

  remote_policies / inline_policies (cam_user)
      Each lease is a new CAM sub-user with one API key, deleted when the lease ends. The
      engine keeps, per role, a CAM user group carrying the remote policies and one custom
      policy per inline document; users join it (and any "groups") when they are created.
  role_arn (assumed_role)
      STS AssumeRole credentials of that CAM role, optionally narrowed by session_policy.
  credential_type=federation_token
      STS GetFederationToken credentials of the engine's own identity, narrowed by
      session_policy.

Examples:
  vault write tencentcloud/role/reader \\
      remote_policies='policy_name:QcloudCOSReadOnlyAccess,scope:All' ttl=1h max_ttl=24h
  vault write tencentcloud/role/deployer \\
      role_arn='qcs::cam::uin/100000000001:roleName/deployer'
"""
