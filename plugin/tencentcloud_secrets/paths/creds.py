"""``creds/<role>``: issue one credential of the role's type, as a Vault lease.

cam_user: AddUser with ``UseApi=1`` (the answer carries the key pair) then one AddUserToGroup
into the role's managed group and its extra groups: two calls. The user's name is unique per
lease and a WAL entry naming it and its Remark marker is written before AddUser, so a crash at
any point leaves something the rollback can find and safely delete. assumed_role and
federation_token: one STS call; the lease lasts as long as the credential.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.cloud_errors import vault_error
from tencentcloud_secrets.leases import WAL_CAM_USER
from tencentcloud_secrets.role import (
    ASSUMED_ROLE,
    CAM_USER,
    DEFAULT_SESSION_NAME_TEMPLATE,
    DEFAULT_USERNAME_TEMPLATE,
    Role,
    read_role,
    sts_bounds,
    sts_duration,
)
from tencentcloud_secrets.templates import (
    NameContext,
    TemplateError,
    check_name,
    parsed,
    shown,
)
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud import models_sts as sm
from tencentcloud_secrets.tencentcloud.errors import (
    TencentCloudError,
)
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)

# Vault must receive the answer before its deadline: a credential made later than this
# margin before the deadline is left to the rollback instead of being handed out.
ANSWER_MARGIN = 1.0

FIELDS = {
    "name": fw.Field(fw.FieldType.STRING, "Name of the role.", required=True),
    "ttl": fw.Field(
        fw.FieldType.DURATION_SECOND,
        "Lifetime wanted for this credential, within the role's limits: the lease TTL of a "
        "cam_user credential, the STS duration of the others. Unset: the role's.",
    ),
    "external_id": fw.Field(
        fw.FieldType.STRING,
        "Not accepted here: the external ID is part of the role (set it with role/<name>).",
    ),
}


def _render(field: str, text: str, request: logical.Request, role_name: str) -> str:
    """A name from the role's template. A role stored before today's template rules may hold
    one they refuse: that is the role's problem to fix (a 400), not the engine's (a 500)."""
    try:
        return parsed(text).render(_context(request, role_name))
    except TemplateError as exc:
        raise logical.CodedError(
            400, f'role "{shown(role_name)}": {field}: {exc}; write the role again'
        ) from None


def _context(request: logical.Request, role_name: str) -> NameContext:
    return NameContext(
        role_name=role_name,
        display_name=request.display_name or "vault",
        mount=request.mount_accessor,
    )


class CredsPaths:
    def __init__(self, backend: TencentCloudBackend) -> None:
        self._backend = backend

    def issue(
        self, request: logical.Request, data: fw.FieldData
    ) -> logical.Response | logical.Awaiting | None:
        """Runs on the shim's event loop first (the operation is inline): an STS credential
        is one cloud call, awaited there without a thread; a CAM user is several blocking
        steps under a WAL entry, so that request moves to a worker before its first."""
        name = data.get_str("name")
        if data.get_ok("external_id")[1]:
            return logical.error_response(
                "external_id cannot be chosen by the caller: it guards the role against "
                "confused-deputy use, so it is set on the role (role/<name> external_id=...)"
            )
        role = read_role(request.storage, name)
        if role is None:
            return logical.error_response(f'role "{name}" does not exist')
        requested, asked = data.get_ok("ttl")
        if asked and int(requested) < 0:
            return logical.error_response("ttl must not be negative")
        if role.credential_type == CAM_USER:
            logical.leave_event_loop()
            if not role.managed_groups:
                role = self._backend.groups.provision(request, name)
            return self._cam_user(request, name, role, int(requested) if asked else 0)
        return self._sts(request, name, role, int(requested) if asked else 0)

    # --- cam_user -----------------------------------------------------------------------

    def _cam_user(
        self, request: logical.Request, name: str, role: Role, requested_ttl: int
    ) -> logical.Response:
        backend = self._backend
        # The request's TTL or the role's, within the role's max; Vault applies the mount's
        # default and max when it registers the lease (asking it for them first would cost two
        # calls to Vault per credential and change nothing).
        ttl = fw.capped_ttl(requested_ttl or role.ttl, role.max_ttl)
        username = _render(
            "username_template", role.username_template or DEFAULT_USERNAME_TEMPLATE, request, name
        )
        problem = check_name(username, what="username_template gave the name", low=1, high=64)
        if problem:
            return logical.error_response(problem)
        remark = f"Vault lease of role {name[:48]} #{backend.nonce()}"
        storage = request.storage
        client = backend.client(storage)
        deadline = backend.cloud_deadline(request)
        wal_id = fw.put_wal(storage, WAL_CAM_USER, {"username": username, "remark": remark})
        created: cm.AddUserResult | None = None
        try:
            created = client.cam.add_user(
                cm.AddUserRequest(username, remark=remark, use_api=True), deadline=deadline
            )
            if created.secret_id is None or created.secret_key is None:
                raise logical.CodedError(502, "Tencent Cloud AddUser returned no key pair")
            backend.groups.join(request, name, role, created.uin, deadline)
        except Exception as exc:
            self._undo_user(storage, wal_id, username, created, exc)
            if isinstance(exc, TencentCloudError):
                raise vault_error(exc, f'issuing a credential of role "{name}"') from None
            raise
        if not request.wanted(ANSWER_MARGIN) or deadline.passed():
            # Vault has stopped waiting or is about to: this credential would reach nobody.
            self._undo_user(storage, wal_id, username, created, None)
            raise logical.CodedError(504, "Vault's request deadline passed while issuing")
        # The last step before the answer: from here the lease accounts for the user.
        try:
            fw.delete_wal(storage, wal_id)
        except logical.StorageError:
            # The entry may be gone with only its answer lost: then nothing would account
            # for the user once this request fails. Take the user back first (the entry, if
            # it survived, then finds nothing to roll back).
            self._undo_user(storage, wal_id, username, created, None)
            raise
        log.debug("issued cam_user credential", extra={"role": name, "username": username})
        response = backend.secret_type.response(
            {
                "secret_id": created.secret_id,
                "secret_key": created.secret_key,
                "username": created.name,
                "uin": created.uin,
            },
            {
                "credential_type": CAM_USER,
                "role_name": name,
                "username": created.name,
                "uin": created.uin,
                "secret_id": created.secret_id,
            },
            ttl=ttl.ttl,
            max_ttl=float(role.max_ttl),
        )
        response.warnings.extend(ttl.warnings)
        return response

    def _undo_user(
        self,
        storage: logical.Storage,
        wal_id: str,
        username: str,
        created: cm.AddUserResult | None,
        error: Exception | None,
    ) -> None:
        """After a failed or unwanted issue: delete the user if this issue made it, and the
        WAL entry only once nothing can be left.

        The entry stays whenever the user may exist and is not known to be gone: AddUser's
        outcome unknown (an answer lost and not settled, whatever failed next), or the
        delete failing. The rollback then deletes the user if it carries this issue's marker.
        """
        if created is None:
            if isinstance(error, TencentCloudError) and not error.create_outcome_unknown:
                fw.delete_wal(storage, wal_id)
            return
        try:
            self._backend.client(storage).cam.delete_user(
                cm.DeleteUserRequest(username, force=True)
            )
        except TencentCloudError as exc:
            log.error("could not delete user %s after a failed issue: %s", username, exc.code)
            return
        fw.delete_wal(storage, wal_id)

    # --- STS ----------------------------------------------------------------------------

    def _sts(
        self, request: logical.Request, name: str, role: Role, requested: int
    ) -> logical.Response | logical.Awaiting:
        duration = sts_duration(role)
        if requested:
            low, _, _ = sts_bounds(role.credential_type)
            if requested < low:
                return logical.error_response(
                    f"ttl must be at least {low}s for {role.credential_type} credentials"
                )
            duration = min(duration, requested)
        session = _render(
            "session_name_template",
            role.session_name_template or DEFAULT_SESSION_NAME_TEMPLATE,
            request,
            name,
        )
        client = self._backend.client(request.storage)
        deadline = self._backend.cloud_deadline(request)
        tags = tuple(sm.Tag(k, v) for k, v in sorted(role.session_tags.items()))

        async def issue() -> logical.Response:
            try:
                if role.credential_type == ASSUMED_ROLE:
                    issued = await client.sts.assume_role_async(
                        sm.AssumeRoleRequest(
                            role_arn=role.role_arn,
                            role_session_name=session,
                            duration_seconds=duration,
                            policy=role.session_policy or None,
                            external_id=role.external_id or None,
                            tags=tags,
                        ),
                        deadline=deadline,
                    )
                else:
                    issued = await client.sts.get_federation_token_async(
                        sm.GetFederationTokenRequest(
                            name=session, policy=role.session_policy, duration_seconds=duration
                        ),
                        deadline=deadline,
                    )
            except TencentCloudError as exc:
                raise vault_error(exc, f'issuing a credential of role "{name}"') from None
            except ValueError as exc:  # no region for STS
                raise logical.CodedError(400, str(exc)) from None
            return self._sts_response(name, role.credential_type, duration, issued)

        return logical.Awaiting(issue)

    def _sts_response(
        self, name: str, credential_type: str, duration: int, issued: sm.TemporaryCredentials
    ) -> logical.Response:
        expires = issued.expired_time or int(time.time()) + duration
        lifetime = max(1, expires - int(time.time()))
        expiration = issued.expiration or (
            dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        data: dict[str, Any] = {
            "secret_id": issued.tmp_secret_id,
            "secret_key": issued.tmp_secret_key,
            "token": issued.token,
            "expiration": expiration,
        }
        response = self._backend.secret_type.response(
            data,
            {
                "credential_type": credential_type,
                "role_name": name,
                "secret_id": issued.tmp_secret_id,
            },
            ttl=float(lifetime),
            max_ttl=float(lifetime),
        )
        assert response.secret is not None
        response.secret = dataclasses.replace(
            response.secret, lease=dataclasses.replace(response.secret.lease, renewable=False)
        )
        log.debug("issued %s credential", credential_type, extra={"role": name})
        return response

    def paths(self) -> list[fw.Path]:
        attrs = fw.DisplayAttributes(
            operation_prefix="tencent-cloud", operation_suffix="credentials"
        )
        operation = {
            "summary": "Issue a credential of the role.",
            "display_attrs": fw.DisplayAttributes(operation_verb="generate"),
        }
        return [
            fw.Path(
                "creds/" + fw.generic_name_regex("name"),
                fields=FIELDS,
                operations={
                    logical.READ: fw.Operation(self.issue, inline=True, **operation),  # type: ignore[arg-type]
                    logical.UPDATE: fw.Operation(self.issue, inline=True, **operation),  # type: ignore[arg-type]
                },
                help_synopsis="Issue Tencent Cloud credentials of a role.",
                help_description=HELP_DESCRIPTION,
                display_attrs=attrs,
            )
        ]


HELP_DESCRIPTION = """\
Reading creds/<role> issues one credential of the role's type as a Vault lease:

  cam_user          a new CAM sub-user with one API key (secret_id, secret_key), in the
                    role's groups; renewable within the role's ttl/max_ttl; revoking the
                    lease deletes the user.
  assumed_role      STS AssumeRole credentials (secret_id, secret_key, token, expiration);
                    the lease lasts as long as they do and is not renewable.
  federation_token  STS GetFederationToken credentials, as above.

Write to the path instead of reading it to pass "ttl".
"""
