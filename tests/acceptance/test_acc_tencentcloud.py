"""Against real Tencent Cloud: run with `make test-acc` and credentials in the environment.

Read-only calls only: they prove signing, endpoints and response parsing against the real
service without changing the account.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tencentcloud_secrets.tencentcloud import Credentials, TencentCloudClient
from tencentcloud_secrets.tencentcloud import models_cam as cam

SECRET_ID = os.environ.get("TENCENTCLOUD_SECRET_ID", "")
SECRET_KEY = os.environ.get("TENCENTCLOUD_SECRET_KEY", "")

if not (SECRET_ID and SECRET_KEY):
    pytest.skip(
        "acceptance tests need real Tencent Cloud credentials: set TENCENTCLOUD_SECRET_ID and "
        "TENCENTCLOUD_SECRET_KEY (and optionally TENCENTCLOUD_REGION), then run `make test-acc`",
        allow_module_level=True,
    )


@pytest.fixture
def client() -> Iterator[TencentCloudClient]:
    region = os.environ.get("TENCENTCLOUD_REGION", "ap-guangzhou")
    token = os.environ.get("TENCENTCLOUD_SECURITY_TOKEN") or None
    with TencentCloudClient(Credentials(SECRET_ID, SECRET_KEY, token), region=region) as c:
        yield c


def test_caller_identity(client: TencentCloudClient) -> None:
    identity = client.sts.get_caller_identity()
    assert identity.account_id
    assert identity.arn.startswith("qcs::cam::")


def test_preset_policy_is_found_by_exact_name(client: TencentCloudClient) -> None:
    policy = client.cam.find_policy_by_name("QcloudCamReadOnlyAccess")
    assert policy is not None
    assert policy.policy_name == "QcloudCamReadOnlyAccess"


def test_missing_user_is_not_found(client: TencentCloudClient) -> None:
    from tencentcloud_secrets.tencentcloud import NotFoundError

    with pytest.raises(NotFoundError):
        client.cam.get_user(cam.GetUserRequest("vault-acceptance-no-such-user-0"))
