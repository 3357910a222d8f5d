"""Secrets never show up in exceptions, log records or reprs."""

from __future__ import annotations

import logging

import pytest

from tencentcloud_secrets.tencentcloud import AuthenticationError, Credentials
from tencentcloud_secrets.tencentcloud.models_cam import (
    AccessKeyDetail,
    AddUserRequest,
    AddUserResult,
)
from tencentcloud_secrets.tencentcloud.models_sts import (
    AssumeRoleRequest,
    AssumeRoleWithWebIdentityRequest,
    TemporaryCredentials,
)
from tests.unit.tencentcloud.tc_fake_server import SECRET_ID, SECRET_KEY, ClientFactory, FakeCloud

TOKEN = "session-token-that-must-stay-hidden"
PASSWORD = "Console-Password-123!"


def test_failing_call_leaks_nothing(
    cloud: FakeCloud, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(credentials=Credentials(SECRET_ID, SECRET_KEY, TOKEN))
    cloud.inject("AddUser", "throttle")
    cloud.echo_everything = True
    with pytest.raises(AuthenticationError) as info:
        client.cam.add_user(AddUserRequest("x", console_login=True, password=PASSWORD))
    signatures = [r.headers["authorization"].rsplit("Signature=", 1)[1] for r in cloud.recorded]
    texts = [str(info.value), repr(info.value), info.value.message, caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        for secret in [SECRET_KEY, TOKEN, PASSWORD, *signatures]:
            assert secret not in text
    assert "<redacted>" in info.value.message


def test_reprs_hide_secrets() -> None:
    objects = [
        Credentials("AKIDx", SECRET_KEY, TOKEN),
        AddUserRequest("u", password=PASSWORD),
        AddUserResult(1, "u", 2, "AKIDx", SECRET_KEY, PASSWORD),
        AccessKeyDetail("AKIDx", SECRET_KEY),
        TemporaryCredentials("AKIDtmp", SECRET_KEY, TOKEN),
        AssumeRoleRequest("arn", "s", token_code=PASSWORD),
        AssumeRoleWithWebIdentityRequest("p", "arn", "s", TOKEN),
    ]
    for obj in objects:
        for secret in (SECRET_KEY, TOKEN, PASSWORD):
            assert secret not in repr(obj)


def test_every_public_name_resolves_lazily() -> None:
    import tencentcloud_secrets.tencentcloud as tc

    for name in tc.__all__:
        assert getattr(tc, name) is not None
