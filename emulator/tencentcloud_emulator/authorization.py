"""CAM authorization of one authenticated call: which policies speak for the caller, which
resource the call touches, and the code a refusal answers with.

- Root keys may do everything (CAM does not evaluate the owner).
- A sub-user's key: the policies attached to the user and to each of its groups.
- A role session: the role's policies, intersected with the session policy when AssumeRole
  was given one.
- A federation token: what the federating identity may do (everything for the root),
  intersected with the token's policy.
An explicit deny anywhere wins; an intersection allows only what both sides allow.

CAM authorizes almost every CAM action at the operation level (the resource must be ``*``);
the key actions are resource-level on ``qcs::cam::uin/<owner>:uin/<subject>`` and AssumeRole
on the role's ARN (CAM's "CAM-enabled API" table for cam; STS's AssumeRole documentation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .exceptions import ApiError
from .models import Account
from .params import Params
from .policy_eval import AccessRequest, ContextValue, Decision, evaluate, parse
from .subjects import key_subject
from .world import Principal

DENIAL_CODES = {"cam": "AuthFailure.UnauthorizedOperation", "sts": "UnauthorizedOperation"}
# Asking who one is needs no permission; AssumeRoleWithWebIdentity has no signed caller.
UNCHECKED = frozenset({("sts", "GetCallerIdentity"), ("sts", "AssumeRoleWithWebIdentity")})
KEY_ACTIONS = frozenset({"CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey", "ListAccessKeys"})


def resource_of(principal: Principal, service: str, action: str, params: Params) -> str:
    owner = principal.account.owner_uin
    if service == "cam" and action in KEY_ACTIONS:
        try:
            subject = key_subject(principal, params.opt_number("TargetUin"))
        except ApiError:
            return "*"  # the action itself reports why; authorization sees no resource
        return f"qcs::cam::uin/{owner}:uin/{subject}"
    if (service, action) == ("sts", "AssumeRole"):
        return params.text("RoleArn") or "*"
    return "*"


def identity_documents(account: Account, uin: int) -> list[dict[str, Any]]:
    """The documents of a sub-user's own policies and of its groups' policies."""
    user = account.user_by_uin(uin)
    if user is None:
        return []
    ids = list(user.policies)
    for group_id in user.groups:
        group = account.groups.get(group_id)
        if group is not None:
            ids += list(group.policies)
    return [parse(p.document) for i in dict.fromkeys(ids) if (p := account.policy(i))]


def _both(first: Decision, second: Decision) -> Decision:
    if Decision.DENY in (first, second):
        return Decision.DENY
    if first is second is Decision.ALLOW:
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


def decide(principal: Principal, request: AccessRequest) -> Decision:
    account = principal.account
    session = principal.session
    if principal.kind == "root":
        return Decision.ALLOW
    if principal.kind == "user" or session is None:
        return evaluate(identity_documents(account, principal.uin), request)
    if principal.kind == "federated":
        if session.issuer_uin == account.owner_uin:
            base = Decision.ALLOW
        else:
            base = evaluate(identity_documents(account, session.issuer_uin), request)
    else:
        role = account.roles.get(session.role_id)
        if role is None:
            return Decision.IMPLICIT_DENY
        documents = [parse(p.document) for i in role.policies if (p := account.policy(i))]
        base = evaluate(documents, request)
    if session.policy is None:
        return base
    return _both(base, evaluate([parse(session.policy)], request))


def authorize(
    principal: Principal,
    service: str,
    action: str,
    params: Params,
    context: Mapping[str, ContextValue],
) -> None:
    """Raise the service's refusal unless the caller's policies allow this call."""
    if (service, action) in UNCHECKED:
        return
    if principal.temporary and (service, action) == ("sts", "GetFederationToken"):
        return  # refused for any temporary credentials (TempKeyNotAllowed), whatever they may do
    request = AccessRequest(
        action=f"{service}:{action}",
        resource=resource_of(principal, service, action, params),
        owner_uin=principal.account.owner_uin,
        context=context,
    )
    if decide(principal, request) is not Decision.ALLOW:
        raise ApiError(
            DENIAL_CODES[service],
            f"You are not authorized to perform `{request.action}` on `{request.resource}`.",
        )
