"""Transport against a local server: envelopes, typed errors, retries, headers on the wire."""

from __future__ import annotations

import socket

import pytest

from tencentcloud_secrets.tencentcloud import (
    AlreadyExistsError,
    ApiError,
    AuthenticationError,
    Credentials,
    Endpoint,
    EndpointResolver,
    InternalError,
    InvalidParameterError,
    LimitExceededError,
    NotFoundError,
    RetryPolicy,
    ThrottledError,
    TransportError,
)
from tencentcloud_secrets.tencentcloud.errors import error_class_for
from tencentcloud_secrets.tencentcloud.models_cam import AddUserRequest, GetUserRequest
from tencentcloud_secrets.tencentcloud.models_sts import AssumeRoleWithWebIdentityRequest
from tencentcloud_secrets.tencentcloud.transport import CAM
from tests.unit.tencentcloud.tc_fake_server import SECRET_ID, SECRET_KEY, ClientFactory, FakeCloud


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
        ("InternalError.SystemError", InternalError),
        ("OperationDenied.HaveKeys", ApiError),
        ("FailedOperation.ForbidAdd", ApiError),
    ],
)
def test_error_codes_map_to_classes(code: str, cls: type[ApiError]) -> None:
    assert error_class_for(code) is cls


def test_success_envelope_and_wire_headers(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client(language="en-US")
    cloud.state.users["alice"] = {"Uin": 7, "Uid": 8, "Name": "alice", "ConsoleLogin": 0}
    user = client.cam.get_user(GetUserRequest("alice"))
    assert (user.uin, user.uid, user.name, user.console_login) == (7, 8, "alice", False)
    sent = cloud.recorded[-1]
    assert sent.headers["host"] == f"127.0.0.1:{cloud.port}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-tc-version"] == "2019-01-16"
    assert sent.headers["x-tc-region"] == "ap-guangzhou"
    assert sent.headers["x-tc-language"] == "en-US"
    assert "x-tc-token" not in sent.headers
    assert sent.headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")
    assert "/cam/tc3_request" in sent.headers["authorization"]


def test_token_and_no_region(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client(credentials=Credentials(SECRET_ID, SECRET_KEY, "tok-123"), region=None)
    cloud.state.users["bob"] = {"Uin": 1, "Name": "bob"}
    client.cam.get_user(GetUserRequest("bob"))
    sent = cloud.recorded[-1].headers
    assert sent["x-tc-token"] == "tok-123"
    assert "x-tc-region" not in sent


def test_error_envelope_is_typed(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client()
    with pytest.raises(NotFoundError) as info:
        client.cam.get_user(GetUserRequest("nobody"))
    assert info.value.code == "ResourceNotFound.UserNotExist"
    assert info.value.request_id == "req-1"
    assert info.value.action == "GetUser"


def test_wrong_key_is_authentication_error(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client(credentials=Credentials(SECRET_ID, "not-the-key"))
    with pytest.raises(AuthenticationError) as info:
        client.cam.get_user(GetUserRequest("x"))
    assert info.value.code == "AuthFailure.SignatureFailure"
    assert len(cloud.recorded) == 1  # never retried


def test_throttling_is_retried_and_resigned(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client()
    cloud.state.users["carol"] = {"Uin": 3, "Name": "carol"}
    cloud.inject("GetUser", "throttle", "throttle")
    assert client.cam.get_user(GetUserRequest("carol")).uin == 3
    assert cloud.actions() == ["GetUser"] * 3
    stamps = [r.headers["x-tc-timestamp"] for r in cloud.recorded]
    auths = [r.headers["authorization"] for r in cloud.recorded]
    assert len(set(stamps)) == 3
    assert len(set(auths)) == 3


def test_throttling_gives_up_after_max_attempts(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01))
    cloud.inject("GetUser", *["throttle"] * 5)
    with pytest.raises(ThrottledError) as info:
        client.cam.get_user(GetUserRequest("x"))
    assert info.value.code == "RequestLimitExceeded"
    assert len(cloud.recorded) == 3


def test_deadline_bounds_retries(cloud: FakeCloud, make_client: ClientFactory) -> None:
    fake = [0.0]

    def sleep(seconds: float) -> None:
        fake[0] += seconds

    client = make_client(
        retry=RetryPolicy(max_attempts=50, base_delay=1.0, max_delay=1.0),
        sleep=sleep,
        clock=lambda: fake[0],
    )
    cloud.inject("GetUser", *["throttle"] * 60)
    with pytest.raises(ThrottledError):
        client.cam.get_user(GetUserRequest("x"), deadline=3.0)
    assert len(cloud.recorded) < 50


def test_server_errors_and_garbage_are_transport_errors_and_retried(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    cloud.state.users["dan"] = {"Uin": 4, "Name": "dan"}
    cloud.inject("GetUser", "http500", "garbage", "drop_after")
    assert client.cam.get_user(GetUserRequest("dan")).uin == 4
    assert len(cloud.recorded) == 4


def test_garbage_raised_when_out_of_attempts(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=1))
    cloud.inject("GetUser", "garbage")
    with pytest.raises(TransportError) as info:
        client.cam.get_user(GetUserRequest("x"))
    assert info.value.code == "ClientParseError"
    assert info.value.possibly_sent


def test_lost_answer_not_retried_when_caller_says_so(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    cloud.inject("AddUser", "drop_after")
    with pytest.raises(TransportError) as info:
        client.transport.call(CAM, "AddUser", {"Name": "x"}, retry_sent=False)
    assert info.value.possibly_sent
    assert len(cloud.recorded) == 1


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


def test_unsigned_web_identity(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client()
    creds = client.sts.assume_role_with_web_identity(
        AssumeRoleWithWebIdentityRequest("OIDC", "qcs::cam::uin/1:roleName/r", "s", "jwt-token")
    )
    assert creds.tmp_secret_id == "AKIDtmp"
    sent = cloud.recorded[-1].headers
    assert sent["authorization"] == "SKIP"
    assert sent["x-tc-version"] == "2018-08-13"


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
