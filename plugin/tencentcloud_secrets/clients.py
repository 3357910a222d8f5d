"""Build the mount's Tencent Cloud client from its stored configuration.

The one place where configuration turns into credentials, endpoints, retries and timeouts,
so every path gets the same client and a config change reaches all of them at once.

Endpoints are checked again here, not only when config is written: a configuration stored
by an older version may name a plain-http host that today's rules refuse, and no request
may be signed for it until an operator rewrites the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tencentcloud_secrets.paths.config import MountConfig, endpoint_problem
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.tencentcloud.client import TencentCloudClient
    from tencentcloud_secrets.tencentcloud.pacing import Pacer
    from tencentcloud_secrets.tencentcloud.transport import RetryPolicy

# STS needs a region; CAM ignores it. Used when neither the mount nor the environment says.
DEFAULT_REGION = "ap-guangzhou"


def client_from_config(
    config: MountConfig,
    *,
    environ: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    pacer: Pacer | None = None,
) -> TencentCloudClient:
    """The mount's client (``provider.ClientFactory``). ``retry`` and ``pacer`` replace what the
    configuration and the documented rate limits give: tests retry in milliseconds."""
    from tencentcloud_secrets.tencentcloud import (
        INTL_ROOT_DOMAIN,
        Credentials,
        Endpoint,
        EndpointResolver,
        TencentCloudClient,
        Timeouts,
        default_chain,
        region_from_environment,
    )
    from tencentcloud_secrets.tencentcloud import RetryPolicy as Retry
    from tencentcloud_secrets.tencentcloud.endpoints import DEFAULT_ROOT_DOMAIN

    configured = Credentials(config.secret_id, config.secret_key) if config.secret_id else None
    for name in ("cam_endpoint", "sts_endpoint"):
        value = getattr(config, name)
        problem = value and endpoint_problem(
            name, value, allow_insecure=config.allow_insecure_endpoints
        )
        if problem:
            raise logical.InvalidRequest(
                f"the stored config is refused: {problem}; write config again"
            )
    overrides = {
        service: Endpoint.parse(url)
        for service, url in (("cam", config.cam_endpoint), ("sts", config.sts_endpoint))
        if url
    }
    resolver = EndpointResolver(
        root_domain=INTL_ROOT_DOMAIN if config.international else DEFAULT_ROOT_DOMAIN,
        overrides=overrides,
    )
    return TencentCloudClient(
        default_chain(configured, environ=environ),
        region=region_from_environment(config.region, environ) or DEFAULT_REGION,
        endpoints=resolver,
        retry=retry or Retry(max_attempts=config.max_retries + 1),
        pacer=pacer,
        timeouts=Timeouts(read=float(config.request_timeout)),
        environ=environ,
    )
