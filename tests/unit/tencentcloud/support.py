"""What the client's unit tests share besides fixtures: the client factory's type, the demo
account's role and identity provider, and a compact view of the emulator's request log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import Credentials, TencentCloudClient
from tencentcloud_secrets.tencentcloud.models_sts import AssumeRoleRequest

ClientFactory = Callable[..., TencentCloudClient]

# From the emulator's packaged seed (fake and public).
DEMO_ROLE_ARN = "qcs::cam::uin/100000000001:roleName/vault-demo-role"
OIDC_ROLE_ARN = "qcs::cam::uin/100000000001:roleName/vault-demo-oidc-role"
OIDC_PROVIDER = "demo-idp"
OIDC_AUDIENCE = "vault-demo"
OIDC_SECRET = "emulator-demo-oidc-secret-not-real"


def calls(emulator: RunningEmulator) -> list[tuple[str, str]]:
    """Every API call the emulator saw, in order, with its outcome code."""
    return [(e["action"], e["code"]) for e in emulator.requests()]


def temporary_credentials(client: TencentCloudClient) -> Credentials:
    """A live STS session of the demo role: the emulator checks its token on every call."""
    tmp = client.sts.assume_role(AssumeRoleRequest(DEMO_ROLE_ARN, "unit-tests"))
    return Credentials(tmp.tmp_secret_id, tmp.tmp_secret_key, tmp.token)


def web_identity_token(subject: str) -> str:
    """An HS256 JWT that the demo identity provider accepts."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": subject, "aud": OIDC_AUDIENCE, "exp": int(time.time()) + 3600}
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(OIDC_SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"
