"""Secrets never reach the request log, the emulator's own log output, or the admin state."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from tencentcloud.cam.v20190116 import models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.sts.v20180813 import models as sts_models

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud.signer import sign
from tests.support.sdk import build
from tests.support.seed import DEMO_ROLE_ARN, OIDC_PROVIDER, OIDC_ROLE_ARN


def admin_get(emulator: RunningEmulator, path: str) -> str:
    with urllib.request.urlopen(f"{emulator.endpoint}/_emulator/{path}", timeout=10) as response:
        return str(response.read().decode())


def test_no_secret_in_logs_or_admin_views(
    sdk: Any, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = [emulator.secret_key]
    for method in ("POST", "GET"):
        cam = sdk.cam(method=method)
        name = f"secretive-{method.lower()}"
        password = f"Pa55word!{method}"
        request = build(
            models.AddUserRequest, Name=name, UseApi=1, ConsoleLogin=1, Password=password
        )
        user = cam.AddUser(request)
        secrets += [user.SecretKey, password]
        key_request = build(models.CreateAccessKeyRequest, TargetUin=user.Uin)
        secrets.append(cam.CreateAccessKey(key_request).AccessKey.SecretAccessKey)

        sts = sdk.sts(method=method)
        assume = build(
            sts_models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="redact"
        )
        creds = sts.AssumeRole(assume).Credentials
        secrets += [creds.TmpSecretKey, creds.Token]
        sdk.sts(creds.TmpSecretId, creds.TmpSecretKey, creds.Token).GetCallerIdentity(
            sts_models.GetCallerIdentityRequest()
        )
        token = f"header.payload.signature-{method}"
        web = build(
            sts_models.AssumeRoleWithWebIdentityRequest,
            ProviderId=OIDC_PROVIDER,
            WebIdentityToken=token,
            RoleArn=OIDC_ROLE_ARN,
            RoleSessionName="redact",
        )
        with pytest.raises(TencentCloudSDKException) as refused:
            sts.AssumeRoleWithWebIdentity(web)
        assert refused.value.code.startswith("InvalidParameter")
        assert "WebIdentityToken" in refused.value.message
        secrets.append(token)

    log_json = json.dumps(emulator.requests())
    views = [
        log_json,
        admin_get(emulator, "requests"),
        admin_get(emulator, "state"),
        admin_get(emulator, "counters"),
    ]
    views.append(json.dumps(emulator.state))
    # Only the emulator's own records: the SDK's debug log prints its requests itself.
    ours = [r for r in caplog.records if r.name.startswith("tencentcloud_emulator")]
    assert ours, "the emulator logs each call"
    views.append("\n".join(r.getMessage() for r in ours))
    for view in views:
        for secret in secrets:
            assert secret not in view
            assert urllib.parse.quote(secret) not in view
    logged = emulator.requests("AddUser")[0]["params"]
    assert logged["Password"] == "***"
    assert logged["Name"] == "secretive-post"
    assert "AccessKeyId" in admin_get(emulator, "state")


def test_logged_headers_keep_the_scope_but_not_the_signature_or_token(
    sdk: Any, raw: Any, emulator: RunningEmulator
) -> None:
    assume = build(sts_models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="headers")
    creds = sdk.sts().AssumeRole(assume).Credentials
    stamp = int(time.time())
    signed = sign(
        secret_id=creds.TmpSecretId,
        secret_key=creds.TmpSecretKey,
        service="sts",
        host=emulator.host_port,
        timestamp=stamp,
        payload=b"{}",
        content_type="application/json",
    )
    answer = raw.code(
        "GetCallerIdentity",
        service="sts",
        secret_id=creds.TmpSecretId,
        secret_key=creds.TmpSecretKey,
        token=creds.Token,
        timestamp=stamp,
    )
    assert answer == "Success"
    headers = emulator.requests("GetCallerIdentity")[-1]["headers"]
    assert headers["authorization"] == signed.authorization.replace(signed.signature, "***")
    assert headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={creds.TmpSecretId}/")
    assert headers["x-tc-token"] == "***"
    assert headers["x-tc-timestamp"] == str(stamp)
    assert headers["x-tc-region"] == "ap-guangzhou"
    views = [json.dumps(emulator.requests()), admin_get(emulator, "requests")]
    for view in views:
        for secret in (signed.signature, creds.Token, creds.TmpSecretKey):
            assert secret not in view
