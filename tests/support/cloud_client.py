"""The project's own Tencent Cloud client holding a given credential, aimed at the emulator:
how tests prove that an issued key, token or rotated key works (or no longer does).

Imports the plugin's client: not for the emulator's own tests.
"""

from __future__ import annotations

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import (
    Credentials,
    Endpoint,
    EndpointResolver,
    RetryPolicy,
    TencentCloudClient,
)


def client_as(
    emulator: RunningEmulator, secret_id: str, secret_key: str, token: str | None = None
) -> TencentCloudClient:
    """A client with this credential and a single attempt per call: a refusal is the answer,
    not something to retry."""
    endpoint = Endpoint.parse(emulator.endpoint)
    return TencentCloudClient(
        Credentials(secret_id, secret_key, token),
        region="ap-guangzhou",
        endpoints=EndpointResolver(overrides={"cam": endpoint, "sts": endpoint}),
        retry=RetryPolicy(max_attempts=1),
    )
