"""creds/<role>, renew and revoke against the emulator: what is issued, what it costs in API
calls, that the credential works, and that revocation needs nothing but the lease."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.clients import client_from_config
from tencentcloud_secrets.paths.config import MountConfig
from tencentcloud_secrets.provider import CloudClient
from tencentcloud_secrets.tencentcloud import AuthenticationError, RetryPolicy
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets_shim import logical
from tests.support.account import account, group_names, user_names
from tests.support.cloud_client import client_as
from tests.support.request_log import action_names
from tests.support.seed import COS_READ, CVM_DOC, DEMO_ROLE_ARN
from tests.unit.engine.support import Mount, data_of, error_of

SESSION_POLICY = {
    "version": "2.0",
    "statement": [{"effect": "allow", "action": "cos:*", "resource": "*"}],
}


def _issue(engine: Mount, role: str = "app", **data: Any) -> logical.Response:
    response = engine("update" if data else "read", f"creds/{role}", **data)
    data_of(response)
    assert response is not None
    return response


@pytest.fixture
def cam_role(engine: Mount) -> str:
    assert (
        engine(
            "update",
            "role/app",
            remote_policies=[COS_READ, "policy_name:QcloudCamReadOnlyAccess,scope:QCS"],
            inline_policies=json.dumps([CVM_DOC]),
            ttl="1h",
            max_ttl="3h",
        )
        is None
    )
    return "app"


# --- cam_user -----------------------------------------------------------------------------


def test_cam_user_costs_two_calls_and_the_key_works(
    engine: Mount, emulator: RunningEmulator, cam_role: str
) -> None:
    before = len(action_names(emulator))
    issued = _issue(engine)
    assert action_names(emulator)[before:] == ["AddUser", "AddUserToGroup"]
    data = data_of(issued)
    assert set(data) == {"secret_id", "secret_key", "username", "uin"}
    assert data["username"].startswith("vault-token-app-")
    assert issued.secret is not None
    assert issued.secret.lease.renewable
    assert issued.secret.lease.ttl == 3600
    assert issued.secret.lease.max_ttl == 3 * 3600
    assert "secret_key" not in issued.secret.internal_data
    assert data["secret_key"] not in json.dumps(issued.secret.internal_data)
    # The user is in the role's group, and the key signs calls as that user.
    [user] = account(emulator)["Users"]
    [group] = account(emulator)["Groups"]
    assert user["Uin"] == data["uin"]
    assert group["MemberUins"] == [data["uin"]]
    with client_as(emulator, data["secret_id"], data["secret_key"]) as as_user:
        identity = as_user.sts.get_caller_identity()
    assert identity.type == "CAMUser"
    assert engine.wal() == []


def test_revoke_costs_one_call_and_is_idempotent(
    engine: Mount, emulator: RunningEmulator, cam_role: str
) -> None:
    issued = _issue(engine)
    before = len(action_names(emulator))
    assert engine.revoke(issued) is None
    assert action_names(emulator)[before:] == ["DeleteUser"]
    assert user_names(emulator) == []
    assert engine.revoke(issued) is None  # gone counts as revoked
    assert action_names(emulator)[before:] == ["DeleteUser", "DeleteUser"]


def test_revoke_needs_only_the_lease(
    engine: Mount, emulator: RunningEmulator, cam_role: str
) -> None:
    issued = _issue(engine)
    uin = data_of(issued)["uin"]
    # Someone adds a second key by hand, and the role and config change.
    engine.backend.client(engine.storage).cam.create_access_key(cm.CreateAccessKeyRequest(uin))
    engine("update", "role/app", remote_policies="policy_id:3")
    engine("delete", "role/app")
    assert engine.revoke(issued) is None
    assert user_names(emulator) == []
    assert account(emulator)["AccessKeys"] == [
        k for k in account(emulator)["AccessKeys"] if k["Uin"] == emulator.owner_uin
    ]


def test_renew_uses_the_roles_ttl_and_stops_when_the_role_is_gone(
    engine: Mount, cam_role: str
) -> None:
    issued = _issue(engine)
    renewed = engine.renew(issued)
    assert renewed is not None
    assert renewed.secret is not None
    assert (renewed.secret.lease.ttl, renewed.secret.lease.max_ttl) == (3600, 3 * 3600)
    engine("update", "role/app", ttl="2h")
    renewed = engine.renew(issued)
    assert renewed is not None
    assert renewed.secret is not None
    assert renewed.secret.lease.ttl == 7200
    engine("delete", "role/app")
    with pytest.raises(logical.InvalidRequest, match="was deleted"):
        engine.renew(issued)


def test_requested_ttl_is_honoured_within_the_roles_max(engine: Mount, cam_role: str) -> None:
    short = _issue(engine, ttl="10m")
    assert short.secret is not None
    assert short.secret.lease.ttl == 600
    long = _issue(engine, ttl="10h")
    assert long.secret is not None
    assert long.secret.lease.ttl == 3 * 3600
    assert "capped" in long.warnings[0]


def test_extra_groups_are_joined_in_the_same_call(engine: Mount, emulator: RunningEmulator) -> None:
    cam = engine.backend.client(engine.storage).cam
    extra = cam.create_group(cm.CreateGroupRequest("ops-readers")).group_id
    engine("update", "role/app", remote_policies=COS_READ, groups="ops-readers")
    before = len(action_names(emulator))
    issued = _issue(engine)
    assert action_names(emulator)[before:] == ["AddUser", "AddUserToGroup"]
    [user] = account(emulator)["Users"]
    assert extra in user["GroupIds"]
    assert len(user["GroupIds"]) == 2
    assert data_of(engine("read", "role/app"))["groups"] == ["ops-readers"]
    engine.revoke(issued)


def test_username_template(engine: Mount, emulator: RunningEmulator) -> None:
    engine(
        "update",
        "role/app",
        remote_policies=COS_READ,
        username_template="ci_{{.RoleName | uppercase}}_{{random 6 | lowercase}}",
    )
    issued = engine("read", "creds/app", display_name="approle-my builder")
    name = data_of(issued)["username"]
    assert name.startswith("ci_APP_")
    assert len(name) == len("ci_APP_") + 6


def test_display_name_is_made_cam_safe(engine: Mount, cam_role: str) -> None:
    issued = engine("read", "creds/app", display_name="oidc-Jane Doe (ops)")
    assert data_of(issued)["username"].startswith("vault-oidc-Jane-Doe--o-app-")


def test_full_group_grows_the_role_and_stays_at_two_calls(
    engine: Mount, emulator: RunningEmulator, cam_role: str
) -> None:
    emulator.set_faults(
        {
            "faults": [
                {"action": "AddUserToGroup", "nth": 1, "code": "InvalidParameter.GroupUserFull"}
            ]
        }
    )
    first = _issue(engine)
    assert len(group_names(emulator)) == 2
    groups = data_of(engine("read", "role/app"))["cam_groups"]
    assert len(groups) == 2
    # The new group carries the same policies as the first.
    policies = [sorted(g["PolicyIds"]) for g in account(emulator)["Groups"]]
    assert policies[0] == policies[1]
    [user] = account(emulator)["Users"]
    assert user["GroupIds"] == [groups[1]["group_id"]]
    before = len(action_names(emulator))
    second = _issue(engine)
    assert action_names(emulator)[before:] == ["AddUser", "AddUserToGroup"]
    for lease in (first, second):
        engine.revoke(lease)
    engine("delete", "role/app")
    assert group_names(emulator) == []


def _patient(config: MountConfig) -> CloudClient:
    # CAM throttles AddUser at 20/s: 32 at once need the client's backoff to get through.
    patience = RetryPolicy(max_attempts=10, base_delay=0.1, max_delay=1.0)
    return client_from_config(config, retry=patience)


@pytest.fixture
def patient_engine(emulator: RunningEmulator) -> Iterator[Mount]:
    m = Mount(factory=_patient)
    m.configure(emulator)
    yield m
    m.backend.cleanup()


def test_concurrent_issues_all_succeed_with_no_orphans(
    patient_engine: Mount, emulator: RunningEmulator
) -> None:
    engine = patient_engine
    for name in ("a", "b", "c", "d"):
        engine("update", f"role/{name}", remote_policies=COS_READ)
    roles = ["a"] * 16 + ["b", "c", "d"] * 5 + ["a"]
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        issued = list(pool.map(lambda role: _issue(engine, role), roles))
    names = {data_of(r)["username"] for r in issued}
    assert len(names) == 32
    assert sorted(names) == user_names(emulator)
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        assert list(pool.map(engine.revoke, issued)) == [None] * 32
    assert user_names(emulator) == []
    assert engine.wal() == []


# --- STS ------------------------------------------------------------------------------------


def test_assumed_role_costs_one_call_and_lasts_as_long_as_the_credential(
    engine: Mount, emulator: RunningEmulator
) -> None:
    engine(
        "update",
        "role/deploy",
        role_arn=DEMO_ROLE_ARN,
        session_duration="30m",
        session_policy=json.dumps(SESSION_POLICY),
        session_tags="team=ops",
    )
    before = len(action_names(emulator))
    issued = _issue(engine, "deploy")
    assert action_names(emulator)[before:] == ["AssumeRole"]
    data = data_of(issued)
    assert set(data) == {"secret_id", "secret_key", "token", "expiration"}
    assert issued.secret is not None
    assert not issued.secret.lease.renewable
    assert 1790 <= issued.secret.lease.ttl <= 1800
    with client_as(emulator, data["secret_id"], data["secret_key"], data["token"]) as session:
        assert session.sts.get_caller_identity().type == "CAMRole"
    assert engine.revoke(issued) is None  # nothing to delete: it expires by itself
    assert action_names(emulator)[-1] == "GetCallerIdentity"


def test_only_revoking_sts_credentials_may_run_on_the_event_loop(
    engine: Mount, emulator: RunningEmulator, cam_role: str
) -> None:
    """Revoking an STS lease calls nothing and writes nothing, so it is declared inline (no
    thread hop); revoking a CAM user calls the cloud, which must never run on the loop."""
    engine("update", "role/deploy", role_arn=DEMO_ROLE_ARN)

    def revoke_prepared(issued: logical.Response) -> logical.Prepared:
        assert issued.secret is not None
        request = logical.Request(
            operation=logical.REVOKE, path="creds/x", storage=engine.storage, secret=issued.secret
        )
        return engine.backend.prepare(request)

    sts = revoke_prepared(_issue(engine, "deploy"))
    assert sts.inline
    assert sts.run() is None
    cam = revoke_prepared(_issue(engine))
    assert not cam.inline
    assert cam.run() is None
    assert user_names(emulator) == []


def test_federation_token(engine: Mount, emulator: RunningEmulator) -> None:
    engine(
        "update",
        "role/fed",
        credential_type="federation_token",
        session_policy=json.dumps(SESSION_POLICY),
    )
    before = len(action_names(emulator))
    issued = _issue(engine, "fed", ttl="15m")
    assert action_names(emulator)[before:] == ["GetFederationToken"]
    assert issued.secret is not None
    assert 890 <= issued.secret.lease.ttl <= 900


def test_sts_error_reaches_the_user_with_code_and_request_id(engine: Mount) -> None:
    engine("update", "role/ghost", role_arn="qcs::cam::uin/100000000001:roleName/nobody")
    with pytest.raises(logical.CodedError) as err:
        engine("read", "creds/ghost")
    assert err.value.status == 400
    assert "AssumeRole" in str(err.value)
    assert "RequestId" in str(err.value)


# --- refusals and errors --------------------------------------------------------------------


def test_external_id_from_the_caller_is_refused(engine: Mount) -> None:
    engine("update", "role/deploy", role_arn=DEMO_ROLE_ARN)
    message = error_of(engine("update", "creds/deploy", external_id="guess"))
    assert "external_id cannot be chosen by the caller" in message


def test_unknown_role(engine: Mount, emulator: RunningEmulator) -> None:
    assert 'role "nope" does not exist' in error_of(engine("read", "creds/nope"))
    assert action_names(emulator) == []


def test_throttling_past_the_retries_is_a_503_with_the_code(
    engine: Mount, emulator: RunningEmulator, cam_role: str
) -> None:
    emulator.set_faults({"faults": [{"action": "AddUser", "code": "RequestLimitExceeded"}]})
    with pytest.raises(logical.CodedError) as err:
        engine("read", "creds/app")
    assert err.value.status == 503
    assert "RequestLimitExceeded" in str(err.value)
    assert "RequestId" in str(err.value)
    assert engine.wal() == []
    assert user_names(emulator) == []


def test_bad_key_is_a_400_with_the_code(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "config", secret_id="AKIDnobody0000000000000000000000000", secret_key="x" * 32)
    with pytest.raises(logical.CodedError) as err:
        engine("update", "role/app", remote_policies=COS_READ)
    assert err.value.status == 400
    assert "AuthFailure.SecretIdNotFound" in str(err.value)
    assert engine.stored("role/app") is None


# --- the credential can do what the role allows, and nothing more ---------------------------


def test_cam_key_is_allowed_what_the_role_grants_and_refused_the_rest(
    engine: Mount, emulator: RunningEmulator
) -> None:
    read_users = {
        "version": "2.0",
        "statement": [{"effect": "allow", "action": "cam:GetUser", "resource": "*"}],
    }
    engine(
        "update",
        "role/app",
        remote_policies=COS_READ,
        inline_policies=[read_users],
    )
    data = data_of(engine("read", "creds/app"))
    with client_as(emulator, data["secret_id"], data["secret_key"]) as as_user:
        assert as_user.cam.get_user(cm.GetUserRequest(data["username"])).uin == data["uin"]
        with pytest.raises(AuthenticationError) as denied:
            as_user.cam.add_user(cm.AddUserRequest("intruder", remark="x"))
        assert "UnauthorizedOperation" in denied.value.code
        with pytest.raises(AuthenticationError):
            as_user.cam.list_users()
    assert "intruder" not in user_names(emulator)


def test_role_changes_reach_live_credentials(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/app", remote_policies=COS_READ)
    data = data_of(engine("read", "creds/app"))
    with client_as(emulator, data["secret_id"], data["secret_key"]) as as_user:
        with pytest.raises(AuthenticationError):
            as_user.cam.list_users()
        engine(
            "update", "role/app", remote_policies="policy_name:QcloudCamReadOnlyAccess,scope:QCS"
        )
        assert data["username"] in [u.name for u in as_user.cam.list_users()]


def test_session_policy_narrows_assumed_role_credentials(
    engine: Mount, emulator: RunningEmulator
) -> None:
    only_get_user = {
        "version": "2.0",
        "statement": [{"effect": "allow", "action": "cam:GetUser", "resource": "*"}],
    }
    engine(
        "update", "role/deploy", role_arn=DEMO_ROLE_ARN, session_policy=json.dumps(only_get_user)
    )
    data = data_of(engine("read", "creds/deploy"))
    session = client_as(emulator, data["secret_id"], data["secret_key"], data["token"])
    with session, pytest.raises(AuthenticationError):
        session.cam.list_users()


def test_leases_of_the_original_plugin_are_revoked_too(
    engine: Mount, emulator: RunningEmulator
) -> None:
    """A mount that switched plugins with live leases: the original made a custom policy per
    lease named "<user>-<uuid>" and kept its id in the lease. Only that policy goes."""
    cam = client_as(emulator, emulator.secret_id, emulator.secret_key).cam
    user = cam.add_user(cm.AddUserRequest("token-app-1700000000-42", use_api=True))
    doc = json.dumps(CVM_DOC)
    own = cam.create_policy(cm.CreatePolicyRequest("token-app-1700000000-42-abc123", doc))
    other = cam.create_policy(cm.CreatePolicyRequest("someone-elses-policy", doc))
    cam.attach_user_policy(cm.AttachUserPolicyRequest(own.policy_id, user.uin))
    lease = logical.Response(
        secret=logical.Secret(
            internal_data={
                "secret_type": "tencentcloud",
                "role_type": "cam",
                "role_name": "app",
                "username": user.name,
                "uin": str(user.uin),
                "secret_id": user.secret_id,
                "inline_policies": [{"policy_id": own.policy_id}, {"policy_id": other.policy_id}],
                "remote_policies": [],
            }
        )
    )
    assert engine.revoke(lease) is None
    assert user_names(emulator) == []
    remaining = [p["PolicyId"] for p in account(emulator)["Policies"]]
    assert remaining == [other.policy_id]


def test_requests_that_found_the_same_group_full_grow_the_role_once(
    engine: Mount, emulator: RunningEmulator, cam_role: str
) -> None:
    request = logical.Request(operation="read", path="creds/app", storage=engine.storage)
    first = engine.backend.groups.grow(request, "app", 1, None)
    second = engine.backend.groups.grow(request, "app", 1, None)  # saw one group, too
    assert len(first.managed_groups) == len(second.managed_groups) == 2
    assert len(group_names(emulator)) == 2
