"""The entry point: one object per set of credentials, with ``.cam`` and ``.sts``.

Owns the transport (and so the pooled sessions); close it when the configuration that
built it is replaced. Never logs its configuration's secrets.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

from .cam import CamClient
from .credentials import CredentialChain, Credentials, StaticProvider
from .endpoints import EndpointResolver
from .pacing import Pacer
from .sts import StsClient
from .transport import CredentialSource, RetryPolicy, Timeouts, Transport


class TencentCloudClient:
    def __init__(
        self,
        credentials: Credentials | CredentialSource,
        *,
        region: str | None = None,
        endpoints: EndpointResolver | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        language: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``environ`` names the proxy and CA bundle (the process's environment when None)."""
        source: CredentialSource = (
            CredentialChain([StaticProvider(credentials)])
            if isinstance(credentials, Credentials)
            else credentials
        )
        self.region = region
        self.transport = Transport(
            source,
            resolver=endpoints,
            timeouts=timeouts,
            retry=retry,
            pacer=pacer,
            language=language,
            sleep=sleep,
            clock=clock,
            now=now,
            rng=rng,
            environ=environ,
        )
        self.cam = CamClient(self.transport, region)
        self.sts = StsClient(self.transport, region)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> TencentCloudClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
