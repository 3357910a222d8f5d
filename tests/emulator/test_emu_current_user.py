"""Key actions without ``TargetUin`` act on the calling identity, never on the root by default;
sub-users may not touch the main account's keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tencentcloud.cam.v20190116 import models
from tencentcloud.sts.v20180813 import models as sts_models

from tencentcloud_emulator.testing import RunningEmulator
from tests.support.account import access_key_ids
from tests.support.sdk import build
from tests.support.seed import DEMO_ROLE_ARN

ErrorCode = Callable[[Callable[[], object]], str]
CAM_FULL = 2  # QcloudCamFullAccess in the packaged seed
STS_FULL = 31425  # QcloudSTSFullAccess


def test_root_key_defaults_to_the_root(sdk: Any, emulator: RunningEmulator) -> None:
    cam = sdk.cam()
    listed = cam.ListAccessKeys(models.ListAccessKeysRequest()).AccessKeys
    assert [k.AccessKeyId for k in listed] == [emulator.secret_id]
    made = cam.CreateAccessKey(models.CreateAccessKeyRequest()).AccessKey
    assert sorted([emulator.secret_id, made.AccessKeyId]) == access_key_ids(
        emulator, emulator.owner_uin
    )
    cam.DeleteAccessKey(build(models.DeleteAccessKeyRequest, AccessKeyId=made.AccessKeyId))
    assert access_key_ids(emulator, emulator.owner_uin) == [emulator.secret_id]


def test_sub_user_key_defaults_to_that_sub_user(
    sdk: Any, emulator: RunningEmulator, make_user: Any, error_code: ErrorCode
) -> None:
    alice = make_user("alice", policies=[CAM_FULL])
    as_alice = sdk.cam(alice.secret_id, alice.secret_key)
    listed = as_alice.ListAccessKeys(models.ListAccessKeysRequest()).AccessKeys
    assert [k.AccessKeyId for k in listed] == [alice.secret_id]

    second = as_alice.CreateAccessKey(models.CreateAccessKeyRequest()).AccessKey
    assert access_key_ids(emulator, alice.uin) == sorted([alice.secret_id, second.AccessKeyId])
    assert access_key_ids(emulator, emulator.owner_uin) == [emulator.secret_id]

    as_alice.UpdateAccessKey(
        build(models.UpdateAccessKeyRequest, AccessKeyId=second.AccessKeyId, Status="Inactive")
    )
    as_alice.DeleteAccessKey(build(models.DeleteAccessKeyRequest, AccessKeyId=second.AccessKeyId))
    assert access_key_ids(emulator, alice.uin) == [alice.secret_id]

    # The root's key id without TargetUin names a key that is not the caller's.
    root_key = build(models.DeleteAccessKeyRequest, AccessKeyId=emulator.secret_id)
    assert error_code(lambda: as_alice.DeleteAccessKey(root_key)) == "OperationDenied.UinNotMatch"
    assert access_key_ids(emulator, emulator.owner_uin) == [emulator.secret_id]


def test_sub_user_cannot_touch_the_main_account_keys(
    sdk: Any, emulator: RunningEmulator, make_user: Any, error_code: ErrorCode
) -> None:
    admin = make_user("admin", policies=[CAM_FULL])
    cam = sdk.cam(admin.secret_id, admin.secret_key)
    owner = emulator.owner_uin
    calls = [
        lambda: cam.CreateAccessKey(build(models.CreateAccessKeyRequest, TargetUin=owner)),
        lambda: cam.ListAccessKeys(build(models.ListAccessKeysRequest, TargetUin=owner)),
        lambda: cam.DeleteAccessKey(
            build(models.DeleteAccessKeyRequest, AccessKeyId=emulator.secret_id, TargetUin=owner)
        ),
        lambda: cam.UpdateAccessKey(
            build(
                models.UpdateAccessKeyRequest,
                AccessKeyId=emulator.secret_id,
                Status="Inactive",
                TargetUin=owner,
            )
        ),
    ]
    assert [error_code(c) for c in calls] == ["OperationDenied.SubUin"] * 4
    assert emulator.state["accounts"][0]["AccessKeys"][0]["Status"] == "Active"
    assert access_key_ids(emulator, owner) == [emulator.secret_id]


def test_role_session_has_no_keys_of_its_own(
    sdk: Any, emulator: RunningEmulator, error_code: ErrorCode
) -> None:
    sdk.cam().AttachRolePolicy(
        build(models.AttachRolePolicyRequest, PolicyId=CAM_FULL, AttachRoleName="vault-demo-role")
    )
    sts = sdk.sts()
    tmp = sts.AssumeRole(
        build(sts_models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="keys")
    ).Credentials
    cam = sdk.cam(tmp.TmpSecretId, tmp.TmpSecretKey, tmp.Token)
    code = error_code(lambda: cam.ListAccessKeys(models.ListAccessKeysRequest()))
    assert code == "InvalidParameter.UserNotExist"
    code = error_code(lambda: cam.CreateAccessKey(models.CreateAccessKeyRequest()))
    assert code == "InvalidParameter.UserNotExist"
    assert access_key_ids(emulator, emulator.owner_uin) == [emulator.secret_id]


def test_key_of_another_user_is_uin_not_match(
    sdk: Any, make_user: Any, error_code: ErrorCode
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    cam = sdk.cam()
    wrong = build(models.DeleteAccessKeyRequest, AccessKeyId=bob.secret_id, TargetUin=alice.uin)
    assert error_code(lambda: cam.DeleteAccessKey(wrong)) == "OperationDenied.UinNotMatch"
    unknown = build(models.DeleteAccessKeyRequest, AccessKeyId="AKID" + "0" * 32)
    assert error_code(lambda: cam.DeleteAccessKey(unknown)) == "ResourceNotFound.SecretNotExist"
