"""tools/bench/cloudstub, the benchmark's stand-in for CAM and STS, built with go as make bench
builds it and reached as the plugins reach it: HTTPS_PROXY and its CA certificate.

Requests are signed with the plugin's own signer: the stand-in's verifier is written
separately, in Go, so each checks the other. Nothing here measures time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tencentcloud_secrets.tencentcloud.signer import sign
from tools.bench import DEMO_KEY, DEMO_ROLE_ARN, CloudStubProcess

STUB_SOURCES = Path(__file__).resolve().parents[2] / "tools" / "bench" / "cloudstub"
VERSIONS = {"cam": "2019-01-16", "sts": "2018-08-13"}


@pytest.fixture(scope="module")
def stub_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is missing: the stand-in is a Go program (make bench builds it with go)")
    binary = tmp_path_factory.mktemp("cloudstub-build") / "cloudstub"
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
    subprocess.run(
        [go, "build", "-trimpath", "-o", str(binary), "."],
        cwd=STUB_SOURCES,
        env=env,
        check=True,
        timeout=600,
    )
    return binary


@pytest.fixture(scope="module")
def stub(stub_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudStubProcess]:
    with CloudStubProcess(stub_binary, tmp_path_factory.mktemp("cloudstub")) as running:
        yield running


def call(
    stub: CloudStubProcess,
    service: str,
    action: str,
    params: dict[str, Any],
    *,
    secret_key: str = DEMO_KEY["secret_key"],
    sign_action: bool = True,
    sent_body: bytes | None = None,
) -> dict[str, Any]:
    """One API 3.0 call through the stand-in's proxy; ``sent_body`` replaces the signed body."""
    host = f"{service}.tencentcloudapi.com"
    body = json.dumps(params).encode()
    timestamp = int(time.time())
    signed = sign(
        secret_id=DEMO_KEY["secret_id"],
        secret_key=secret_key,
        service=service,
        host=host,
        timestamp=timestamp,
        payload=body,
        content_type="application/json",
        action=action if sign_action else None,
    )
    headers = {
        "Authorization": signed.authorization,
        "Content-Type": "application/json",
        "X-TC-Action": action,
        "X-TC-Version": VERSIONS[service],
        "X-TC-Timestamp": str(timestamp),
    }
    answer = requests.post(
        f"https://{host}/",
        data=body if sent_body is None else sent_body,
        headers=headers,
        proxies={"https": f"http://127.0.0.1:{stub.ports.proxy_port}"},
        verify=str(stub.ca_file),
        timeout=30,
    )
    answer.raise_for_status()
    response: dict[str, Any] = answer.json()["Response"]
    assert response["RequestId"]
    return response


def error_code(response: dict[str, Any]) -> str | None:
    error = response.get("Error")
    return None if error is None else str(error["Code"])


def test_the_ready_line_names_the_ca_it_wrote(stub: CloudStubProcess) -> None:
    assert stub.ports.ca_file == stub.ca_file
    assert stub.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize("sign_action", [True, False], ids=["with-action", "sdk-headers"])
def test_assume_role_answers_credentials_shaped_like_sts(
    stub: CloudStubProcess, sign_action: bool
) -> None:
    response = call(
        stub,
        "sts",
        "AssumeRole",
        {"RoleArn": DEMO_ROLE_ARN, "RoleSessionName": "bench-session", "DurationSeconds": 900},
        sign_action=sign_action,
    )
    assert error_code(response) is None
    creds = response["Credentials"]
    assert creds["TmpSecretId"].startswith("AKID")
    assert creds["TmpSecretKey"]
    assert creds["Token"]
    expires = dt.datetime.strptime(response["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert int(expires.replace(tzinfo=dt.UTC).timestamp()) == response["ExpiredTime"]
    assert 850 < response["ExpiredTime"] - time.time() <= 900


def test_an_empty_external_id_counts_as_none(stub: CloudStubProcess) -> None:
    params = {"RoleArn": DEMO_ROLE_ARN, "RoleSessionName": "bench-session", "ExternalId": ""}
    assert error_code(call(stub, "sts", "AssumeRole", params)) is None
    params["ExternalId"] = "x"
    assert error_code(call(stub, "sts", "AssumeRole", params)) == "InvalidParameter.ParamError"


def test_a_wrong_signature_is_refused_and_counted(stub: CloudStubProcess) -> None:
    stub.clear_counters()
    params = {"RoleArn": DEMO_ROLE_ARN, "RoleSessionName": "bench-session"}
    wrong_key = call(stub, "sts", "AssumeRole", params, secret_key="not-the-key")
    assert error_code(wrong_key) == "AuthFailure.SignatureFailure"
    altered = json.dumps({**params, "DurationSeconds": 43200}).encode()
    assert (
        error_code(call(stub, "sts", "AssumeRole", params, sent_body=altered))
        == "AuthFailure.SignatureFailure"
    )
    assert "Credentials" not in wrong_key
    assert stub.counters() == {"AssumeRole": {"calls": 2, "AuthFailure.SignatureFailure": 2}}


def test_a_signature_for_one_service_is_no_good_for_the_other(stub: CloudStubProcess) -> None:
    # Signed for sts but sent to cam: the scope names the service.
    host = "cam.tencentcloudapi.com"
    body = b"{}"
    timestamp = int(time.time())
    signed = sign(
        secret_id=DEMO_KEY["secret_id"],
        secret_key=DEMO_KEY["secret_key"],
        service="sts",
        host=host,
        timestamp=timestamp,
        payload=body,
        content_type="application/json",
    )
    answer = requests.post(
        f"https://{host}/",
        data=body,
        headers={
            "Authorization": signed.authorization,
            "Content-Type": "application/json",
            "X-TC-Action": "ListUsers",
            "X-TC-Version": VERSIONS["cam"],
            "X-TC-Timestamp": str(timestamp),
        },
        proxies={"https": f"http://127.0.0.1:{stub.ports.proxy_port}"},
        verify=str(stub.ca_file),
        timeout=30,
    )
    assert answer.json()["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"


def test_a_cam_user_lives_and_dies_like_one(stub: CloudStubProcess) -> None:
    added = call(stub, "cam", "AddUser", {"Name": "bench-user", "UseApi": 1})
    assert added["Name"] == "bench-user"
    assert added["SecretId"].startswith("AKID")
    assert isinstance(added["Uin"], int)
    assert added["SecretKey"]
    taken = call(stub, "cam", "AddUser", {"Name": "bench-user"})
    assert error_code(taken) == "InvalidParameter.SubUserNameInUse"
    assert error_code(call(stub, "cam", "DeleteUser", {"Name": "bench-user"})) == (
        "OperationDenied.HaveKeys"
    )
    assert error_code(call(stub, "cam", "DeleteUser", {"Name": "bench-user", "Force": 1})) is None
    gone = call(stub, "cam", "DeleteUser", {"Name": "bench-user", "Force": 1})
    assert error_code(gone) == "ResourceNotFound.UserNotExist"


def test_list_policies_finds_a_preset_by_keyword(stub: CloudStubProcess) -> None:
    found = call(
        stub, "cam", "ListPolicies", {"Keyword": "QcloudCamReadOnlyAccess", "Scope": "All"}
    )
    assert found["TotalNum"] == 1
    assert found["List"][0]["PolicyName"] == "QcloudCamReadOnlyAccess"


def test_an_action_it_does_not_serve_is_invalid(stub: CloudStubProcess) -> None:
    assert error_code(call(stub, "cam", "DescribeNothing", {})) == "InvalidAction"


@pytest.mark.parametrize(
    "target", ["example.com:443", "cam.tencentcloudapi.com:80", "tencentcloudapi.com:443"]
)
def test_the_proxy_goes_nowhere_else(stub: CloudStubProcess, target: str) -> None:
    with socket.create_connection(("127.0.0.1", stub.ports.proxy_port), timeout=10) as conn:
        conn.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        assert conn.recv(64).startswith(b"HTTP/1.1 403 ")


def test_latency_and_counters_are_set_on_the_admin_port(stub: CloudStubProcess) -> None:
    stub.set_latency(7)
    assert requests.get(stub.admin("latency"), timeout=10).json() == {"ms": 7}
    stub.set_latency(0)
    stub.clear_counters()
    call(stub, "sts", "GetCallerIdentity", {})
    assert stub.counters() == {"GetCallerIdentity": {"calls": 1, "Success": 1}}
    assert stub.state()["tunnels"] >= 1
