"""Transport against the emulator: envelopes, typed errors, retries, headers on the wire."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import (
    AlreadyExistsError,
    ApiError,
    AuthenticationError,
    Credentials,
    Endpoint,
    EndpointResolver,
    InvalidParameterError,
    LimitExceededError,
    NotFoundError,
    RetryPolicy,
    ServiceInternalError,
    TencentCloudClient,
    ThrottledError,
    TransportError,
)
from tencentcloud_secrets.tencentcloud.errors import error_class_for
from tencentcloud_secrets.tencentcloud.models_cam import AddUserRequest, GetUserRequest
from tencentcloud_secrets.tencentcloud.models_sts import AssumeRoleWithWebIdentityRequest
from tencentcloud_secrets.tencentcloud.transport import CAM
from tests.support.account import account
from tests.support.request_log import actions_and_codes
from tests.support.seed import OIDC_PROVIDER, OIDC_ROLE_ARN
from tests.support.web_identity import web_identity_token
from tests.unit.tencentcloud.support import ClientFactory, temporary_credentials


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("AuthFailure.SignatureFailure", AuthenticationError),
        ("AuthFailure.SignatureExpire", AuthenticationError),
        ("UnauthorizedOperation.DeleteApiKey", AuthenticationError),
        ("ResourceNotFound.UserNotExist", NotFoundError),
        ("InvalidParameter.UserNotExist", NotFoundError),
        ("InvalidParameter.RoleNotExist", NotFoundError),
        ("ResourceNotFound.RoleNotFound", NotFoundError),
        ("InvalidParameter.SubUserNameInUse", AlreadyExistsError),
        ("FailedOperation.PolicyNameInUse", AlreadyExistsError),
        ("InvalidParameter.SubUserFull", LimitExceededError),
        ("OperationDenied.AccessKeyOverLimit", LimitExceededError),
        ("FailedOperation.PolicyFull", LimitExceededError),
        ("LimitExceeded.Uin", LimitExceededError),
        ("RequestLimitExceeded", ThrottledError),
        ("RequestLimitExceeded.CreateUser", ThrottledError),
        ("RequestLimitExceeded.UinLimitExceeded", ThrottledError),
        ("InvalidParameter.PolicyDocumentError", InvalidParameterError),
        ("MissingParameter", InvalidParameterError),
        ("UnknownParameter", InvalidParameterError),
        ("InternalError.SystemError", ServiceInternalError),
        ("OperationDenied.HaveKeys", ApiError),
        ("FailedOperation.ForbidAdd", ApiError),
    ],
)
def test_error_codes_map_to_classes(code: str, cls: type[ApiError]) -> None:
    assert error_class_for(code) is cls


def _add_user(client: TencentCloudClient, name: str) -> int:
    return client.cam.add_user(AddUserRequest(name)).uin


def _user_in_state(emulator: RunningEmulator, name: str) -> dict[str, Any]:
    users = account(emulator)["Users"]
    found: dict[str, Any] = next(u for u in users if u["Name"] == name)
    return found


def test_success_envelope_and_wire_headers(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client(language="en-US")
    _add_user(client, "alice")
    stored = _user_in_state(emulator, "alice")
    assert stored["Uin"] != stored["Uid"]  # so a swapped decode cannot pass
    user = client.cam.get_user(GetUserRequest("alice"))
    assert (user.uin, user.uid, user.name, user.console_login) == (
        stored["Uin"],
        stored["Uid"],
        "alice",
        False,
    )
    sent = emulator.requests()[-1]
    assert (sent["action"], sent["code"]) == ("GetUser", "Success")  # the signature verified
    assert (sent["service"], sent["secret_id"]) == ("cam", emulator.secret_id)
    headers = sent["headers"]
    assert headers["host"] == emulator.host_port
    assert headers["content-type"] == "application/json"
    assert headers["x-tc-version"] == "2019-01-16"
    assert headers["x-tc-region"] == "ap-guangzhou"
    assert headers["x-tc-language"] == "en-US"
    assert "x-tc-token" not in headers
    assert headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={emulator.secret_id}/")
    assert "/cam/tc3_request" in headers["authorization"]


def test_token_and_no_region(emulator: RunningEmulator, make_client: ClientFactory) -> None:
    session = temporary_credentials(make_client())
    client = make_client(credentials=session, region=None)
    with pytest.raises(NotFoundError):
        client.cam.get_user(GetUserRequest("bob"))
    sent = emulator.requests()[-1]
    # The emulator answers AuthFailure.TokenFailure unless X-TC-Token is the session's token.
    assert (sent["action"], sent["code"]) == ("GetUser", "ResourceNotFound.UserNotExist")
    assert sent["secret_id"] == session.secret_id
    assert sent["headers"]["x-tc-token"] == "***"  # present (the log never keeps its value)
    assert "x-tc-region" not in sent["headers"]
    wrong = make_client(credentials=Credentials(session.secret_id, session.secret_key, "tok-1"))
    with pytest.raises(AuthenticationError) as info:
        wrong.cam.get_user(GetUserRequest("bob"))
    assert info.value.code == "AuthFailure.TokenFailure"


def test_error_envelope_is_typed(emulator: RunningEmulator, make_client: ClientFactory) -> None:
    client = make_client()
    with pytest.raises(NotFoundError) as info:
        client.cam.get_user(GetUserRequest("nobody"))
    assert info.value.code == "ResourceNotFound.UserNotExist"
    (logged,) = emulator.requests()
    assert info.value.request_id == logged["request_id"]
    assert info.value.action == "GetUser"


def test_wrong_key_is_authentication_error(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client(credentials=Credentials(emulator.secret_id, "not-the-key"))
    with pytest.raises(AuthenticationError) as info:
        client.cam.get_user(GetUserRequest("x"))
    assert info.value.code == "AuthFailure.SignatureFailure"
    # Never retried.
    assert actions_and_codes(emulator) == [("GetUser", "AuthFailure.SignatureFailure")]


def _throttle(action: str, times: int | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": action, "code": "RequestLimitExceeded"}
    if times is not None:
        rule.update(nth=1, times=times)
    return {"faults": [rule]}


def test_throttling_is_retried_and_resigned(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    uin = _add_user(client, "carol")
    emulator.set_faults(_throttle("GetUser", times=2))
    assert client.cam.get_user(GetUserRequest("carol")).uin == uin
    assert actions_and_codes(emulator) == [
        ("AddUser", "Success"),
        ("GetUser", "RequestLimitExceeded"),
        ("GetUser", "RequestLimitExceeded"),
        ("GetUser", "Success"),
    ]
    # Injected throttling comes after signature checks, so each attempt carried a valid
    # signature over its own timestamp: three timestamps mean three signatures.
    stamps = [e["headers"]["x-tc-timestamp"] for e in emulator.requests("GetUser")]
    assert len(set(stamps)) == 3


def test_throttling_gives_up_after_max_attempts(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01))
    emulator.set_faults(_throttle("GetUser", times=5))
    with pytest.raises(ThrottledError) as info:
        client.cam.get_user(GetUserRequest("x"))
    assert info.value.code == "RequestLimitExceeded"
    assert len(emulator.requests()) == 3


def test_deadline_bounds_retries(emulator: RunningEmulator, make_client: ClientFactory) -> None:
    fake = [0.0]

    def sleep(seconds: float) -> None:
        fake[0] += seconds

    client = make_client(
        retry=RetryPolicy(max_attempts=50, base_delay=1.0, max_delay=1.0),
        sleep=sleep,
        clock=lambda: fake[0],
    )
    emulator.set_faults(_throttle("GetUser"))
    with pytest.raises(ThrottledError):
        client.cam.get_user(GetUserRequest("x"), deadline=3.0)
    assert len(emulator.requests()) < 50


def test_server_errors_and_garbage_are_transport_errors_and_retried(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    uin = _add_user(client, "dan")
    emulator.set_faults(
        {
            "faults": [
                {"action": "GetUser", "nth": 1, "http_status": 500},
                {"action": "GetUser", "nth": 2, "garbage": True},
                {"action": "GetUser", "nth": 3, "drop": "after"},
            ]
        }
    )
    assert client.cam.get_user(GetUserRequest("dan")).uin == uin
    assert actions_and_codes(emulator) == [
        ("AddUser", "Success"),
        ("GetUser", "HTTP500"),
        ("GetUser", "Garbage"),
        ("GetUser", "Dropped"),
        ("GetUser", "Success"),
    ]


def test_garbage_raised_when_out_of_attempts(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=1))
    emulator.set_faults({"faults": [{"action": "GetUser", "garbage": True}]})
    with pytest.raises(TransportError) as info:
        client.cam.get_user(GetUserRequest("x"))
    assert info.value.code == "ClientParseError"
    assert info.value.possibly_sent
    assert actions_and_codes(emulator) == [("GetUser", "Garbage")]


def test_lost_answer_not_retried_when_caller_says_so(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    emulator.set_faults({"faults": [{"action": "AddUser", "drop": "after"}]})
    with pytest.raises(TransportError) as info:
        client.transport.call(CAM, "AddUser", {"Name": "x"}, retry_sent=False)
    assert info.value.possibly_sent
    assert actions_and_codes(emulator) == [("AddUser", "Dropped")]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_connection_was_never_sent(make_client: ClientFactory) -> None:
    dead = Endpoint("http", "127.0.0.1", _closed_port())
    client = make_client(
        endpoints=EndpointResolver(overrides={"cam": dead}),
        retry=RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0),
    )
    with pytest.raises(TransportError) as info:
        client.cam.add_user(AddUserRequest("x"))
    assert not info.value.possibly_sent
    assert info.value.code == "ClientNetworkError"


def test_unsigned_web_identity(emulator: RunningEmulator, make_client: ClientFactory) -> None:
    client = make_client()
    creds = client.sts.assume_role_with_web_identity(
        AssumeRoleWithWebIdentityRequest(
            OIDC_PROVIDER, OIDC_ROLE_ARN, "web-session", web_identity_token("alice")
        )
    )
    sessions = [s["TmpSecretId"] for s in emulator.state["sessions"]]
    assert sessions == [creds.tmp_secret_id]
    sent = emulator.requests()[-1]
    assert (sent["action"], sent["code"], sent["secret_id"]) == (
        "AssumeRoleWithWebIdentity",
        "Success",
        "",
    )
    assert sent["headers"]["authorization"] == "SKIP"
    assert sent["headers"]["x-tc-version"] == "2018-08-13"


def test_sts_needs_region(make_client: ClientFactory) -> None:
    client = make_client(region=None)
    with pytest.raises(ValueError, match="region"):
        client.sts.get_caller_identity()


def test_endpoint_resolution() -> None:
    default = EndpointResolver()
    assert default.resolve("cam").url == "https://cam.tencentcloudapi.com/"
    assert default.resolve("sts", "ap-beijing").url == "https://sts.tencentcloudapi.com/"
    regional = EndpointResolver(regional_sts=True)
    assert regional.resolve("sts", "ap-beijing").host == "sts.ap-beijing.tencentcloudapi.com"
    intl = EndpointResolver(root_domain="intl.tencentcloudapi.com")
    assert intl.resolve("cam").host == "cam.intl.tencentcloudapi.com"
    local = Endpoint.parse("http://127.0.0.1:8080")
    assert (local.scheme, local.host, local.port) == ("http", "127.0.0.1", 8080)
    assert local.host_header == "127.0.0.1:8080"
    assert Endpoint.parse("https://cam.tencentcloudapi.com:443").host_header == (
        "cam.tencentcloudapi.com"
    )
    assert EndpointResolver(overrides={"sts": local}).resolve("sts", "ap-beijing") == local
    with pytest.raises(ValueError, match="scheme"):
        Endpoint.parse("ftp://x")
