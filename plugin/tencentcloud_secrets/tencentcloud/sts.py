"""Typed STS (2018-08-13) operations.

STS needs a region on every call. Temporary credentials are not durable objects, so a
call whose answer was lost is simply sent again: the orphaned token expires by itself.
AssumeRoleWithWebIdentity is sent unsigned (``Authorization: SKIP``), as the service
requires. Never logs what it returns.
"""

from __future__ import annotations

from . import models_sts as m
from .deadline import DeadlineLike
from .transport import STS, Transport, decode


class StsClient:
    def __init__(self, transport: Transport, region: str | None) -> None:
        self._t = transport
        self._region = region

    def _need_region(self) -> str:
        if not self._region:
            raise ValueError("STS calls need a region (configure one or set TENCENTCLOUD_REGION)")
        return self._region

    def assume_role(
        self, req: m.AssumeRoleRequest, *, deadline: DeadlineLike = None
    ) -> m.TemporaryCredentials:
        reply = self._t.call(
            STS, "AssumeRole", req.to_params(), region=self._need_region(), deadline=deadline
        )
        return decode(reply, m.TemporaryCredentials.from_wire)

    def get_federation_token(
        self, req: m.GetFederationTokenRequest, *, deadline: DeadlineLike = None
    ) -> m.TemporaryCredentials:
        reply = self._t.call(
            STS,
            "GetFederationToken",
            req.to_params(),
            region=self._need_region(),
            deadline=deadline,
        )
        return decode(reply, m.TemporaryCredentials.from_wire)

    async def assume_role_async(
        self, req: m.AssumeRoleRequest, *, deadline: DeadlineLike = None
    ) -> m.TemporaryCredentials:
        """``assume_role`` from a coroutine, with no thread waiting for the answer."""
        reply = await self._t.call_async(
            STS, "AssumeRole", req.to_params(), region=self._need_region(), deadline=deadline
        )
        return decode(reply, m.TemporaryCredentials.from_wire)

    async def get_federation_token_async(
        self, req: m.GetFederationTokenRequest, *, deadline: DeadlineLike = None
    ) -> m.TemporaryCredentials:
        """``get_federation_token`` from a coroutine, with no thread waiting for the answer."""
        reply = await self._t.call_async(
            STS,
            "GetFederationToken",
            req.to_params(),
            region=self._need_region(),
            deadline=deadline,
        )
        return decode(reply, m.TemporaryCredentials.from_wire)

    def get_caller_identity(self, *, deadline: DeadlineLike = None) -> m.CallerIdentity:
        reply = self._t.call(
            STS, "GetCallerIdentity", {}, region=self._need_region(), deadline=deadline
        )
        return decode(reply, m.CallerIdentity.from_wire)

    def assume_role_with_web_identity(
        self, req: m.AssumeRoleWithWebIdentityRequest, *, deadline: DeadlineLike = None
    ) -> m.TemporaryCredentials:
        reply = self._t.call(
            STS,
            "AssumeRoleWithWebIdentity",
            req.to_params(),
            region=self._need_region(),
            deadline=deadline,
            signed=False,
        )
        return decode(reply, m.TemporaryCredentials.from_wire)
