"""Secrets never show up in exceptions, log records or reprs."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import AuthenticationError, Credentials
from tencentcloud_secrets.tencentcloud import transport as transport_module
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
from tencentcloud_secrets.tencentcloud.signer import SignedParts, sign
from tests.unit.tencentcloud.support import ClientFactory, temporary_credentials

SECRET_KEY = "unit-secret-key-do-not-leak-0123456789"
TOKEN = "session-token-that-must-stay-hidden"
PASSWORD = "Console-Password-123!"


def test_failing_call_leaks_nothing(
    emulator: RunningEmulator,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    session = temporary_credentials(make_client())
    assert session.token is not None
    client = make_client(credentials=session)
    authorizations: list[str] = []

    def hostile_sign(**kw: Any) -> SignedParts:
        """Sign as usual, then make the emulator's answer to this very attempt hostile: the
        first attempt is throttled, the second answered with an error that repeats every
        secret of the attempt (key, token, Authorization header, body with the password)."""
        signed = sign(**kw)
        authorizations.append(signed.authorization)
        if len(authorizations) == 1:
            rule = {"code": "RequestLimitExceeded", "message": "too many requests"}
        else:
            echo = " ".join(
                [
                    session.secret_key,
                    str(session.token),
                    signed.authorization,
                    kw["payload"].decode(),
                ]
            )
            rule = {"code": "AuthFailure.TokenFailure", "message": echo}
        emulator.set_faults({"faults": [{"action": "AddUser", **rule}]})
        return signed

    monkeypatch.setattr(transport_module, "sign", hostile_sign)
    with pytest.raises(AuthenticationError) as info:
        client.cam.add_user(AddUserRequest("x", console_login=True, password=PASSWORD))
    assert [e["code"] for e in emulator.requests("AddUser")] == [
        "RequestLimitExceeded",
        "AuthFailure.TokenFailure",
    ]
    signatures = [a.rsplit("Signature=", 1)[1] for a in authorizations]
    assert len(set(signatures)) == 2
    texts = [str(info.value), repr(info.value), info.value.message, caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        for secret in [session.secret_key, session.token, PASSWORD, *signatures]:
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
