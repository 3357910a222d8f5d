"""Injected errors, throttling, latency, dropped connections, gateway error pages and answers
that are not JSON behave as configured. No test asserts a timing: throttling is made
deterministic with a near-zero refill rate."""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Callable
from typing import Any

import pytest
from tencentcloud.cam.v20190116 import models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from tencentcloud_emulator.testing import RunningEmulator
from tests.support.account import user_names
from tests.support.sdk import build

ErrorCode = Callable[[Callable[[], object]], str]


def add_user(cam: Any, name: str) -> Any:
    return cam.AddUser(build(models.AddUserRequest, Name=name, UseApi=0))


def test_nth_call_fails_with_the_given_code(
    sdk: Any, emulator: RunningEmulator, error_code: ErrorCode
) -> None:
    emulator.set_faults(
        {"faults": [{"action": "AddUser", "nth": 2, "code": "InternalError.SystemError"}]}
    )
    cam = sdk.cam()
    add_user(cam, "n1")
    assert error_code(lambda: add_user(cam, "n2")) == "InternalError.SystemError"
    add_user(cam, "n3")
    names = [u.Name for u in cam.ListUsers(models.ListUsersRequest()).Data]
    assert names == ["n1", "n3"]  # the failed call changed nothing


def test_probability_one_and_times(
    sdk: Any, emulator: RunningEmulator, error_code: ErrorCode
) -> None:
    emulator.set_faults(
        {
            "faults": [
                {"action": "*", "probability": 1.0, "times": 2, "code": "RequestLimitExceeded"}
            ]
        }
    )
    cam = sdk.cam()
    assert error_code(lambda: add_user(cam, "a")) == "RequestLimitExceeded"
    assert error_code(lambda: cam.ListUsers(models.ListUsersRequest())) == "RequestLimitExceeded"
    assert cam.ListUsers(models.ListUsersRequest()).Data == []


def test_probability_zero_never_fires(sdk: Any, emulator: RunningEmulator) -> None:
    emulator.set_faults({"faults": [{"action": "ListUsers", "probability": 0.0}]})
    cam = sdk.cam()
    for _ in range(5):
        cam.ListUsers(models.ListUsersRequest())


def test_throttling_token_bucket(
    sdk: Any, emulator: RunningEmulator, error_code: ErrorCode
) -> None:
    # A bucket of one token that refills once per ~3 hours: the second call is always throttled.
    emulator.set_faults({"throttle": {"rates": {"AddUser": 0.0001}}})
    cam = sdk.cam()
    add_user(cam, "t1")
    assert error_code(lambda: add_user(cam, "t2")) == "RequestLimitExceeded"
    cam.ListUsers(models.ListUsersRequest())  # other actions have their own buckets
    assert emulator.counters()["AddUser"] == {"calls": 2, "Success": 1, "RequestLimitExceeded": 1}


def test_throttling_can_be_disabled(sdk: Any, emulator: RunningEmulator) -> None:
    emulator.set_faults({"throttle": {"enabled": False, "rates": {"AddUser": 0.0001}}})
    cam = sdk.cam()
    for n in range(3):
        add_user(cam, f"free{n}")


@pytest.mark.parametrize("drop", [True, "after"])
def test_dropped_response_still_takes_effect(
    sdk: Any, emulator: RunningEmulator, drop: object
) -> None:
    emulator.set_faults({"faults": [{"action": "AddUser", "nth": 1, "drop": drop}]})
    cam = sdk.cam()
    with pytest.raises(TencentCloudSDKException) as info:
        add_user(cam, "ghost")
    assert info.value.code == "ClientNetworkError"
    assert user_names(emulator) == ["ghost"]
    assert emulator.requests("AddUser")[-1]["code"] == "Dropped"
    # ``true`` is the older spelling of "after".
    assert emulator.emulator.fault_config()["faults"][0]["drop"] == "after"


def test_connection_dropped_before_the_action_changes_nothing(
    sdk: Any, emulator: RunningEmulator
) -> None:
    emulator.set_faults({"faults": [{"action": "AddUser", "nth": 1, "drop": "before"}]})
    cam = sdk.cam()
    with pytest.raises(TencentCloudSDKException) as info:
        add_user(cam, "never-made")
    assert info.value.code == "ClientNetworkError"
    assert user_names(emulator) == []
    add_user(cam, "made")
    assert user_names(emulator) == ["made"]
    assert [e["code"] for e in emulator.requests("AddUser")] == ["DroppedBefore", "Success"]


def test_http_status_is_an_error_page_and_the_action_does_not_run(
    raw: Any, emulator: RunningEmulator
) -> None:
    emulator.set_faults({"faults": [{"action": "AddUser", "nth": 1, "http_status": 502}]})
    status, content_type, body = raw.exchange("AddUser", {"Name": "behind-gateway"})
    assert status == 502
    assert content_type == "text/html"
    assert b"502 Bad Gateway" in body
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert user_names(emulator) == []
    assert emulator.requests("AddUser")[-1]["code"] == "HTTP502"
    assert raw.code("AddUser", {"Name": "behind-gateway"}) == "Success"


def test_http_500_through_the_sdk(sdk: Any, emulator: RunningEmulator) -> None:
    emulator.set_faults({"faults": [{"action": "ListUsers", "http_status": 500}]})
    with pytest.raises(TencentCloudSDKException) as info:
        sdk.cam().ListUsers(models.ListUsersRequest())
    assert info.value.code == "ServerNetworkError"
    assert emulator.counters()["ListUsers"] == {"calls": 1, "HTTP500": 1}


def test_garbage_is_a_200_that_is_not_json_and_the_action_does_not_run(
    raw: Any, emulator: RunningEmulator
) -> None:
    emulator.set_faults({"faults": [{"action": "AddUser", "garbage": True}]})
    status, content_type, body = raw.exchange("AddUser", {"Name": "proxied"})
    assert status == 200
    assert content_type != "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert user_names(emulator) == []
    assert emulator.requests("AddUser")[-1]["code"] == "Garbage"


def test_rules_for_one_action_fire_in_turn(raw: Any, emulator: RunningEmulator) -> None:
    # Every rule counts every AddUser, so nth 1, 2, 3 script the first three calls.
    emulator.set_faults(
        {
            "faults": [
                {"action": "AddUser", "nth": 1, "http_status": 500},
                {"action": "AddUser", "nth": 2, "garbage": True},
                {"action": "AddUser", "nth": 3, "drop": "after"},
                {"action": "AddUser", "nth": 4, "drop": "before"},
            ]
        }
    )
    for name in ("a", "b", "c", "d"):
        with contextlib.suppress(http.client.HTTPException, ConnectionError):
            raw.exchange("AddUser", {"Name": name})
    assert raw.code("AddUser", {"Name": "e"}) == "Success"
    assert user_names(emulator) == ["c", "e"]
    codes = [e["code"] for e in emulator.requests("AddUser")]
    assert codes == ["HTTP500", "Garbage", "Dropped", "DroppedBefore", "Success"]
    assert [r["fired"] for r in emulator.emulator.fault_config()["faults"]] == [1, 1, 1, 1]


def test_latency_is_applied_without_breaking_calls(sdk: Any, emulator: RunningEmulator) -> None:
    emulator.set_faults(
        {"latency": {"fixed_ms": 1, "jitter_ms": 2, "per_action": {"ListUsers": {"fixed_ms": 3}}}}
    )
    assert sdk.cam().ListUsers(models.ListUsersRequest()).Data == []
    sdk.cam().ListGroups(models.ListGroupsRequest())
    listed = emulator.requests("ListUsers")[-1]
    # The delay the emulator chose (not a measured time): per-action fixed 3 ms, no jitter.
    assert listed["injected_delay_ms"] == 3.0
    # Other actions: the base 1 ms plus up to 2 ms of jitter.
    assert 1.0 <= emulator.requests("ListGroups")[-1]["injected_delay_ms"] <= 3.0
    assert emulator.emulator.fault_config()["latency"]["per_action"]["ListUsers"]["fixed_ms"] == 3


def test_bad_fault_configuration_is_refused(emulator: RunningEmulator) -> None:
    with pytest.raises(ValueError, match="unknown"):
        emulator.set_faults({"fautls": []})
    with pytest.raises(ValueError, match="probability"):
        emulator.set_faults({"faults": [{"probability": 2}]})
    with pytest.raises(ValueError, match="drop"):
        emulator.set_faults({"faults": [{"drop": "sideways"}]})
    with pytest.raises(ValueError, match="http_status"):
        emulator.set_faults({"faults": [{"http_status": 200}]})
    with pytest.raises(ValueError, match="at most one"):
        emulator.set_faults({"faults": [{"garbage": True, "drop": "before"}]})


def test_faults_at_start(emulator_factory: Callable[..., RunningEmulator]) -> None:
    started = emulator_factory(
        faults={"faults": [{"action": "ListUsers", "code": "InternalError"}]}
    )
    from tencentcloud.cam.v20190116 import cam_client
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    profile = ClientProfile(httpProfile=HttpProfile(endpoint=started.host_port, protocol="http"))
    cam = cam_client.CamClient(
        credential.Credential(started.secret_id, started.secret_key), "", profile
    )
    with pytest.raises(TencentCloudSDKException) as info:
        cam.ListUsers(models.ListUsersRequest())
    assert info.value.code == "InternalError"
