"""A scripted, stateful CAM/STS stand-in on 127.0.0.1 for fault injection in unit tests.

It verifies every signature, keeps a little state (users, keys, policies, groups) and lets
a test queue faults per action: throttle, drop the connection before or after running the
action, answer HTTP 500 or garbage.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tencentcloud_secrets.tencentcloud import TencentCloudClient
from tencentcloud_secrets.tencentcloud.signer import sign

SECRET_ID = "AKIDunitTESTunitTESTunitTEST1234"
SECRET_KEY = "unit-secret-key-do-not-leak-0123456789"

ClientFactory = Callable[..., TencentCloudClient]


@dataclasses.dataclass
class Recorded:
    action: str
    headers: dict[str, str]
    body: bytes


class ApiFaultError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = message or code


@dataclasses.dataclass
class State:
    users: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    keys: dict[int, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    policies: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)


class FakeCloud:
    def __init__(self) -> None:
        self.secrets = {SECRET_ID: SECRET_KEY}
        self.state = State()
        self.recorded: list[Recorded] = []
        self.faults: dict[str, list[str]] = {}
        self.hide_user_lookups = 0
        self.echo_everything = False
        self._ids = itertools.count(100001)
        self._lock = threading.Lock()
        self.port = 0

    # -- test controls ---------------------------------------------------------------

    def inject(self, action: str, *kinds: str) -> None:
        self.faults.setdefault(action, []).extend(kinds)

    def actions(self) -> list[str]:
        return [r.action for r in self.recorded]

    # -- request handling ------------------------------------------------------------

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[str, bytes | None]:
        """Returns (kind, payload): kind 'json' with a body, or a fault kind with None."""
        action = headers.get("x-tc-action", "")
        with self._lock:
            self.recorded.append(Recorded(action, headers, body))
            queue = self.faults.get(action) or []
            fault = queue.pop(0) if queue else None
            if fault in ("drop_before", "http500", "garbage"):
                return fault, None
            if fault == "throttle":
                return "json", self._error("RequestLimitExceeded", "too many requests")
            try:
                self._verify(headers, body)
                params = json.loads(body or b"{}")
                result = getattr(self, f"do_{action}")(params, headers)
                payload = self._ok(result)
            except ApiFaultError as fault_exc:
                payload = self._error(fault_exc.code, fault_exc.message)
            if fault == "drop_after":
                return "drop_after", None
            return "json", payload

    def _verify(self, headers: dict[str, str], body: bytes) -> None:
        auth = headers.get("authorization", "")
        if headers.get("x-tc-action") == "AssumeRoleWithWebIdentity":
            if auth != "SKIP":
                raise ApiFaultError("AuthFailure.InvalidAuthorization")
            return
        try:
            cred = auth.split("Credential=", 1)[1].split(",", 1)[0]
            secret_id, _date, service, _ = cred.split("/")
        except (IndexError, ValueError):
            raise ApiFaultError("AuthFailure.InvalidAuthorization") from None
        key = self.secrets.get(secret_id)
        if key is None:
            raise ApiFaultError("AuthFailure.SecretIdNotFound")
        expected = sign(
            secret_id=secret_id,
            secret_key=key,
            service=service,
            host=headers.get("host", ""),
            timestamp=int(headers.get("x-tc-timestamp", "0")),
            payload=body,
            content_type=headers.get("content-type", ""),
        )
        if expected.authorization != auth:
            raise ApiFaultError("AuthFailure.SignatureFailure", "signature mismatch")
        if self.echo_everything:
            # A hostile answer that repeats every secret it saw.
            echoed = f"{key} {headers.get('x-tc-token')} {auth} {body.decode()}"
            raise ApiFaultError("AuthFailure.TokenFailure", echoed)

    def _ok(self, result: dict[str, Any]) -> bytes:
        return json.dumps(
            {"Response": {**result, "RequestId": f"req-{len(self.recorded)}"}}
        ).encode()

    def _error(self, code: str, message: str) -> bytes:
        rid = f"req-{len(self.recorded)}"
        return json.dumps(
            {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": rid}}
        ).encode()

    # -- CAM ---------------------------------------------------------------------------

    def _new_key(self, uin: int, description: str | None) -> dict[str, Any]:
        n = next(self._ids)
        key = {
            "AccessKeyId": f"AKIDfake{n}",
            "SecretAccessKey": f"fake-secret-{n}",
            "Status": "Active",
            "CreateTime": "2024-01-01 00:00:00",
            "Description": description or "",
        }
        self.state.keys.setdefault(uin, []).append(key)
        return key

    def do_AddUser(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        name = p["Name"]
        if name in self.state.users:
            raise ApiFaultError("InvalidParameter.SubUserNameInUse")
        uin = next(self._ids)
        user = {"Uin": uin, "Uid": uin + 1, "Name": name, "Remark": p.get("Remark", "")}
        self.state.users[name] = user
        out: dict[str, Any] = {"Uin": uin, "Uid": uin + 1, "Name": name, "Password": ""}
        if p.get("UseApi") == 1:
            key = self._new_key(uin, None)
            out["SecretId"] = key["AccessKeyId"]
            out["SecretKey"] = key["SecretAccessKey"]
        return out

    def do_GetUser(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        user = self.state.users.get(p["Name"])
        if self.hide_user_lookups > 0:
            self.hide_user_lookups -= 1
            user = None
        if user is None:
            raise ApiFaultError("ResourceNotFound.UserNotExist")
        return dict(user)

    def do_DeleteUser(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        user = self.state.users.pop(p["Name"], None)
        if user is None:
            raise ApiFaultError("ResourceNotFound.UserNotExist")
        self.state.keys.pop(user["Uin"], None)
        return {}

    def do_CreateAccessKey(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        uin = p["TargetUin"]
        if len(self.state.keys.get(uin, [])) >= 2:
            raise ApiFaultError("OperationDenied.AccessKeyOverLimit")
        return {"AccessKey": dict(self._new_key(uin, p.get("Description")))}

    def do_ListAccessKeys(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        keys = self.state.keys.get(p["TargetUin"], [])
        return {
            "AccessKeys": [{k: v for k, v in key.items() if k != "SecretAccessKey"} for key in keys]
        }

    def do_DeleteAccessKey(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        keys = self.state.keys.get(p["TargetUin"], [])
        kept = [k for k in keys if k["AccessKeyId"] != p["AccessKeyId"]]
        if len(kept) == len(keys):
            raise ApiFaultError("ResourceNotFound.SecretNotExist")
        self.state.keys[p["TargetUin"]] = kept
        return {}

    def do_CreatePolicy(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        if any(x["PolicyName"] == p["PolicyName"] for x in self.state.policies.values()):
            raise ApiFaultError("FailedOperation.PolicyNameInUse")
        pid = next(self._ids)
        self.state.policies[pid] = {"PolicyId": pid, "PolicyName": p["PolicyName"], "Type": 1}
        return {"PolicyId": pid}

    def do_ListPolicies(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        hits = [x for x in self.state.policies.values() if p.get("Keyword", "") in x["PolicyName"]]
        rp, page = p.get("Rp", 20), p.get("Page", 1)
        return {"TotalNum": len(hits), "List": hits[(page - 1) * rp : page * rp]}

    def do_DeletePolicy(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        ids = p["PolicyId"]
        if not all(i in self.state.policies for i in ids):
            raise ApiFaultError("ResourceNotFound.PolicyIdNotFound")
        for i in ids:
            del self.state.policies[i]
        return {}

    def do_CreateGroup(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        if any(g["GroupName"] == p["GroupName"] for g in self.state.groups.values()):
            raise ApiFaultError("InvalidParameter.GroupNameInUse")
        gid = next(self._ids)
        self.state.groups[gid] = {"GroupId": gid, "GroupName": p["GroupName"]}
        return {"GroupId": gid}

    def do_ListGroups(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        hits = [g for g in self.state.groups.values() if p.get("Keyword", "") in g["GroupName"]]
        return {"TotalNum": len(hits), "GroupInfo": hits}

    # -- STS ---------------------------------------------------------------------------

    def do_GetCallerIdentity(self, _p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        return {
            "Arn": "qcs::cam::uin/100:uin/100",
            "AccountId": "100",
            "UserId": "100",
            "PrincipalId": "100",
            "Type": "CAMUser",
        }

    def do_AssumeRoleWithWebIdentity(self, p: dict[str, Any], _h: dict[str, str]) -> dict[str, Any]:
        return {
            "Credentials": {"Token": "tok", "TmpSecretId": "AKIDtmp", "TmpSecretKey": "tmpkey"},
            "ExpiredTime": 2000000000,
            "Expiration": "2033-05-18T03:33:20Z",
        }

    def do_AssumeRole(self, p: dict[str, Any], h: dict[str, str]) -> dict[str, Any]:
        return self.do_AssumeRoleWithWebIdentity(p, h)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        kind, payload = self.server.cloud.handle(headers, body)
        if kind in ("drop_before", "drop_after"):
            self.close_connection = True
            return
        if kind == "http500":
            payload, status, ctype = b"oops", 500, "text/plain"
        elif kind == "garbage":
            payload, status, ctype = b"<html>not json</html>", 200, "text/html"
        else:
            status, ctype = 200, "application/json"
        assert payload is not None
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cloud = cloud


@contextmanager
def running() -> Iterator[FakeCloud]:
    cloud = FakeCloud()
    server = _Server(cloud)
    cloud.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield cloud
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
