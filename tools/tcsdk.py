"""Using an issued credential the way its holder would: the official Tencent Cloud SDK.

The demo and the acceptance tests check the engine's credentials with a client the project did
not write, so a signing or parsing mistake shared by the engine's client and the emulator
cannot hide. Nothing here prints or returns a secret: answers carry identities and error codes.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from tencentcloud.cam.v20190116 import cam_client
from tencentcloud.cam.v20190116 import models as cam_models
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sts.v20180813 import models as sts_models
from tencentcloud.sts.v20180813 import sts_client

DEFAULT_REGION = "ap-guangzhou"
# A new CAM key takes a few seconds to be accepted everywhere on real Tencent Cloud; these
# codes mean "not yet", not "wrong".
PROPAGATION_CODES = frozenset({"AuthFailure.SecretIdNotFound", "AuthFailure.SignatureFailure"})


@dataclasses.dataclass(frozen=True)
class Answer:
    """What one API call answered: its fields on success, else the error code and message."""

    action: str
    ok: bool
    data: dict[str, Any]
    code: str = ""
    message: str = ""
    attempts: int = 1

    def summary(self, *fields: str) -> str:
        if not self.ok:
            return f"{self.action} -> error {self.code}: {self.message}"
        shown = ", ".join(f"{f}={self.data.get(f)}" for f in fields if f in self.data)
        return f"{self.action} -> {shown}" if shown else f"{self.action} -> ok"


@dataclasses.dataclass(frozen=True, repr=False)
class Holder:
    """The credential a lease handed out, and where to use it (``endpoint`` None: the real
    service). The repr names the key id only."""

    secret_id: str
    secret_key: str
    token: str | None = None
    endpoint: str | None = None
    region: str = DEFAULT_REGION

    def __repr__(self) -> str:
        return f"Holder(secret_id={self.secret_id!r}, endpoint={self.endpoint!r})"

    def _profile(self, service: str) -> ClientProfile:
        if self.endpoint is None:
            http = HttpProfile(endpoint=f"{service}.tencentcloudapi.com", reqTimeout=15)
        else:
            scheme, _, host = self.endpoint.partition("://")
            http = HttpProfile(endpoint=host, protocol=scheme, reqTimeout=15)
        return ClientProfile(httpProfile=http)

    def _credential(self) -> Any:
        return credential.Credential(self.secret_id, self.secret_key, self.token)

    def sts(self) -> Any:
        return sts_client.StsClient(self._credential(), self.region, self._profile("sts"))

    def cam(self) -> Any:
        return cam_client.CamClient(self._credential(), "", self._profile("cam"))

    def caller_identity(self, *, wait: float = 0.0) -> Answer:
        """GetCallerIdentity; retried for up to ``wait`` seconds while the key propagates."""
        return _call(
            "GetCallerIdentity",
            lambda: self.sts().GetCallerIdentity(sts_models.GetCallerIdentityRequest()),
            wait=wait,
        )

    def list_users(self) -> Answer:
        """ListUsers: what a role holding a CAM read-only policy may call."""

        def call() -> Any:
            answer = self.cam().ListUsers(cam_models.ListUsersRequest())
            return {"UserCount": len(answer.Data or []), "RequestId": answer.RequestId}

        return _call("ListUsers", call)

    def add_user(self, name: str) -> Answer:
        """AddUser: what a read-only role must not be able to do."""

        def call() -> Any:
            request = cam_models.AddUserRequest()
            request.Name = name
            answer = self.cam().AddUser(request)
            return {"Uin": answer.Uin, "RequestId": answer.RequestId}

        return _call("AddUser", call)

    def get_user(self, name: str) -> Answer:
        def call() -> Any:
            request = cam_models.GetUserRequest()
            request.Name = name
            return self.cam().GetUser(request)

        return _call("GetUser", call)


def _call(action: str, call: Any, *, wait: float = 0.0) -> Answer:
    deadline = time.monotonic() + wait
    attempts = 0
    while True:
        attempts += 1
        try:
            answer = call()
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "")
            if code in PROPAGATION_CODES and time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            return Answer(action, False, {}, code, str(exc.get_message() or ""), attempts)
        data = answer if isinstance(answer, dict) else _fields(answer)
        return Answer(action, True, data, attempts=attempts)


def _fields(model: Any) -> dict[str, Any]:
    """The SDK model's public fields, none of them secret for the calls made here."""
    return {
        key.lstrip("_"): value
        for key, value in vars(model).items()
        if not callable(value) and value is not None
    }
