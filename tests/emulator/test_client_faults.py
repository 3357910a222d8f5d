"""The client's retries and reconciliation against the emulator's injected faults."""

from __future__ import annotations

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import (
    Credentials,
    Endpoint,
    EndpointResolver,
    RetryPolicy,
    TencentCloudClient,
    ThrottledError,
)
from tencentcloud_secrets.tencentcloud import models_cam as cam


def _client(emulator: RunningEmulator, attempts: int = 5) -> TencentCloudClient:
    endpoint = Endpoint.parse(emulator.endpoint)
    return TencentCloudClient(
        Credentials(emulator.secret_id, emulator.secret_key),
        region="ap-guangzhou",
        endpoints=EndpointResolver(overrides={"cam": endpoint, "sts": endpoint}),
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05),
    )


def _calls(emulator: RunningEmulator, action: str) -> int:
    return len(emulator.requests(action))


def test_throttled_calls_are_retried(emulator: RunningEmulator) -> None:
    emulator.set_faults(
        {"faults": [{"action": "ListUsers", "code": "RequestLimitExceeded", "nth": 1, "times": 2}]}
    )
    with _client(emulator) as client:
        assert list(client.cam.list_users()) == []
    assert _calls(emulator, "ListUsers") == 3


def test_throttling_beyond_the_retry_budget_surfaces(emulator: RunningEmulator) -> None:
    emulator.set_faults({"faults": [{"action": "ListUsers", "code": "RequestLimitExceeded"}]})
    with _client(emulator, attempts=3) as client, pytest.raises(ThrottledError) as err:
        client.cam.list_users()
    assert err.value.request_id
    assert _calls(emulator, "ListUsers") == 3


def test_lost_add_user_response_creates_one_user_with_working_keys(
    emulator: RunningEmulator,
) -> None:
    emulator.set_faults({"faults": [{"action": "AddUser", "drop": True, "nth": 1}]})
    with _client(emulator) as client:
        added = client.cam.add_user(
            cam.AddUserRequest("lost-response", remark="nonce-lr", use_api=True)
        )
        assert added.recovered
        assert [u.name for u in client.cam.list_users()] == ["lost-response"]
        keys = client.cam.list_access_keys(cam.ListAccessKeysRequest(target_uin=added.uin))
        assert [k.access_key_id for k in keys] == [added.secret_id]
    # The recovered key really works: sign a call with it.
    assert added.secret_id is not None
    assert added.secret_key is not None
    user_client = TencentCloudClient(
        Credentials(added.secret_id, added.secret_key),
        region="ap-guangzhou",
        endpoints=EndpointResolver(
            overrides={
                "cam": Endpoint.parse(emulator.endpoint),
                "sts": Endpoint.parse(emulator.endpoint),
            }
        ),
    )
    with user_client:
        assert user_client.sts.get_caller_identity().user_id
