"""The CVM instance-metadata role-credentials path: what it serves, and that the credentials it
hands out are live role sessions (with the role's permissions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tencentcloud.cam.v20190116 import models
from tencentcloud.sts.v20180813 import models as sts_models

from tencentcloud_emulator.metadata import PREFIX
from tencentcloud_emulator.seed import SeedError, default_seed
from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud.credentials import InstanceRoleProvider
from tests.support.request_log import action_names
from tests.support.sdk import build

ErrorCode = Callable[[Callable[[], object]], str]


def _get(emu: RunningEmulator, suffix: str = "") -> requests.Response:
    return requests.get(emu.endpoint + PREFIX + suffix, timeout=10)


def test_lists_the_role_and_serves_working_credentials(
    emulator: RunningEmulator, sdk: Any, error_code: ErrorCode
) -> None:
    listing = _get(emulator)
    assert (listing.status_code, listing.text) == (200, "vault-demo-role")
    answer = _get(emulator, "vault-demo-role")
    assert answer.status_code == 200
    doc = answer.json()
    assert set(doc) == {"TmpSecretId", "TmpSecretKey", "Token", "ExpiredTime", "Expiration", "Code"}
    assert doc["Code"] == "Success"
    assert doc["ExpiredTime"] > time.time() + 3600
    assert doc["Expiration"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(doc["ExpiredTime"]))

    who = sdk.sts(doc["TmpSecretId"], doc["TmpSecretKey"], doc["Token"]).GetCallerIdentity(
        sts_models.GetCallerIdentityRequest()
    )
    assert who.Type == "CAMRole"
    assert who.Arn.startswith("qcs::sts:100000000001:assumed-role/4611686018427397919/")
    cam = sdk.cam(doc["TmpSecretId"], doc["TmpSecretKey"], doc["Token"])
    assert cam.ListUsers(models.ListUsersRequest()).Data == []  # the role may read CAM
    add = build(models.AddUserRequest, Name="x")
    assert error_code(lambda: cam.AddUser(add)) == "AuthFailure.UnauthorizedOperation"
    # The metadata service is no API call: nothing in the request log.
    assert action_names(emulator) == [
        "GetCallerIdentity",
        "ListUsers",
        "AddUser",
    ]


def test_same_credentials_until_they_run_low(emulator: RunningEmulator) -> None:
    first = _get(emulator, "vault-demo-role").json()
    assert _get(emulator, "vault-demo-role").json()["TmpSecretId"] == first["TmpSecretId"]
    emulator.advance_clock(7200 - 1700)
    renewed = _get(emulator, "vault-demo-role").json()
    assert renewed["TmpSecretId"] != first["TmpSecretId"]
    assert renewed["ExpiredTime"] > first["ExpiredTime"]


def test_unknown_role_and_no_role(emulator: RunningEmulator, emulator_factory: Any) -> None:
    assert _get(emulator, "other-role").status_code == 404
    assert requests.post(emulator.endpoint + PREFIX, timeout=10).status_code == 405
    seed = default_seed()
    del seed["instance_role"]
    bare = emulator_factory(seed=seed)
    assert _get(bare).status_code == 404
    assert bare.state["instance_role"] is None
    chosen = emulator_factory(instance_role="vault-demo-oidc-role")
    assert _get(chosen).text == "vault-demo-oidc-role"
    with pytest.raises(SeedError):
        emulator_factory(instance_role="no-such-role")


def test_the_projects_instance_role_provider_reads_it(emulator: RunningEmulator) -> None:
    provider = InstanceRoleProvider(url=emulator.endpoint + PREFIX)
    creds = provider.get()
    assert creds is not None
    assert creds.source == "instance-role"
    assert creds.token
    assert creds.expires_at is not None
    assert creds.expires_at > time.time()
