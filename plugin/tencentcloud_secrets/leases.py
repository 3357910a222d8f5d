"""The lease type: renewing and revoking credentials, and rolling back unfinished issues.

Revocation needs nothing but the lease's internal data, so it works after the role was
changed or deleted: one DeleteUser with Force (keys and memberships added out of band do not
block it), and a user already gone counts as revoked. STS credentials cannot be revoked
early; their leases end with them. Leases issued by the original Go plugin on the same mount
(``role_type: cam``, a custom policy per lease) are revoked too, so a mount can switch
plugins with live leases.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.cloud_errors import vault_error
from tencentcloud_secrets.role import CAM_USER, read_role
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import NotFoundError, TencentCloudError
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.backend import TencentCloudBackend

log = logging.getLogger(__name__)

SECRET_TYPE = "tencentcloud"
"""The original plugin's secret type name, kept so its leases route here."""
WAL_CAM_USER = "cam_user"
REVOKING_PREFIX = "revoking/"
"""Leases whose revocation failed once, by username: their retries check the uin first."""


def _text(internal: dict[str, Any], key: str) -> str:
    value = internal.get(key)
    if not isinstance(value, str | int) or value == "":
        raise logical.CodedError(500, f"lease internal data has no {key}")
    return str(value)


def _kind(internal: Mapping[str, Any]) -> Any:
    """The lease's credential type (``role_type`` in leases of the original plugin)."""
    return internal.get("credential_type") or internal.get("role_type")


def _expires_alone(internal: Mapping[str, Any]) -> bool:
    """Whether the lease is of STS credentials, which cannot be revoked early: revoking it
    calls nothing and writes nothing (so the framework may answer it on the event loop)."""
    return _kind(internal) not in (CAM_USER, "cam")


class Leases:
    def __init__(self, backend: TencentCloudBackend) -> None:
        self._backend = backend

    def secret(self) -> fw.Secret:
        return fw.Secret(
            type=SECRET_TYPE, renew=self.renew, revoke=self.revoke, inline_revoke=_expires_alone
        )

    def renew(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.secret is not None
        internal = request.secret.internal_data
        kind = internal.get("credential_type") or internal.get("role_type")
        if kind not in (CAM_USER, "cam"):
            raise logical.InvalidRequest("STS credentials cannot be renewed")
        role_name = _text(internal, "role_name")
        role = read_role(request.storage, role_name)
        if role is None:
            raise logical.InvalidRequest(
                f'role "{role_name}" was deleted, so its leases cannot be renewed any more; '
                "they are revoked when they expire"
            )
        return fw.renew_response(request, float(role.ttl), float(role.max_ttl))

    def revoke(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.secret is not None
        internal = request.secret.internal_data
        if _expires_alone(internal):
            return None  # STS credentials expire by themselves
        kind = _kind(internal)
        username = _text(internal, "username")
        client = self._backend.client(request.storage)
        deadline = self._backend.cloud_deadline(request)
        uin = internal.get("uin")
        storage = request.storage
        pending = REVOKING_PREFIX + username
        # The first attempt deletes by name in one call: the name is unique to this lease.
        # After a failed attempt (the user may be gone already, and its name free for anybody)
        # the user is deleted only if it is still the lease's (same uin).
        retry = isinstance(uin, int) and storage.get(pending) is not None
        try:
            if kind == "cam":
                self._revoke_legacy(client.cam, internal, username, deadline)
            if retry and not self._still_the_leases(client.cam, username, uin, deadline):
                storage.delete(pending)
                return None
            self._delete_user(client.cam, username, deadline, retry_sent=not isinstance(uin, int))
        except TencentCloudError as exc:
            if isinstance(uin, int) and not retry:
                storage.put(logical.StorageEntry(pending, str(uin).encode()))
            # Vault retries a failed revocation with backoff.
            raise vault_error(exc, f'revoking the credential of user "{username}"') from None
        if retry:
            storage.delete(pending)
        log.debug("revoked cam_user credential", extra={"username": username})
        return None

    @staticmethod
    def _still_the_leases(cam: Any, username: str, uin: Any, deadline: Deadline | None) -> bool:
        try:
            user = cam.get_user(cm.GetUserRequest(username), deadline=deadline)
        except NotFoundError:
            log.info("user %s was already gone", username)
            return False
        if user.uin != uin:
            log.warning(
                "user %s is not the lease's any more (uin %s, the lease's %s); kept",
                username,
                user.uin,
                uin,
            )
            return False
        return True

    @staticmethod
    def _delete_user(
        cam: Any, username: str, deadline: Deadline | None, *, retry_sent: bool = True
    ) -> None:
        try:
            cam.delete_user(
                cm.DeleteUserRequest(username, force=True),
                deadline=deadline,
                retry_sent=retry_sent,
            )
        except NotFoundError:
            log.info("user %s was already gone", username)

    @staticmethod
    def _revoke_legacy(
        cam: Any, internal: dict[str, Any], username: str, deadline: Deadline | None
    ) -> None:
        """The original plugin made one custom policy per lease, named "<user>-<uuid>";
        delete those (checked by name) before the user."""
        ids = []
        for entry in internal.get("inline_policies") or []:
            policy_id = entry.get("policy_id") if isinstance(entry, dict) else None
            if not policy_id:
                continue
            try:
                policy = cam.get_policy(cm.GetPolicyRequest(int(policy_id)), deadline=deadline)
            except NotFoundError:
                continue
            if policy.policy_name.startswith(username + "-"):
                ids.append(int(policy_id))
        if ids:
            with contextlib.suppress(NotFoundError):
                cam.delete_policy(cm.DeletePolicyRequest(tuple(ids)), deadline=deadline)

    def roll_back_user(self, request: logical.Request, data: Any) -> None:
        """Delete the user of an issue that never finished. Safe twice: the user is deleted
        only while it exists and carries that issue's marker in its Remark."""
        username = str(data["username"])
        cam = self._backend.client(request.storage).cam
        deadline = self._backend.cloud_deadline(request)
        try:
            try:
                user = cam.get_user(cm.GetUserRequest(username), deadline=deadline)
            except NotFoundError:
                return
            if user.remark != data.get("remark"):
                log.warning("rollback: user %s is not the one this issue created; kept", username)
                return
            log.info("rollback: deleting user %s of an unfinished issue", username)
            self._delete_user(cam, username, deadline)
        except TencentCloudError as exc:
            raise vault_error(exc, f'rolling back user "{username}"') from None
