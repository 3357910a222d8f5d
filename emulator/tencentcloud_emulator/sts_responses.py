"""STS 2018-08-13: AssumeRole, GetFederationToken, GetCallerIdentity, AssumeRoleWithWebIdentity.
The credential triple is the only secret rendered here, and only in the issuing response."""

from __future__ import annotations

from typing import Any

from . import sts_models
from .actions import Call, action
from .ids import iso_utc
from .params import Params, i, objects, s
from .world import Session


def _credentials(session: Session) -> dict[str, Any]:
    return {
        "Credentials": {
            "Token": session.token,
            "TmpSecretId": session.tmp_secret_id,
            "TmpSecretKey": session.tmp_secret_key,
        },
        "ExpiredTime": int(session.expires_at),
        "Expiration": iso_utc(session.expires_at),
    }


@action(
    "sts",
    "AssumeRole",
    s("RoleArn", required=True),
    s("RoleSessionName", required=True),
    i("DurationSeconds"),
    s("Policy"),
    s("ExternalId"),
    objects("Tags", s("Key", required=True), s("Value", required=True)),
    s("SourceIdentity"),
    s("SerialNumber"),
    s("TokenCode"),
)
def assume_role(call: Call, p: Params) -> dict[str, Any]:
    session = sts_models.assume_role(
        call.world,
        call.caller,
        role_arn=p.text("RoleArn"),
        session_name=p.text("RoleSessionName"),
        duration_seconds=p.opt_number("DurationSeconds"),
        policy=p.opt_text("Policy"),
        external_id=p.opt_text("ExternalId"),
        tags=[(t.text("Key"), t.text("Value")) for t in p.objects("Tags")],
    )
    return _credentials(session)


@action(
    "sts",
    "GetFederationToken",
    s("Name", required=True),
    s("Policy", required=True),
    i("DurationSeconds"),
)
def get_federation_token(call: Call, p: Params) -> dict[str, Any]:
    session = sts_models.get_federation_token(
        call.world,
        call.caller,
        name=p.text("Name"),
        policy=p.text("Policy"),
        duration_seconds=p.opt_number("DurationSeconds"),
    )
    return _credentials(session)


@action("sts", "GetCallerIdentity")
def get_caller_identity(call: Call, p: Params) -> dict[str, Any]:
    return sts_models.caller_identity(call.caller)


@action(
    "sts",
    "AssumeRoleWithWebIdentity",
    s("ProviderId", required=True),
    s("WebIdentityToken", required=True),
    s("RoleArn", required=True),
    s("RoleSessionName", required=True),
    i("DurationSeconds"),
    unsigned=True,
)
def assume_role_with_web_identity(call: Call, p: Params) -> dict[str, Any]:
    session = sts_models.assume_role_with_web_identity(
        call.world,
        provider_id=p.text("ProviderId"),
        token=p.text("WebIdentityToken"),
        role_arn=p.text("RoleArn"),
        session_name=p.text("RoleSessionName"),
        duration_seconds=p.opt_number("DurationSeconds"),
    )
    return _credentials(session)
