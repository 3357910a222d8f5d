"""Creates whose answer is lost run once; deletes whose answer is lost settle."""

from __future__ import annotations

from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import (
    AlreadyExistsError,
    Credentials,
    RetryPolicy,
    TransportError,
)
from tencentcloud_secrets.tencentcloud.models_cam import (
    AddUserRequest,
    CreateAccessKeyRequest,
    CreateGroupRequest,
    CreatePolicyRequest,
    DeleteUserRequest,
)
from tests.support.account import access_key_ids, account, user_names
from tests.support.request_log import actions_and_codes
from tests.unit.tencentcloud.support import ClientFactory

DOC = '{"version":"2.0","statement":[{"effect":"allow","action":["cos:*"],"resource":["*"]}]}'


def _once(action: str, **fault: Any) -> dict[str, Any]:
    return {"action": action, "nth": 1, **fault}


def test_add_user_answer_lost_after_create(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    emulator.set_faults({"faults": [_once("AddUser", drop="after")]})
    result = client.cam.add_user(AddUserRequest("u1", remark="nonce-1", use_api=True))
    assert result.recovered
    assert user_names(emulator) == ["u1"]
    assert access_key_ids(emulator, result.uin) == [result.secret_id]
    assert actions_and_codes(emulator) == [
        ("AddUser", "Dropped"),
        ("GetUser", "Success"),
        ("ListAccessKeys", "Success"),
        ("DeleteAccessKey", "Success"),
        ("CreateAccessKey", "Success"),
    ]
    # The secret half is the one the emulator holds: a call signed with it verifies.
    assert result.secret_id is not None
    assert result.secret_key is not None
    as_user = make_client(credentials=Credentials(result.secret_id, result.secret_key))
    assert as_user.sts.get_caller_identity().user_id
    assert actions_and_codes(emulator)[-1] == ("GetCallerIdentity", "Success")


def test_add_user_lost_before_create_is_sent_again(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    emulator.set_faults({"faults": [_once("AddUser", drop="before")]})
    result = client.cam.add_user(AddUserRequest("u2", remark="nonce-2", use_api=True))
    assert not result.recovered
    assert actions_and_codes(emulator) == [
        ("AddUser", "DroppedBefore"),
        ("GetUser", "ResourceNotFound.UserNotExist"),
        ("AddUser", "Success"),
    ]
    assert access_key_ids(emulator, result.uin) == [result.secret_id]


def test_name_in_use_after_lost_answer_means_ours(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    emulator.set_faults(
        {
            "faults": [
                _once("AddUser", drop="after"),
                # The first lookup does not see the new user yet.
                _once("GetUser", code="ResourceNotFound.UserNotExist"),
            ]
        }
    )
    result = client.cam.add_user(AddUserRequest("u3", remark="nonce-3"))
    assert result.recovered
    assert result.secret_key is None
    assert actions_and_codes(emulator) == [
        ("AddUser", "Dropped"),
        ("GetUser", "ResourceNotFound.UserNotExist"),
        ("AddUser", "InvalidParameter.SubUserNameInUse"),
        ("GetUser", "Success"),
    ]
    assert user_names(emulator) == ["u3"]


def test_lost_answer_never_adopts_a_user_with_another_remark(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    theirs = client.cam.add_user(AddUserRequest("shared-name", remark="theirs", use_api=True))
    emulator.set_faults({"faults": [_once("AddUser", drop="before")]})
    with pytest.raises(AlreadyExistsError):
        client.cam.add_user(AddUserRequest("shared-name", remark="ours", use_api=True))
    # Their user and their key are untouched.
    assert access_key_ids(emulator, theirs.uin) == [theirs.secret_id]
    assert ("DeleteAccessKey", "Success") not in actions_and_codes(emulator)


def test_lost_answer_never_adopts_a_group_or_policy_with_another_marker(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    client.cam.create_group(CreateGroupRequest("g-shared", remark="theirs"))
    client.cam.create_policy(CreatePolicyRequest("p-shared", DOC, description="theirs"))
    emulator.set_faults(
        {"faults": [_once("CreateGroup", drop="before"), _once("CreatePolicy", drop="before")]}
    )
    with pytest.raises(AlreadyExistsError):
        client.cam.create_group(CreateGroupRequest("g-shared", remark="ours"))
    with pytest.raises(AlreadyExistsError):
        client.cam.create_policy(CreatePolicyRequest("p-shared", DOC, description="ours"))


def test_name_in_use_without_lost_answer_is_raised(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    client.cam.add_user(AddUserRequest("taken"))
    with pytest.raises(AlreadyExistsError) as info:
        client.cam.add_user(AddUserRequest("taken"))
    assert info.value.code == "InvalidParameter.SubUserNameInUse"
    assert actions_and_codes(emulator) == [
        ("AddUser", "Success"),
        ("AddUser", "InvalidParameter.SubUserNameInUse"),
    ]


def test_create_policy_lost_answer_matches_exact_name(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    decoy = client.cam.create_policy(CreatePolicyRequest("app-policy-extra", DOC)).policy_id
    emulator.set_faults({"faults": [_once("CreatePolicy", drop="after")]})
    result = client.cam.create_policy(CreatePolicyRequest("app-policy", DOC, description="nonce-p"))
    assert result.recovered
    assert result.policy_id != decoy
    policies = {p["PolicyName"]: p["PolicyId"] for p in account(emulator)["Policies"]}
    assert policies == {"app-policy": result.policy_id, "app-policy-extra": decoy}


def test_create_group_lost_answer(emulator: RunningEmulator, make_client: ClientFactory) -> None:
    client = make_client()
    emulator.set_faults({"faults": [_once("CreateGroup", drop="after")]})
    result = client.cam.create_group(CreateGroupRequest("g1", remark="nonce-g"))
    assert result.recovered
    groups = [(g["GroupName"], g["GroupId"]) for g in account(emulator)["Groups"]]
    assert groups == [("g1", result.group_id)]


def test_create_access_key_lost_answer_with_description(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    user = client.cam.add_user(AddUserRequest("k1"))
    emulator.set_faults({"faults": [_once("CreateAccessKey", drop="after")]})
    key = client.cam.create_access_key(CreateAccessKeyRequest(user.uin, "lease-42"))
    assert access_key_ids(emulator, user.uin) == [key.access_key_id]
    assert [a for a, _ in actions_and_codes(emulator)].count("CreateAccessKey") == 2


def test_create_access_key_lost_answer_without_description_raises(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    user = client.cam.add_user(AddUserRequest("k2"))
    emulator.set_faults({"faults": [_once("CreateAccessKey", drop="after")]})
    with pytest.raises(TransportError) as info:
        client.cam.create_access_key(CreateAccessKeyRequest(user.uin))
    assert info.value.possibly_sent
    assert emulator.requests("CreateAccessKey")[-1]["code"] == "Dropped"
    assert len(emulator.requests("CreateAccessKey")) == 1


def test_delete_lost_answer_then_not_found_is_done(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    client.cam.add_user(AddUserRequest("d1"))
    emulator.set_faults({"faults": [_once("DeleteUser", drop="after")]})
    client.cam.delete_user(DeleteUserRequest("d1", force=True))
    assert user_names(emulator) == []
    assert actions_and_codes(emulator)[-2:] == [
        ("DeleteUser", "Dropped"),
        ("DeleteUser", "ResourceNotFound.UserNotExist"),
    ]


def test_reconciliation_is_bounded(emulator: RunningEmulator, make_client: ClientFactory) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0))
    emulator.set_faults({"faults": [{"action": "AddUser", "drop": "before", "times": 10}]})
    with pytest.raises(TransportError):
        client.cam.add_user(AddUserRequest("never"))
    added = emulator.requests("AddUser")
    assert [e["code"] for e in added] == ["DroppedBefore"] * 3
    assert user_names(emulator) == []


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
    from typing import cast

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
