"""The TLS faces of the emulator: an unmodified official SDK at its default endpoints reaches it
through the CONNECT proxy; the HTTPS listener and the proxy route by Host like the gateway; and
nothing addressed to another host is ever forwarded."""

from __future__ import annotations

import json
import signal
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from cryptography import x509
from tencentcloud.cam.v20190116 import cam_client
from tencentcloud.cam.v20190116 import models as cam_models
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sts.v20180813 import models as sts_models
from tencentcloud.sts.v20180813 import sts_client

from tencentcloud_emulator.hosts import service_of
from tencentcloud_emulator.testing import RunningEmulator, running_emulator
from tencentcloud_emulator.tls import CertificateAuthority
from tencentcloud_secrets.tencentcloud.signer import sign
from tests.support.account import user_names
from tests.support.emulator_cli import emulator_process
from tests.support.sdk import build
from tests.support.seed import DEMO_ROLE_ARN


@pytest.fixture(scope="module")
def tls_emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    with running_emulator(proxy_port=0, https_port=0, ca_file=ca_file) as emu:
        yield emu


@pytest.fixture
def proxy_env(tls_emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    """The process environment of a client told only where the proxy is and which CA to
    trust. The SDK reads the proxy variables when a client is built, not at import."""
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, tls_emu.proxy_url)
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(tls_emu.ca_file))
    return tls_emu


def default_profile(ca_file: Path) -> ClientProfile:
    """No endpoint and no scheme: the SDK's defaults (https, <service>.tencentcloudapi.com).
    The CA goes in ``certification`` because the Python SDK passes certifi's bundle to
    requests explicitly, which makes requests ignore REQUESTS_CA_BUNDLE."""
    return ClientProfile(httpProfile=HttpProfile(certification=str(ca_file)))


def test_sdk_at_default_endpoints_reaches_cam_and_sts_through_the_proxy(
    proxy_env: RunningEmulator,
) -> None:
    emu = proxy_env
    assert cam_client.CamClient._endpoint == "cam.tencentcloudapi.com"
    cred = credential.Credential(emu.secret_id, emu.secret_key)
    profile = default_profile(emu.ca_file)
    cam = cam_client.CamClient(cred, "", profile)
    added = cam.AddUser(build(cam_models.AddUserRequest, Name="through-proxy", UseApi=1))
    assert added.SecretId.startswith("AKID")

    issued = sts_client.StsClient(cred, "ap-guangzhou", profile).AssumeRole(
        build(sts_models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="proxied")
    )
    creds = issued.Credentials
    temporary = credential.Credential(creds.TmpSecretId, creds.TmpSecretKey, creds.Token)
    me = sts_client.StsClient(temporary, "ap-guangzhou", profile).GetCallerIdentity(
        sts_models.GetCallerIdentityRequest()
    )
    assert me.Type == "CAMRole"

    # Each call arrived signed for, and was routed to, its own service; the user exists.
    seen = [(e["service"], e["action"], e["code"]) for e in emu.requests()[-3:]]
    assert seen == [
        ("cam", "AddUser", "Success"),
        ("sts", "AssumeRole", "Success"),
        ("sts", "GetCallerIdentity", "Success"),
    ]
    assert "through-proxy" in user_names(emu)


def test_regional_and_international_hosts_route_to_their_service(
    proxy_env: RunningEmulator,
) -> None:
    emu = proxy_env
    cred = credential.Credential(emu.secret_id, emu.secret_key)
    for host in ("sts.ap-guangzhou.tencentcloudapi.com", "sts.intl.tencentcloudapi.com"):
        http = HttpProfile(endpoint=host, certification=str(emu.ca_file))
        me = sts_client.StsClient(cred, "ap-guangzhou", ClientProfile(httpProfile=http))
        assert me.GetCallerIdentity(sts_models.GetCallerIdentityRequest()).Type == "CAMUser"
    http = HttpProfile(endpoint="cam.intl.tencentcloudapi.com", certification=str(emu.ca_file))
    cam = cam_client.CamClient(cred, "", ClientProfile(httpProfile=http))
    assert cam.ListUsers(cam_models.ListUsersRequest()).Data is not None


def _signed_post(emu: RunningEmulator, host: str, service: str, action: str) -> dict[str, Any]:
    """A request signed for ``service`` and sent to ``host`` through the proxy, with the
    environment's proxy and CA bundle only (plain requests honours both)."""
    payload = b"{}"
    stamp = int(time.time())
    signed = sign(
        secret_id=emu.secret_id,
        secret_key=emu.secret_key,
        service=service,
        host=host,
        timestamp=stamp,
        payload=payload,
        content_type="application/json",
    )
    headers = {
        "Content-Type": "application/json",
        "X-TC-Action": action,
        "X-TC-Version": {"cam": "2019-01-16", "sts": "2018-08-13"}[service],
        "X-TC-Timestamp": str(stamp),
        "X-TC-Region": "ap-guangzhou",
        "Authorization": signed.authorization,
    }
    answer = requests.post(f"https://{host}/", data=payload, headers=headers, timeout=10)
    assert answer.status_code == 200
    response: dict[str, Any] = answer.json()["Response"]
    return response


def test_host_decides_the_service(proxy_env: RunningEmulator) -> None:
    emu = proxy_env
    ok = _signed_post(emu, "cam.tencentcloudapi.com", "cam", "ListUsers")
    assert "Error" not in ok
    # Signed for STS, sent to CAM: the plain port would route it to STS; a host does not.
    crossed = _signed_post(emu, "cam.tencentcloudapi.com", "sts", "GetCallerIdentity")
    assert crossed["Error"]["Code"] == "AuthFailure.InvalidAuthorization"
    other = _signed_post(emu, "cvm.tencentcloudapi.com", "cam", "ListUsers")
    assert other["Error"]["Code"] == "InvalidAction"
    assert "not emulated" in other["Error"]["Message"]


def test_other_hosts_are_refused_not_forwarded(proxy_env: RunningEmulator) -> None:
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        requests.get("https://example.com/", timeout=10)
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        requests.get("https://cam.tencentcloudapi.com:8443/", timeout=10)
    # A plain-HTTP proxy request is refused as well, even for an API name.
    for url in ("http://example.com/", "http://cam.tencentcloudapi.com/"):
        answer = requests.get(url, proxies={"http": proxy_env.proxy_url}, timeout=10)
        assert answer.status_code == 403
        assert "tencentcloudapi.com" in answer.text


def _https_pool(emu: RunningEmulator, name: str) -> urllib3.HTTPSConnectionPool:
    return urllib3.HTTPSConnectionPool(
        "127.0.0.1",
        emu.https_port,
        ca_certs=str(emu.ca_file),
        server_hostname=name,
        assert_hostname=name,
        retries=False,
        timeout=10,
    )


def test_https_listener_picks_the_certificate_by_sni(tls_emu: RunningEmulator) -> None:
    name = "sts.ap-shanghai.tencentcloudapi.com"
    with _https_pool(tls_emu, name) as pool:
        answer = pool.request("POST", "/", body=b"{}", headers={"Host": name})
    assert answer.status == 200
    assert json.loads(answer.data)["Response"]["Error"]["Code"] == "MissingParameter"
    # The admin plane and metadata stay on the plain port.
    with _https_pool(tls_emu, name) as pool:
        assert pool.request("GET", "/_emulator/state", headers={"Host": name}).status == 404
    with _https_pool(tls_emu, "example.com") as pool, pytest.raises(urllib3.exceptions.SSLError):
        pool.request("GET", "/", headers={"Host": "example.com"})


def test_leaf_certificates_chain_to_the_ca_and_name_their_host() -> None:
    authority = CertificateAuthority()
    leaf, _ = authority.leaf("cam.tencentcloudapi.com")
    leaf.verify_directly_issued_by(authority.certificate)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["cam.tencentcloudapi.com"]
    ca = x509.load_pem_x509_certificate(authority.pem)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # One context per host, made once.
    context = authority.context_for("cam.tencentcloudapi.com")
    assert authority.context_for("CAM.tencentcloudapi.com") is context
    assert authority.context_for("sts.tencentcloudapi.com") is not context
    assert isinstance(context, ssl.SSLContext)


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("cam.tencentcloudapi.com", "cam"),
        ("sts.tencentcloudapi.com:443", "sts"),
        ("sts.ap-guangzhou.tencentcloudapi.com", "sts"),
        ("sts.intl.tencentcloudapi.com", "sts"),
        ("sts.ap-singapore.intl.tencentcloudapi.com", "sts"),
        ("CAM.TencentCloudAPI.com", "cam"),
        ("127.0.0.1:9400", None),
        ("cam.tencentcloudapi.com.example.org", None),
        ("tencentcloudapi.com", None),
    ],
)
def test_service_of_host(host: str, service: str | None) -> None:
    assert service_of(host) == service


def test_command_line_writes_the_ca_before_serving_through_the_proxy(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    with emulator_process(
        "--proxy-port",
        "0",
        "--ca-file",
        str(ca_file),
        "--log-level",
        "WARNING",
        stop_with=signal.SIGINT,
    ) as running:
        proxy_url = running.line_matching(r"HTTPS_PROXY=(\S+)").group(1)
        assert ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        answer = requests.post(
            "https://sts.tencentcloudapi.com/",
            json={},
            proxies={"https": proxy_url},
            verify=str(ca_file),
            timeout=10,
        )
        assert answer.json()["Response"]["Error"]["Code"] == "MissingParameter"
