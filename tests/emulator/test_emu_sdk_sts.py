"""STS through the official SDK: issued credentials work against the emulator itself, and
expired, forged or missing tokens are rejected."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from tencentcloud.cam.v20190116 import models as cam_models
from tencentcloud.sts.v20180813 import models

from tencentcloud_emulator.testing import RunningEmulator
from tests.support.sdk import build
from tests.support.seed import DEMO_ROLE_ARN, OIDC_ROLE_ARN
from tests.support.web_identity import signed_jwt

ErrorCode = Callable[[Callable[[], object]], str]
POLICY = urllib.parse.quote(
    json.dumps(
        {"version": "2.0", "statement": [{"effect": "allow", "action": "cos:*", "resource": "*"}]}
    )
)


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_assume_role_credentials_identify_as_the_role(sdk: Any, method: str) -> None:
    sts = sdk.sts(method=method)
    before = int(time.time())
    issued = sts.AssumeRole(
        build(
            models.AssumeRoleRequest,
            RoleArn=DEMO_ROLE_ARN,
            RoleSessionName="vault-ci",
            Policy=POLICY,
        )
    )
    after = int(time.time()) + 1
    creds = issued.Credentials
    assert creds.TmpSecretId.startswith("AKID")
    assert creds.TmpSecretKey
    assert creds.Token
    # Issued somewhere between before and after, for the default 7200 s.
    assert before + 7200 <= issued.ExpiredTime <= after + 7200
    assert issued.Expiration.endswith("Z")
    assert "T" in issued.Expiration

    me = sdk.sts(creds.TmpSecretId, creds.TmpSecretKey, creds.Token).GetCallerIdentity(
        models.GetCallerIdentityRequest()
    )
    assert me.Type == "CAMRole"
    assert me.AccountId == "100000000001"
    assert me.UserId == "4611686018427397919:vault-ci"
    assert me.Arn == "qcs::sts:100000000001:assumed-role/4611686018427397919/vault-ci"


def test_assume_role_by_role_id_arn_and_duration(sdk: Any) -> None:
    before = int(time.time())
    issued = sdk.sts().AssumeRole(
        build(
            models.AssumeRoleRequest,
            RoleArn="qcs::cam::uin/100000000001:role/4611686018427397919",
            RoleSessionName="s1",
            DurationSeconds=900,
        )
    )
    after = int(time.time()) + 1
    assert before + 900 <= issued.ExpiredTime <= after + 900


def test_assume_role_errors(sdk: Any, error_code: ErrorCode) -> None:
    sts = sdk.sts()

    def assume(**fields: Any) -> Callable[[], object]:
        request = build(
            models.AssumeRoleRequest,
            **{"RoleArn": DEMO_ROLE_ARN, "RoleSessionName": "ok", **fields},
        )
        return lambda: sts.AssumeRole(request)

    assert error_code(assume(DurationSeconds=899)) == "InvalidParameter.OverTimeError"
    assert error_code(assume(DurationSeconds=43201)) == "InvalidParameter.OverTimeError"
    assert error_code(assume(RoleSessionName="x")) == "InvalidParameter.ParamError"
    assert error_code(assume(RoleSessionName="bad name")) == "InvalidParameter.ParamError"
    assert error_code(assume(ExternalId="x")) == "InvalidParameter.ParamError"
    # An empty ExternalId is none at all, as the SDKs send an unset one.
    assert sts.AssumeRole(
        build(models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="ok", ExternalId="")
    ).Credentials.Token
    missing = "qcs::cam::uin/100000000001:roleName/nope"
    assert error_code(assume(RoleArn=missing)) == "ResourceNotFound.RoleNotFound"
    bad_policy = urllib.parse.quote('{"version":"2.0","statement":[{"effect":"maybe"}]}')
    assert error_code(assume(Policy=bad_policy)) == "InvalidParameter.StrategyFormatError"
    # The other account's root is not in the demo role's trust policy.
    other = sdk.sts(*sdk.emu.account_keys(1))
    request = build(models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="x1")
    assert error_code(lambda: other.AssumeRole(request)) == "UnauthorizedOperation"


def test_federation_token(sdk: Any, error_code: ErrorCode) -> None:
    sts = sdk.sts()
    before = int(time.time())
    issued = sts.GetFederationToken(
        build(models.GetFederationTokenRequest, Name="app", Policy=POLICY)
    )
    after = int(time.time()) + 1
    assert before + 1800 <= issued.ExpiredTime <= after + 1800  # the default duration
    creds = issued.Credentials
    me = sdk.sts(creds.TmpSecretId, creds.TmpSecretKey, creds.Token).GetCallerIdentity(
        models.GetCallerIdentityRequest()
    )
    assert me.UserId == "100000000001:app"

    too_long = build(
        models.GetFederationTokenRequest, Name="app", Policy=POLICY, DurationSeconds=7201
    )
    assert error_code(lambda: sts.GetFederationToken(too_long)) == "InvalidParameter.OverTimeError"
    temp = sdk.sts(creds.TmpSecretId, creds.TmpSecretKey, creds.Token)
    again = build(models.GetFederationTokenRequest, Name="app", Policy=POLICY)
    assert error_code(lambda: temp.GetFederationToken(again)) == "FailedOperation.TempKeyNotAllowed"


def test_temporary_credentials_work_for_cam_too(sdk: Any) -> None:
    creds = (
        sdk.sts()
        .AssumeRole(
            build(models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="cam-user")
        )
        .Credentials
    )
    cam = sdk.cam(creds.TmpSecretId, creds.TmpSecretKey, creds.Token)
    assert cam.ListUsers(cam_models.ListUsersRequest()).Data == []


def test_expired_forged_and_missing_tokens(
    sdk: Any, emulator: RunningEmulator, error_code: ErrorCode
) -> None:
    creds = (
        sdk.sts()
        .AssumeRole(
            build(
                models.AssumeRoleRequest,
                RoleArn=DEMO_ROLE_ARN,
                RoleSessionName="exp",
                DurationSeconds=900,
            )
        )
        .Credentials
    )
    who = models.GetCallerIdentityRequest()

    forged = sdk.sts(creds.TmpSecretId, creds.TmpSecretKey, creds.Token[:-4] + "AAAA")
    assert error_code(lambda: forged.GetCallerIdentity(who)) == "AuthFailure.TokenFailure"
    tokenless = sdk.sts(creds.TmpSecretId, creds.TmpSecretKey)
    assert error_code(lambda: tokenless.GetCallerIdentity(who)) == "AuthFailure.TokenFailure"
    wrong_key = sdk.sts(creds.TmpSecretId, "x" * 44, creds.Token)
    assert error_code(lambda: wrong_key.GetCallerIdentity(who)) == "AuthFailure.SignatureFailure"
    unknown = sdk.sts("AKID" + "Z" * 68, creds.TmpSecretKey, creds.Token)
    assert error_code(lambda: unknown.GetCallerIdentity(who)) == "AuthFailure.SecretIdNotFound"

    good = sdk.sts(creds.TmpSecretId, creds.TmpSecretKey, creds.Token)
    assert good.GetCallerIdentity(who).Type == "CAMRole"
    emulator.advance_clock(901)
    assert error_code(lambda: good.GetCallerIdentity(who)) == "AuthFailure.TokenFailure"


def test_assume_role_with_web_identity(sdk: Any, error_code: ErrorCode) -> None:
    sts = sdk.sts()
    claims = {
        "iss": "https://idp.example",
        "sub": "ci-job",
        "aud": "vault-demo",
        "exp": int(time.time()) + 600,
    }

    def exchange(token: str, **fields: Any) -> Any:
        request = build(
            models.AssumeRoleWithWebIdentityRequest,
            **{
                "ProviderId": "demo-idp",
                "WebIdentityToken": token,
                "RoleArn": OIDC_ROLE_ARN,
                "RoleSessionName": "oidc",
                **fields,
            },
        )
        return sts.AssumeRoleWithWebIdentity(request)

    creds = exchange(signed_jwt(claims)).Credentials
    me = sdk.sts(creds.TmpSecretId, creds.TmpSecretKey, creds.Token).GetCallerIdentity(
        models.GetCallerIdentityRequest()
    )
    assert me.Type == "CAMRole"
    assert me.UserId == "4611686018427397920:oidc"

    bad = "InvalidParameter.WebIdentityTokenError"
    assert error_code(lambda: exchange(signed_jwt(claims, secret="forged"))) == bad
    assert error_code(lambda: exchange(signed_jwt({**claims, "exp": 1}))) == bad
    assert error_code(lambda: exchange(signed_jwt({**claims, "aud": "other"}))) == bad
    assert error_code(lambda: exchange("not-a-jwt")) == bad
    token = signed_jwt(claims)
    assert error_code(lambda: exchange(token, RoleArn=DEMO_ROLE_ARN)) == "UnauthorizedOperation"
