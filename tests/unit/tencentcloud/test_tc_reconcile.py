"""Creates whose answer is lost run once; deletes whose answer is lost settle."""

from __future__ import annotations

import pytest

from tencentcloud_secrets.tencentcloud import AlreadyExistsError, RetryPolicy, TransportError
from tencentcloud_secrets.tencentcloud.models_cam import (
    AddUserRequest,
    CreateAccessKeyRequest,
    CreateGroupRequest,
    CreatePolicyRequest,
    DeleteUserRequest,
)
from tests.unit.tencentcloud.tc_fake_server import ClientFactory, FakeCloud

DOC = '{"version":"2.0","statement":[{"effect":"allow","action":["cos:*"],"resource":["*"]}]}'


def test_add_user_answer_lost_after_create(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client()
    cloud.inject("AddUser", "drop_after")
    result = client.cam.add_user(AddUserRequest("u1", use_api=True))
    assert result.recovered
    assert list(cloud.state.users) == ["u1"]
    keys = cloud.state.keys[result.uin]
    assert [k["AccessKeyId"] for k in keys] == [result.secret_id]
    assert keys[0]["SecretAccessKey"] == result.secret_key
    assert cloud.actions() == [
        "AddUser",
        "GetUser",
        "ListAccessKeys",
        "DeleteAccessKey",
        "CreateAccessKey",
    ]


def test_add_user_lost_before_create_is_sent_again(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    cloud.inject("AddUser", "drop_before")
    result = client.cam.add_user(AddUserRequest("u2", use_api=True))
    assert not result.recovered
    assert cloud.actions() == ["AddUser", "GetUser", "AddUser"]
    assert len(cloud.state.keys[result.uin]) == 1


def test_name_in_use_after_lost_answer_means_ours(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    cloud.inject("AddUser", "drop_after")
    cloud.hide_user_lookups = 1  # the first lookup does not see the new user yet
    result = client.cam.add_user(AddUserRequest("u3"))
    assert result.recovered
    assert result.secret_key is None
    assert cloud.actions() == ["AddUser", "GetUser", "AddUser", "GetUser"]
    assert list(cloud.state.users) == ["u3"]


def test_name_in_use_without_lost_answer_is_raised(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    client.cam.add_user(AddUserRequest("taken"))
    with pytest.raises(AlreadyExistsError) as info:
        client.cam.add_user(AddUserRequest("taken"))
    assert info.value.code == "InvalidParameter.SubUserNameInUse"


def test_create_policy_lost_answer_matches_exact_name(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    decoy = client.cam.create_policy(CreatePolicyRequest("app-policy-extra", DOC)).policy_id
    cloud.inject("CreatePolicy", "drop_after")
    result = client.cam.create_policy(CreatePolicyRequest("app-policy", DOC))
    assert result.recovered
    assert result.policy_id != decoy
    assert sorted(p["PolicyName"] for p in cloud.state.policies.values()) == [
        "app-policy",
        "app-policy-extra",
    ]


def test_create_group_lost_answer(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client()
    cloud.inject("CreateGroup", "drop_after")
    result = client.cam.create_group(CreateGroupRequest("g1"))
    assert result.recovered
    assert [g["GroupName"] for g in cloud.state.groups.values()] == ["g1"]


def test_create_access_key_lost_answer_with_description(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    user = client.cam.add_user(AddUserRequest("k1"))
    cloud.inject("CreateAccessKey", "drop_after")
    key = client.cam.create_access_key(CreateAccessKeyRequest(user.uin, "lease-42"))
    keys = cloud.state.keys[user.uin]
    assert [k["AccessKeyId"] for k in keys] == [key.access_key_id]


def test_create_access_key_lost_answer_without_description_raises(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    user = client.cam.add_user(AddUserRequest("k2"))
    cloud.inject("CreateAccessKey", "drop_after")
    with pytest.raises(TransportError) as info:
        client.cam.create_access_key(CreateAccessKeyRequest(user.uin))
    assert info.value.possibly_sent
    assert cloud.actions().count("CreateAccessKey") == 1


def test_delete_lost_answer_then_not_found_is_done(
    cloud: FakeCloud, make_client: ClientFactory
) -> None:
    client = make_client()
    client.cam.add_user(AddUserRequest("d1"))
    cloud.inject("DeleteUser", "drop_after")
    client.cam.delete_user(DeleteUserRequest("d1", force=True))
    assert cloud.state.users == {}
    assert cloud.actions()[-2:] == ["DeleteUser", "DeleteUser"]


def test_reconciliation_is_bounded(cloud: FakeCloud, make_client: ClientFactory) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0))
    cloud.inject("AddUser", *["drop_before"] * 10)
    with pytest.raises(TransportError):
        client.cam.add_user(AddUserRequest("never"))
    assert cloud.actions().count("AddUser") == 3


class _NeverConnects:
    """A transport whose every call fails before a byte was sent."""

    def __init__(self) -> None:
        self.calls = 0

    def call(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        raise TransportError("ClientNetworkError", "connection refused", possibly_sent=False)

    def backoff(self, attempt: int, deadline: float | None, last: TransportError) -> None:
        raise last


def test_create_that_never_left_does_not_adopt_an_existing_object() -> None:
    from typing import Any, cast

    from tencentcloud_secrets.tencentcloud.reconcile import create_once
    from tencentcloud_secrets.tencentcloud.transport import CAM

    transport = _NeverConnects()
    looked_up: list[str] = []

    def lookup() -> str:
        looked_up.append("someone else's user")
        return "someone else's user"

    with pytest.raises(TransportError) as err:
        create_once(
            cast(Any, transport),
            CAM,
            "AddUser",
            {"Name": "taken"},
            decode=lambda reply: "created",
            lookup=lookup,
        )
    assert err.value.possibly_sent is False
    assert looked_up == []
    assert transport.calls == 1
