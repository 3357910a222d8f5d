"""Authentication and the gateway's request checks, in the order the real service applies them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tencentcloud.cam.v20190116 import models as cam_models
from tencentcloud.sts.v20180813 import models

from tencentcloud_emulator.testing import RunningEmulator
from tests.support.sdk import build
from tests.support.seed import OIDC_PROVIDER, OIDC_ROLE_ARN

ErrorCode = Callable[[Callable[[], object]], str]


def test_sdk_with_wrong_secret_key_or_unknown_id(sdk: Any, error_code: ErrorCode) -> None:
    who = models.GetCallerIdentityRequest()
    wrong = sdk.sts(sdk.emu.secret_id, "W" * 32)
    assert error_code(lambda: wrong.GetCallerIdentity(who)) == "AuthFailure.SignatureFailure"
    unknown = sdk.sts("AKID" + "U" * 32, "W" * 32)
    assert error_code(lambda: unknown.GetCallerIdentity(who)) == "AuthFailure.SecretIdNotFound"


def test_timestamp_skew_over_five_minutes(raw: Any) -> None:
    now = int(time.time())
    assert raw.code("ListUsers", timestamp=now - 250) == "Success"
    assert raw.code("ListUsers", timestamp=now - 400) == "AuthFailure.SignatureExpire"
    assert raw.code("ListUsers", timestamp=now + 400) == "AuthFailure.SignatureExpire"


def test_signature_covers_the_host_header(raw: Any, emulator: RunningEmulator) -> None:
    good = raw.send("GetUser", {"Name": "x"})
    assert good["Error"]["Code"] == "ResourceNotFound.UserNotExist"
    headers = {"Host": "cam.tencentcloudapi.com"}
    assert raw.code("GetUser", {"Name": "x"}, headers=headers) == "AuthFailure.SignatureFailure"


def test_malformed_authorization(raw: Any) -> None:
    code = raw.code("ListUsers", authorization="TC3-HMAC-SHA256 nonsense")
    assert code == "AuthFailure.InvalidAuthorization"
    assert raw.code("ListUsers", authorization="") == "AuthFailure.InvalidAuthorization"


def test_skip_only_for_unsigned_actions(raw: Any) -> None:
    assert raw.code("ListUsers", authorization="SKIP") == "AuthFailure.InvalidAuthorization"
    code = raw.code("AssumeRole", {}, service="sts", authorization="SKIP")
    assert code == "AuthFailure.InvalidAuthorization"
    params = {
        "ProviderId": OIDC_PROVIDER,
        "WebIdentityToken": "a.b.c",
        "RoleArn": OIDC_ROLE_ARN,
        "RoleSessionName": "unsigned",
    }
    code = raw.code("AssumeRoleWithWebIdentity", params, service="sts", authorization="SKIP")
    assert code == "InvalidParameter.WebIdentityTokenError"


def test_sdk_skip_sign_option_reaches_web_identity(sdk: Any, error_code: ErrorCode) -> None:
    params = {
        "ProviderId": OIDC_PROVIDER,
        "WebIdentityToken": "a.b.c",
        "RoleArn": OIDC_ROLE_ARN,
        "RoleSessionName": "unsigned",
    }
    sts = sdk.sts()
    code = error_code(
        lambda: sts.call_json("AssumeRoleWithWebIdentity", params, options={"SkipSign": True})
    )
    assert code == "InvalidParameter.WebIdentityTokenError"
    assert sdk.emu.requests("AssumeRoleWithWebIdentity")[-1]["secret_id"] == ""


def test_action_version_and_parameter_errors(raw: Any) -> None:
    assert raw.code("NoSuchThing") == "InvalidAction"
    assert raw.code("AssumeRole", service="cam") == "InvalidAction"
    assert raw.code("ListUsers", version="2017-03-12") == "NoSuchVersion"
    assert raw.code("GetUser", {}) == "MissingParameter"
    assert raw.code("GetUser", {"Name": "a", "Bogus": 1}) == "UnknownParameter"
    assert raw.code("GetPolicy", {"PolicyId": "12"}) == "InvalidParameter"
    assert raw.code("DeletePolicy", {"PolicyId": 12}) == "InvalidParameter"
    assert raw.code("ListUsers", body=b"[1]") == "InvalidParameter"
    assert raw.code("ListUsers", body=b"{not json") == "InvalidParameter"
    assert raw.code("GetCallerIdentity", service="sts", region=None) == "MissingParameter"


def test_error_envelope_shape(raw: Any) -> None:
    answer = raw.send("GetUser", {"Name": "ghost"})
    assert set(answer) == {"Error", "RequestId"}
    assert set(answer["Error"]) == {"Code", "Message"}
    assert len(answer["RequestId"]) == 36


def test_form_post_is_accepted(raw: Any) -> None:
    body = b"Name=formuser&UseApi=0"
    answer = raw.send("AddUser", body=body, content_type="application/x-www-form-urlencoded")
    assert answer["Name"] == "formuser"
    assert "SecretKey" not in answer


def test_inactive_and_deleted_keys_stop_working(sdk: Any, error_code: ErrorCode) -> None:
    cam = sdk.cam()
    user = cam.AddUser(build(cam_models.AddUserRequest, Name="keyed", UseApi=1))
    as_user = sdk.sts(user.SecretId, user.SecretKey)
    who = models.GetCallerIdentityRequest()
    assert as_user.GetCallerIdentity(who).UserId == str(user.Uin)

    update = build(
        cam_models.UpdateAccessKeyRequest,
        AccessKeyId=user.SecretId,
        Status="Inactive",
        TargetUin=user.Uin,
    )
    cam.UpdateAccessKey(update)
    assert error_code(lambda: as_user.GetCallerIdentity(who)) == "AuthFailure.SecretIdNotFound"

    cam.DeleteUser(build(cam_models.DeleteUserRequest, Name="keyed", Force=1))
    assert error_code(lambda: as_user.GetCallerIdentity(who)) == "AuthFailure.SecretIdNotFound"


def test_key_activation_delay(sdk: Any, emulator: RunningEmulator, error_code: ErrorCode) -> None:
    emulator.set_faults({"key_activation_delay": 30})
    cam = sdk.cam()
    user = cam.AddUser(build(cam_models.AddUserRequest, Name="slow", UseApi=1))
    as_user = sdk.sts(user.SecretId, user.SecretKey)
    who = models.GetCallerIdentityRequest()
    assert error_code(lambda: as_user.GetCallerIdentity(who)) == "AuthFailure.SecretIdNotFound"
    emulator.advance_clock(31)
    assert as_user.GetCallerIdentity(who).UserId == str(user.Uin)
