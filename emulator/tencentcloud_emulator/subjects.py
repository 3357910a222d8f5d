"""Whose access keys a key action touches (CreateAccessKey, ListAccessKeys, DeleteAccessKey,
UpdateAccessKey).

The service documents ``TargetUin`` as optional, defaulting to "the current user": the caller's
own keys. Getting this wrong is dangerous in exactly one direction (a sub-user's call that
lands on the root account's keys), so the rule lives here, once, ahead of any key operation.
"""

from __future__ import annotations

from .exceptions import ApiError
from .world import Principal


def key_subject(caller: Principal, target_uin: int | None) -> int:
    """The uin whose keys the call acts on.

    - No ``TargetUin``: the caller itself (root key -> root, sub-user key -> that sub-user,
      federation token -> the user that federated). A role session is no user and has no
      keys of its own: ``InvalidParameter.UserNotExist``.
    - ``TargetUin`` of the root account from anyone but the root:
      ``OperationDenied.SubUin`` (sub-users may never handle the main account's keys).
    - ``TargetUin`` of another sub-user: allowed here; whether the caller may is a CAM
      permission question (resource ``qcs::cam::uin/<owner>:uin/<target>``).
    """
    owner = caller.account.owner_uin
    if target_uin is None:
        if caller.kind == "role":
            raise ApiError(
                "InvalidParameter.UserNotExist",
                "A role session has no access keys of its own; give `TargetUin`.",
            )
        return caller.uin
    # A federation token of the root account speaks for the root; every other kind does not.
    speaks_for_root = caller.kind in ("root", "federated") and caller.uin == owner
    if target_uin == owner and not speaks_for_root:
        raise ApiError(
            "OperationDenied.SubUin", "A sub-account cannot operate the main account's keys."
        )
    return target_uin
