"""STS operations: issue temporary credentials that the emulator itself then accepts.

Web identity tokens (our own documented format, see docs/emulator.md) are HS256 JWTs signed
with the seeded provider's secret: ``base64url(header).base64url(claims).base64url(hmac)``
with claims ``iss``, ``sub``, ``exp`` and optionally ``aud``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import urllib.parse
from typing import Any

from . import policy_grammar
from .exceptions import ApiError
from .models import Account, Role
from .world import Principal, Session, World

_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,128}$", re.ASCII)
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,128}$", re.ASCII)
_FEDERATED_NAME = re.compile(r"^[\w+=,.@-]{2,32}$", re.ASCII)
_ROLE_ARN = re.compile(r"^qcs::cam::uin/(\d+):(roleName|role)/(.+)$")

ASSUME_ROLE_DEFAULT, ASSUME_ROLE_MIN, ASSUME_ROLE_MAX = 7200, 900, 43200
FEDERATION_DEFAULT, FEDERATION_MAX_ROOT, FEDERATION_MAX_USER = 1800, 7200, 129600


def _param_error(message: str) -> ApiError:
    return ApiError("InvalidParameter.ParamError", message)


def check_session_policy(policy: str | None) -> str | None:
    """The URL-encoded session policy: CAM grammar, no principal, STS's own error codes.
    Returns the decoded document, which later narrows what the credentials may do."""
    if policy is None:
        return None
    document = urllib.parse.unquote(policy)
    try:
        policy_grammar.validate(document)
    except ApiError as err:
        if err.code.endswith("LengthOverLimit"):
            raise ApiError("InvalidParameter.PolicyTooLong", "The policy is too long.") from None
        if err.code.endswith("ResourceError"):
            raise ApiError(
                "InvalidParameter.ResouceError", "A policy resource is not six-segment."
            ) from None
        raise ApiError(
            "InvalidParameter.StrategyFormatError", f"The policy has a grammar error: {err.message}"
        ) from None
    return document


def _find_role(world: World, role_arn: str) -> tuple[Account, Role]:
    match = _ROLE_ARN.match(role_arn)
    if match is None:
        raise _param_error("`RoleArn` is not a role ARN.")
    owner, how, ref = int(match.group(1)), match.group(2), match.group(3)
    account = world.accounts.get(owner)
    if account is not None:
        for role in account.roles.values():
            if (how == "role" and role.role_id == ref) or (how == "roleName" and role.name == ref):
                return account, role
    raise ApiError("ResourceNotFound.RoleNotFound", "The role does not exist.")


def _trust_statements(role: Role) -> list[dict[str, Any]]:
    document = json.loads(role.document)
    statements = document.get("statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _principals(statement: dict[str, Any], kind: str) -> list[str]:
    value = statement.get("principal", {}).get(kind, [])
    return [value] if isinstance(value, str) else list(value)


def _trusts(role: Role, kind: str, candidates: set[str], external_id: str | None = None) -> bool:
    for statement in _trust_statements(role):
        if str(statement.get("effect", "")).lower() != "allow":
            continue
        if not candidates & set(_principals(statement, kind)):
            continue
        wanted = statement.get("condition", {}).get("string_equal", {}).get("qcs:external_id")
        if wanted is not None and wanted != external_id:
            continue
        return True
    return False


def _duration(value: int | None, default: int, low: int, high: int) -> int:
    duration = default if value is None else value
    if not low <= duration <= high:
        raise ApiError(
            "InvalidParameter.OverTimeError",
            f"`DurationSeconds` must be between {low} and {high}.",
        )
    return duration


def assume_role(
    world: World,
    caller: Principal,
    *,
    role_arn: str,
    session_name: str,
    duration_seconds: int | None,
    policy: str | None,
    external_id: str | None,
    tags: list[tuple[str, str]],
) -> Session:
    """AssumeRole: RoleSessionName 2-128; DurationSeconds 900-43200 (default 7200, capped by
    the role's SessionDuration); Policy; ExternalId; Tags <= 50; role exists; role trusts caller."""
    if not _SESSION_NAME.match(session_name):
        raise _param_error("`RoleSessionName` must be 2-128 of [\\w+=,.@-].")
    duration = _duration(duration_seconds, ASSUME_ROLE_DEFAULT, ASSUME_ROLE_MIN, ASSUME_ROLE_MAX)
    session_policy = check_session_policy(policy)
    # An empty ExternalId counts as none: the SDKs send "" for an unset one (Go's takes a
    # pointer, and the original Vault plugin always points it at its role's value).
    external_id = external_id or None
    if external_id is not None and not _EXTERNAL_ID.match(external_id):
        raise _param_error("`ExternalId` must be 2-128 of [\\w+=,.@:/-].")
    if len(tags) > 50 or any(len(k) > 128 or len(v) > 256 for k, v in tags):
        raise _param_error("At most 50 `Tags`, keys up to 128 and values up to 256 characters.")
    if len({k for k, _ in tags}) != len(tags):
        raise _param_error("`Tags` must not repeat a key.")
    account, role = _find_role(world, role_arn)
    if duration > role.session_duration:
        raise ApiError(
            "InvalidParameter.OverTimeError",
            f"`DurationSeconds` exceeds the role's maximum of {role.session_duration}.",
        )
    owner = caller.account.owner_uin
    candidates = {f"qcs::cam::uin/{owner}:root", f"qcs::cam::uin/{owner}:uin/{caller.uin}"}
    if caller.session is not None and caller.session.kind == "role":
        candidates.add(f"qcs::cam::uin/{owner}:roleName/{caller.session.role_name}")
    if not _trusts(role, "qcs", candidates, external_id):
        raise ApiError(
            "UnauthorizedOperation", "The role's trust policy does not allow the caller."
        )
    return world.issue_session(
        owner_uin=account.owner_uin,
        issuer_uin=caller.uin,
        kind="role",
        name=session_name,
        duration=duration,
        role_id=role.role_id,
        role_name=role.name,
        policy=session_policy,
    )


def get_federation_token(
    world: World, caller: Principal, *, name: str, policy: str, duration_seconds: int | None
) -> Session:
    """GetFederationToken: permanent keys only; Name; Policy; DurationSeconds default 1800,
    at most 7200 for the root account and 129600 for a sub-user."""
    if caller.temporary:
        raise ApiError(
            "FailedOperation.TempKeyNotAllowed", "Temporary credentials cannot call this action."
        )
    if not _FEDERATED_NAME.match(name):
        raise _param_error("`Name` must be 2-32 of [\\w+=,.@-].")
    session_policy = check_session_policy(policy)
    high = FEDERATION_MAX_ROOT if caller.kind == "root" else FEDERATION_MAX_USER
    duration = _duration(duration_seconds, FEDERATION_DEFAULT, 1, high)
    return world.issue_session(
        owner_uin=caller.account.owner_uin,
        issuer_uin=caller.uin,
        kind="federated",
        name=name,
        duration=duration,
        policy=session_policy,
    )


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_web_identity_token(token: str, secret: str, audience: str, now: float) -> dict[str, Any]:
    """Check an HS256 JWT; raise InvalidParameter.WebIdentityTokenError on any defect."""
    bad = ApiError("InvalidParameter.WebIdentityTokenError", "The WebIdentityToken is invalid.")
    parts = token.split(".")
    if len(parts) != 3:
        raise bad
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error):
        raise bad from None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise bad
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise bad
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now or not claims.get("sub"):
        raise ApiError("InvalidParameter.WebIdentityTokenError", "The WebIdentityToken expired.")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience and audience not in audiences:
        raise bad
    return claims


def assume_role_with_web_identity(
    world: World,
    *,
    provider_id: str,
    token: str,
    role_arn: str,
    session_name: str,
    duration_seconds: int | None,
) -> Session:
    """AssumeRoleWithWebIdentity (unsigned): the role's account must hold the provider, the
    token must verify, and the role must trust ``oidc-provider/<ProviderId>``."""
    if not _SESSION_NAME.match(session_name):
        raise _param_error("`RoleSessionName` must be 2-128 of [\\w+=,.@-].")
    duration = _duration(duration_seconds, ASSUME_ROLE_DEFAULT, ASSUME_ROLE_MIN, ASSUME_ROLE_MAX)
    account, role = _find_role(world, role_arn)
    provider = account.oidc_providers.get(provider_id)
    if provider is None:
        raise _param_error(f"The identity provider `{provider_id}` does not exist.")
    verify_web_identity_token(token, provider.secret, provider.audience, world.env.now())
    federated = f"qcs::cam::uin/{account.owner_uin}:oidc-provider/{provider_id}"
    if not _trusts(role, "federated", {federated}):
        raise ApiError("UnauthorizedOperation", "The role's trust policy does not allow the IdP.")
    return world.issue_session(
        owner_uin=account.owner_uin,
        issuer_uin=account.owner_uin,
        kind="role",
        name=session_name,
        duration=min(duration, role.session_duration),
        role_id=role.role_id,
        role_name=role.name,
    )


def caller_identity(caller: Principal) -> dict[str, str]:
    """GetCallerIdentity: Arn, AccountId, UserId, PrincipalId, Type for each kind of caller."""
    owner = caller.account.owner_uin
    session = caller.session
    if session is not None and session.kind == "role":
        return {
            "Arn": f"qcs::sts:{owner}:assumed-role/{session.role_id}/{session.name}",
            "AccountId": str(owner),
            "UserId": f"{session.role_id}:{session.name}",
            "PrincipalId": str(session.issuer_uin),
            "Type": "CAMRole",
        }
    if session is not None:
        return {
            "Arn": f"qcs::sts:{owner}:federated-user/{session.issuer_uin}/{session.name}",
            "AccountId": str(owner),
            "UserId": f"{session.issuer_uin}:{session.name}",
            "PrincipalId": str(session.issuer_uin),
            "Type": "CAMUser",
        }
    return {
        "Arn": f"qcs::cam::uin/{owner}:uin/{caller.uin}",
        "AccountId": str(owner),
        "UserId": str(caller.uin),
        "PrincipalId": str(caller.uin),
        "Type": "CAMUser",
    }
