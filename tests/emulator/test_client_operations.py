"""Every typed client operation against the stateful emulator, with real signatures."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import (
    AlreadyExistsError,
    AuthenticationError,
    Credentials,
    Endpoint,
    EndpointResolver,
    NotFoundError,
    TencentCloudClient,
)
from tencentcloud_secrets.tencentcloud import models_cam as cam
from tencentcloud_secrets.tencentcloud import models_sts as sts
from tests.support.web_identity import web_identity_token

POLICY = json.dumps(
    {"version": "2.0", "statement": [{"effect": "allow", "action": ["cos:*"], "resource": ["*"]}]}
)


def _client(emulator: RunningEmulator, creds: Credentials | None = None) -> TencentCloudClient:
    endpoint = Endpoint.parse(emulator.endpoint)
    return TencentCloudClient(
        creds or Credentials(emulator.secret_id, emulator.secret_key),
        region="ap-guangzhou",
        endpoints=EndpointResolver(overrides={"cam": endpoint, "sts": endpoint}),
    )


@pytest.fixture
def client(emulator: RunningEmulator) -> Iterator[TencentCloudClient]:
    with _client(emulator) as c:
        yield c


def test_users_and_access_keys(client: TencentCloudClient) -> None:
    added = client.cam.add_user(cam.AddUserRequest("op-user", remark="ops", use_api=True))
    assert added.secret_id
    assert added.secret_key
    assert not added.recovered
    with pytest.raises(AlreadyExistsError):
        client.cam.add_user(cam.AddUserRequest("op-user"))

    user = client.cam.get_user(cam.GetUserRequest("op-user"))
    assert (user.uin, user.name) == (added.uin, "op-user")
    assert "op-user" in [u.name for u in client.cam.list_users()]

    keys = client.cam.list_access_keys(cam.ListAccessKeysRequest(added.uin))
    assert [k.access_key_id for k in keys] == [added.secret_id]
    second = client.cam.create_access_key(cam.CreateAccessKeyRequest(added.uin, "second"))
    assert second.secret_access_key
    client.cam.update_access_key(
        cam.UpdateAccessKeyRequest(second.access_key_id, "Inactive", added.uin)
    )
    statuses = {
        k.access_key_id: k.status
        for k in client.cam.list_access_keys(cam.ListAccessKeysRequest(added.uin))
    }
    assert statuses[second.access_key_id] == "Inactive"
    client.cam.delete_access_key(cam.DeleteAccessKeyRequest(second.access_key_id, added.uin))
    assert len(client.cam.list_access_keys(cam.ListAccessKeysRequest(added.uin))) == 1

    client.cam.delete_user(cam.DeleteUserRequest("op-user", force=True))
    with pytest.raises(NotFoundError):
        client.cam.get_user(cam.GetUserRequest("op-user"))


def test_policies_and_user_attachments(client: TencentCloudClient) -> None:
    user = client.cam.add_user(cam.AddUserRequest("pol-user"))
    created = client.cam.create_policy(
        cam.CreatePolicyRequest("op-policy", POLICY, description="d")
    )
    decoy = client.cam.create_policy(cam.CreatePolicyRequest("op-policy-2", POLICY))
    got = client.cam.get_policy(cam.GetPolicyRequest(created.policy_id))
    assert got.policy_name == "op-policy"
    assert json.loads(got.policy_document or "{}") == json.loads(POLICY)

    page = client.cam.list_policies(cam.ListPoliciesRequest(rp=20, page=1, keyword="op-policy"))
    assert {p.policy_id for p in page.policies} >= {created.policy_id, decoy.policy_id}
    found = client.cam.find_policy_by_name("op-policy", scope="Local")
    assert found is not None
    assert found.policy_id == created.policy_id
    assert client.cam.find_policy_by_name("op-pol", scope="Local") is None

    client.cam.attach_user_policy(cam.AttachUserPolicyRequest(created.policy_id, user.uin))
    attached = client.cam.list_attached_user_policies(
        cam.ListAttachedUserPoliciesRequest(user.uin, page=1, rp=20)
    )
    assert [p.policy_id for p in attached.policies] == [created.policy_id]
    client.cam.detach_user_policy(cam.DetachUserPolicyRequest(created.policy_id, user.uin))
    attached = client.cam.list_attached_user_policies(cam.ListAttachedUserPoliciesRequest(user.uin))
    assert attached.policies == ()

    client.cam.delete_policy(cam.DeletePolicyRequest((created.policy_id, decoy.policy_id)))
    with pytest.raises(NotFoundError):
        client.cam.get_policy(cam.GetPolicyRequest(created.policy_id))


def test_groups(client: TencentCloudClient) -> None:
    user = client.cam.add_user(cam.AddUserRequest("grp-user"))
    group = client.cam.create_group(cam.CreateGroupRequest("op-group", remark="r"))
    listed = client.cam.list_groups(cam.ListGroupsRequest(page=1, rp=20, keyword="op-group"))
    assert group.group_id in [g.group_id for g in listed.groups]
    found = client.cam.find_group_by_name("op-group")
    assert found is not None
    assert found.group_id == group.group_id

    policy = client.cam.create_policy(cam.CreatePolicyRequest("grp-policy", POLICY))
    client.cam.attach_group_policy(cam.AttachGroupPolicyRequest(policy.policy_id, group.group_id))
    client.cam.detach_group_policy(cam.DetachGroupPolicyRequest(policy.policy_id, group.group_id))

    member = cam.GroupMembership(group.group_id, uid=user.uid)
    client.cam.add_user_to_group(cam.AddUserToGroupRequest((member,)))
    client.cam.remove_user_from_group(cam.RemoveUserFromGroupRequest((member,)))
    client.cam.delete_group(cam.DeleteGroupRequest(group.group_id))
    assert client.cam.find_group_by_name("op-group") is None


def test_get_role_and_assume_role(client: TencentCloudClient, emulator: RunningEmulator) -> None:
    role = client.cam.get_role(cam.GetRoleRequest(role_name="vault-demo-role"))
    assert role.role_arn
    assert role.role_name == "vault-demo-role"
    session_policy = json.dumps(
        {
            "version": "2.0",
            "statement": [{"effect": "allow", "action": ["cos:Get*"], "resource": ["*"]}],
        }
    )
    creds = client.sts.assume_role(
        sts.AssumeRoleRequest(
            role.role_arn,
            "op-session",
            duration_seconds=900,
            policy=session_policy,
            tags=(sts.Tag("team", "ops"),),
        )
    )
    assert creds.tmp_secret_id
    assert creds.expired_time
    sent = emulator.requests("AssumeRole")[-1]
    assert "op-session" in json.dumps(sent)

    # The temporary key pair works for the next call, with its token.
    temp = Credentials(creds.tmp_secret_id, creds.tmp_secret_key, creds.token)
    with _client(emulator, temp) as as_role:
        identity = as_role.sts.get_caller_identity()
    assert identity.type == "CAMRole"


def test_federation_token_and_caller_identity(client: TencentCloudClient) -> None:
    identity = client.sts.get_caller_identity()
    assert identity.account_id
    fed = client.sts.get_federation_token(sts.GetFederationTokenRequest("fed-user", POLICY, 900))
    assert fed.token
    assert fed.expiration


def test_assume_role_with_web_identity_is_unsigned(
    client: TencentCloudClient, emulator: RunningEmulator
) -> None:
    role = client.cam.get_role(cam.GetRoleRequest(role_name="vault-demo-oidc-role"))
    assert role.role_arn
    creds = client.sts.assume_role_with_web_identity(
        sts.AssumeRoleWithWebIdentityRequest(
            "demo-idp", role.role_arn, "web-session", web_identity_token("alice", "vault-demo"), 900
        )
    )
    assert creds.tmp_secret_id


def test_wrong_secret_is_rejected(emulator: RunningEmulator) -> None:
    bad = _client(emulator, Credentials(emulator.secret_id, "wrong"))
    with bad, pytest.raises(AuthenticationError) as info:
        bad.cam.list_users()
    assert info.value.code.startswith("AuthFailure")
    assert info.value.request_id


def test_policy_is_url_encoded_on_the_wire() -> None:
    params = sts.GetFederationTokenRequest("n", POLICY).to_params()
    assert urllib.parse.unquote(params["Policy"]) == POLICY
    assert "{" not in params["Policy"]
