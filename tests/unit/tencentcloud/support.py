"""What the client's unit tests share besides fixtures: the client factory's type, and a live
STS session of the demo role."""

from __future__ import annotations

from collections.abc import Callable

from tencentcloud_secrets.tencentcloud import Credentials, TencentCloudClient
from tencentcloud_secrets.tencentcloud.models_sts import AssumeRoleRequest
from tests.support.seed import DEMO_ROLE_ARN

ClientFactory = Callable[..., TencentCloudClient]


def temporary_credentials(client: TencentCloudClient) -> Credentials:
    """A live STS session of the demo role: the emulator checks its token on every call."""
    tmp = client.sts.assume_role(AssumeRoleRequest(DEMO_ROLE_ARN, "unit-tests"))
    return Credentials(tmp.tmp_secret_id, tmp.tmp_secret_key, tmp.token)
