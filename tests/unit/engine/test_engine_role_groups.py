"""The role-groups service's choice of group, on a fake CAM: which group a lease's user joins,
in how many calls. The seam (``provider.ClientFactory``) lets this run without HTTP; what CAM
itself does with full groups is checked against the emulator in test_engine_creds.py."""

from __future__ import annotations

from typing import Any

import pytest

from tencentcloud_secrets.backend import TencentCloudBackend
from tencentcloud_secrets.role import CAM_USER, CamGroup, Role
from tencentcloud_secrets.role_groups import GROUP_FULL
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud.deadline import Deadline
from tencentcloud_secrets.tencentcloud.errors import ApiError, LimitExceededError
from tencentcloud_secrets_shim import logical


class FullGroupsCam:
    """AddUserToGroup refuses a group listed in ``full``, as CAM does: the whole call fails."""

    def __init__(self, full: set[int]) -> None:
        self.full = full
        self.joined: list[tuple[int, ...]] = []

    def add_user_to_group(self, req: cm.AddUserToGroupRequest, *, deadline: Any = None) -> None:
        ids = tuple(m.group_id for m in req.info)
        self.joined.append(ids)
        if self.full & set(ids):
            raise LimitExceededError(GROUP_FULL, "the group is full", action="AddUserToGroup")


class FakeClient:
    def __init__(self, cam: FullGroupsCam) -> None:
        self.cam = cam
        self.sts = None

    def close(self) -> None:
        pass


@pytest.fixture
def backend_and_cam() -> tuple[TencentCloudBackend, FullGroupsCam]:
    cam = FullGroupsCam(full={1})
    backend = TencentCloudBackend(factory=lambda config: FakeClient(cam))  # type: ignore[arg-type,return-value]
    backend.setup(
        logical.BackendConfig(
            storage=logical.InmemStorage(), system_view=logical.StaticSystemView()
        )
    )
    return backend, cam


def _role() -> Role:
    return Role(
        credential_type=CAM_USER,
        managed_groups=[CamGroup(1, "vault-app-x-1"), CamGroup(2, "vault-app-x-2")],
        groups=[CamGroup(9, "ops")],
    )


def test_a_full_group_is_skipped_and_the_one_with_room_tried_first_next_time(
    backend_and_cam: tuple[TencentCloudBackend, FullGroupsCam],
) -> None:
    backend, cam = backend_and_cam
    request = logical.Request(operation="read", path="creds/app", storage=backend.config.storage)
    deadline = Deadline(float("inf"))
    backend.groups.join(request, "app", _role(), 100, deadline)
    # The last group first; it has room: one call with the extra group.
    assert cam.joined == [(2, 9)]
    cam.full = {2}
    cam.joined.clear()
    backend.groups.join(request, "app", _role(), 101, deadline)
    # Refused with the extra group, refused alone (group 2 itself is full), then group 1.
    assert cam.joined == [(2, 9), (2,), (1, 9)]
    cam.joined.clear()
    backend.groups.join(request, "app", _role(), 102, deadline)
    assert cam.joined == [(1, 9)]  # the hint: the group that last had room


def test_a_full_extra_group_fails_the_issue_rather_than_growing_the_role(
    backend_and_cam: tuple[TencentCloudBackend, FullGroupsCam],
) -> None:
    backend, cam = backend_and_cam
    cam.full = {9}
    request = logical.Request(operation="read", path="creds/app", storage=backend.config.storage)
    with pytest.raises(ApiError) as raised:
        backend.groups.join(request, "app", _role(), 100, Deadline(float("inf")))
    assert "ops" in str(raised.value.message)
    assert cam.joined == [(2, 9), (2,)]
