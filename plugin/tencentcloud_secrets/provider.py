"""The engine's seam to the cloud: what it calls, how its clients are made, and its clock.

The engine (backend, paths, role groups, rotation, leases) speaks to CAM and STS through
``CamApi`` and ``StsApi``, the calls it uses and nothing more, and gets each client from a
``ClientFactory``; the backend is built with one (``TencentCloudBackend(factory=...,
clock=...)``). In production the factory is ``clients.client_from_config``: the signed HTTP
client of ``tencentcloud``. A test can pass a factory with fast retries, or one that returns a
fake where the point is the engine's logic rather than Tencent Cloud's behaviour (that is what
the emulator is for).

Time is injected the same way: ``Clock.now`` stamps rotations and schedules them, and
``Clock.sleep`` waits for a new key to propagate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud import models_sts as sm
from tencentcloud_secrets.tencentcloud.deadline import DeadlineLike

if TYPE_CHECKING:
    from tencentcloud_secrets.paths.config import MountConfig


class CamApi(Protocol):
    """The CAM calls the engine makes."""

    def add_user(
        self, req: cm.AddUserRequest, *, deadline: DeadlineLike = None
    ) -> cm.AddUserResult: ...

    def get_user(self, req: cm.GetUserRequest, *, deadline: DeadlineLike = None) -> cm.SubUser: ...

    def list_users(self, *, deadline: DeadlineLike = None) -> tuple[cm.SubUser, ...]: ...

    def delete_user(
        self, req: cm.DeleteUserRequest, *, deadline: DeadlineLike = None, retry_sent: bool = True
    ) -> None: ...

    def create_access_key(
        self, req: cm.CreateAccessKeyRequest, *, deadline: DeadlineLike = None
    ) -> cm.AccessKeyDetail: ...

    def delete_access_key(
        self, req: cm.DeleteAccessKeyRequest, *, deadline: DeadlineLike = None
    ) -> None: ...

    def list_access_keys(
        self, req: cm.ListAccessKeysRequest, *, deadline: DeadlineLike = None
    ) -> tuple[cm.AccessKey, ...]: ...

    def create_policy(
        self, req: cm.CreatePolicyRequest, *, deadline: DeadlineLike = None
    ) -> cm.CreatePolicyResult: ...

    def delete_policy(
        self, req: cm.DeletePolicyRequest, *, deadline: DeadlineLike = None
    ) -> None: ...

    def get_policy(
        self, req: cm.GetPolicyRequest, *, deadline: DeadlineLike = None
    ) -> cm.Policy: ...

    def find_policy_by_name(
        self, name: str, *, scope: str | None = None, deadline: DeadlineLike = None
    ) -> cm.PolicySummary | None: ...

    def create_group(
        self, req: cm.CreateGroupRequest, *, deadline: DeadlineLike = None
    ) -> cm.CreateGroupResult: ...

    def delete_group(
        self, req: cm.DeleteGroupRequest, *, deadline: DeadlineLike = None
    ) -> None: ...

    def find_group_by_name(
        self, name: str, *, deadline: DeadlineLike = None
    ) -> cm.Group | None: ...

    def list_users_for_group(
        self, req: cm.ListUsersForGroupRequest, *, deadline: DeadlineLike = None
    ) -> cm.GroupMemberPage: ...

    def attached_group_policy_ids(
        self, group_id: int, *, deadline: DeadlineLike = None
    ) -> set[int]: ...

    def attach_group_policy(
        self, req: cm.AttachGroupPolicyRequest, *, deadline: DeadlineLike = None
    ) -> None: ...

    def detach_group_policy(
        self, req: cm.DetachGroupPolicyRequest, *, deadline: DeadlineLike = None
    ) -> None: ...

    def add_user_to_group(
        self, req: cm.AddUserToGroupRequest, *, deadline: DeadlineLike = None
    ) -> None: ...


class StsApi(Protocol):
    """The STS calls the engine makes."""

    def assume_role(
        self, req: sm.AssumeRoleRequest, *, deadline: DeadlineLike = None
    ) -> sm.TemporaryCredentials: ...

    def get_federation_token(
        self, req: sm.GetFederationTokenRequest, *, deadline: DeadlineLike = None
    ) -> sm.TemporaryCredentials: ...

    async def assume_role_async(
        self, req: sm.AssumeRoleRequest, *, deadline: DeadlineLike = None
    ) -> sm.TemporaryCredentials:
        """``assume_role`` awaited on the event loop, no thread waiting for the answer."""

    async def get_federation_token_async(
        self, req: sm.GetFederationTokenRequest, *, deadline: DeadlineLike = None
    ) -> sm.TemporaryCredentials:
        """``get_federation_token`` awaited on the event loop."""

    def get_caller_identity(self, *, deadline: DeadlineLike = None) -> sm.CallerIdentity: ...


class CloudClient(Protocol):
    """One set of credentials' way into CAM and STS."""

    @property
    def cam(self) -> CamApi: ...

    @property
    def sts(self) -> StsApi: ...

    def close(self) -> None:
        """Release its connections; the mount's client is replaced on a config change."""


ClientFactory = Callable[["MountConfig"], CloudClient]
"""A client for a configuration: the mount's own, or the same with another key (rotations
check a new key through a client of its own)."""


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""

    def sleep(self, seconds: float) -> None:
        """Wait (for a new key to propagate through CAM)."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
