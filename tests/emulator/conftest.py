"""Helpers for driving the emulator with the official Tencent Cloud SDK, unchanged."""

from __future__ import annotations

import dataclasses
import http.client
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.cam.v20190116 import cam_client
from tencentcloud.cam.v20190116 import models as cam_models
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sts.v20180813 import sts_client

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud.signer import sign
from tests.support.sdk import build


@dataclasses.dataclass
class Sdk:
    """Builds official SDK clients pointed at one emulator."""

    emu: RunningEmulator

    def _profile(self, method: str) -> ClientProfile:
        http = HttpProfile(endpoint=self.emu.host_port, protocol="http", reqMethod=method)
        return ClientProfile(httpProfile=http)

    def _credential(self, secret_id: str | None, secret_key: str | None, token: str | None) -> Any:
        return credential.Credential(
            secret_id or self.emu.secret_id, secret_key or self.emu.secret_key, token
        )

    def cam(
        self,
        secret_id: str | None = None,
        secret_key: str | None = None,
        token: str | None = None,
        *,
        method: str = "POST",
    ) -> Any:
        cred = self._credential(secret_id, secret_key, token)
        return cam_client.CamClient(cred, "", self._profile(method))

    def sts(
        self,
        secret_id: str | None = None,
        secret_key: str | None = None,
        token: str | None = None,
        *,
        method: str = "POST",
        region: str = "ap-guangzhou",
    ) -> Any:
        cred = self._credential(secret_id, secret_key, token)
        return sts_client.StsClient(cred, region, self._profile(method))


def error_code(call: Callable[[], object]) -> str:
    """Run an SDK call that must fail and return the error code the SDK raised."""
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    return str(info.value.code)


@pytest.fixture
def sdk(emulator: RunningEmulator) -> Sdk:
    return Sdk(emulator)


@pytest.fixture(name="error_code")
def error_code_fixture() -> Callable[[Callable[[], object]], str]:
    return error_code


@dataclasses.dataclass
class Raw:
    """Hand-built API 3.0 requests (signed with the project's signer) for the edge cases the
    SDK never sends: stale timestamps, wrong keys, missing headers, odd bodies."""

    emu: RunningEmulator

    def exchange(
        self,
        action: str,
        params: dict[str, Any] | None = None,
        *,
        service: str = "cam",
        version: str | None = None,
        secret_id: str | None = None,
        secret_key: str | None = None,
        token: str | None = None,
        timestamp: int | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        authorization: str | None = None,
        region: str | None = "ap-guangzhou",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, bytes]:
        """Send one request; the answer as it came: status, Content-Type and body."""
        payload = body if body is not None else json.dumps(params or {}).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        signed = sign(
            secret_id=secret_id or self.emu.secret_id,
            secret_key=secret_key or self.emu.secret_key,
            service=service,
            host=self.emu.host_port,
            timestamp=ts,
            payload=payload,
            content_type=content_type,
        )
        sent = {
            "Host": self.emu.host_port,
            "Content-Type": content_type,
            "X-TC-Action": action,
            "X-TC-Version": version or {"cam": "2019-01-16", "sts": "2018-08-13"}[service],
            "X-TC-Timestamp": str(ts),
            "Authorization": signed.authorization if authorization is None else authorization,
        }
        if region:
            sent["X-TC-Region"] = region
        if token is not None:
            sent["X-TC-Token"] = token
        sent.update(headers or {})
        conn = http.client.HTTPConnection(self.emu.server.host, self.emu.server.port, timeout=10)
        try:
            conn.request("POST", "/", body=payload, headers=sent)
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read()
        finally:
            conn.close()

    def send(self, action: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """An API call that must be answered with an envelope; its ``Response`` object."""
        status, content_type, body = self.exchange(action, params, **kw)
        assert status == 200
        assert content_type == "application/json"
        answer: dict[str, Any] = json.loads(body)["Response"]
        return answer

    def code(self, action: str, params: dict[str, Any] | None = None, **kw: Any) -> str:
        response = self.send(action, params, **kw)
        assert "RequestId" in response
        return str(response.get("Error", {}).get("Code", "Success"))


@pytest.fixture
def raw(emulator: RunningEmulator) -> Raw:
    return Raw(emulator)


@dataclasses.dataclass(frozen=True)
class SubUser:
    """A sub-user made through the API, with its first key pair."""

    name: str
    uin: int
    secret_id: str
    secret_key: str = dataclasses.field(repr=False)


MakeUser = Callable[..., SubUser]


@pytest.fixture
def make_user(sdk: Sdk) -> MakeUser:
    """``make_user(name, policies=[ids], groups=[ids])``: a sub-user created with the root
    key (UseApi=1), its policies attached and its group memberships added."""
    cam = sdk.cam()

    def make(name: str, *, policies: Sequence[int] = (), groups: Sequence[int] = ()) -> SubUser:
        made = cam.AddUser(build(cam_models.AddUserRequest, Name=name, UseApi=1))
        for policy_id in policies:
            attach = build(
                cam_models.AttachUserPolicyRequest, PolicyId=policy_id, AttachUin=made.Uin
            )
            cam.AttachUserPolicy(attach)
        if groups:
            info = [{"GroupId": g, "Uin": made.Uin} for g in groups]
            cam.AddUserToGroup(build(cam_models.AddUserToGroupRequest, Info=info))
        return SubUser(name, made.Uin, made.SecretId, made.SecretKey)

    return make


# The Go SDK's per-action error lists (see data/sdk_error_codes.json for where they come from).
SDK_CODES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "sdk_error_codes.json").read_text(encoding="utf-8")
)
# Codes answered outside an action's list, each for a stated reason.
OUTSIDE_THE_LISTS: dict[tuple[str, str], frozenset[str]] = {
    # STS defines this code for "this API does not accept temporary keys" and lists it for
    # GetSessionToken; GetFederationToken refuses temporary keys for the same reason.
    ("sts", "GetFederationToken"): frozenset({"FailedOperation.TempKeyNotAllowed"}),
}


def allowed_codes(service: str, action: str) -> frozenset[str] | None:
    """Every code the service may answer for this action; None for an unknown action."""
    listed = SDK_CODES.get(service, {}).get(action)
    if listed is None:
        return None
    extra = OUTSIDE_THE_LISTS.get((service, action), frozenset())
    return frozenset(listed) | frozenset(SDK_CODES["common"]) | extra


@pytest.fixture(autouse=True)
def _answers_follow_the_sdk_lists(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test on the shared emulator without injected faults, each error code the
    emulator answered must be in that action's SDK list (or common, or excepted above)."""
    if "emulator" not in request.fixturenames:
        yield
        return
    emu: RunningEmulator = request.getfixturevalue("emulator")
    yield
    if emu.emulator.fault_config()["faults"]:
        return
    strays = set()
    for entry in emu.requests():
        allowed = allowed_codes(entry["service"], entry["action"])
        if entry["code"] != "Success" and allowed is not None and entry["code"] not in allowed:
            strays.add((entry["action"], entry["code"]))
    assert not strays, f"codes outside the SDK's lists: {sorted(strays)}"
