"""Credential sources: order, environment, instance role metadata and its refresh."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tencentcloud_secrets.tencentcloud import (
    CredentialChain,
    Credentials,
    CredentialsError,
    EnvironmentProvider,
    InstanceRoleProvider,
    default_chain,
    region_from_environment,
)

ENV = {
    "TENCENTCLOUD_SECRET_ID": "AKIDenv",
    "TENCENTCLOUD_SECRET_KEY": "env-secret",
    "TENCENTCLOUD_SECURITY_TOKEN": "env-token",
    "TENCENTCLOUD_REGION": "ap-shanghai",
}


class Metadata:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.generation = 0
        self.expires = 0
        self.fail = False


@pytest.fixture
def metadata() -> Iterator[tuple[Metadata, str]]:
    state = Metadata()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            prefix = "/latest/meta-data/cam/security-credentials/"
            if state.fail:
                body, status = b"down", 503
            elif self.path == prefix:
                body, status = b"app-role", 200
            elif self.path == prefix + "app-role":
                state.generation += 1
                doc = {
                    "TmpSecretId": f"AKIDrole{state.generation}",
                    "TmpSecretKey": f"role-secret-{state.generation}",
                    "Token": f"role-token-{state.generation}",
                    "ExpiredTime": state.expires,
                    "Expiration": "2030-01-01T00:00:00Z",
                    "Code": "Success",
                }
                body, status = json.dumps(doc).encode(), 200
            else:
                body, status = b"not found", 404
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/latest/meta-data/cam/security-credentials/"
    try:
        yield state, url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_mount_keys_always_win(metadata: tuple[Metadata, str]) -> None:
    state, url = metadata
    mount = Credentials("AKIDmount", "mount-secret")
    chain = default_chain(mount, environ=ENV, metadata_url=url)
    assert chain.require() == mount
    assert state.hits == []


def test_environment_before_instance_role(metadata: tuple[Metadata, str]) -> None:
    state, url = metadata
    creds = default_chain(None, environ=ENV, metadata_url=url).require()
    assert (creds.secret_id, creds.secret_key, creds.token) == (
        "AKIDenv",
        "env-secret",
        "env-token",
    )
    assert creds.source == "environment"
    assert state.hits == []


def test_incomplete_environment_is_skipped() -> None:
    assert EnvironmentProvider({"TENCENTCLOUD_SECRET_ID": "AKIDonly"}).get() is None


def test_instance_role_and_refresh(metadata: tuple[Metadata, str]) -> None:
    state, url = metadata
    clock = [1_000_000.0]
    state.expires = 1_000_000 + 3600
    provider = InstanceRoleProvider(url=url, refresh_margin=600, now=lambda: clock[0])
    chain = CredentialChain([EnvironmentProvider({}), provider])
    first = chain.require()
    assert (first.secret_id, first.token, first.source) == (
        "AKIDrole1",
        "role-token-1",
        "instance-role",
    )
    clock[0] += 1000  # well before expiry: cached
    assert chain.require() is first
    assert len(state.hits) == 2
    clock[0] += 2100  # inside the refresh margin
    state.expires = int(clock[0]) + 3600
    second = chain.require()
    assert second.secret_id == "AKIDrole2"


def test_metadata_outage_keeps_unexpired_keys(metadata: tuple[Metadata, str]) -> None:
    state, url = metadata
    clock = [0.0]
    state.expires = 3600
    provider = InstanceRoleProvider(url=url, refresh_margin=600, now=lambda: clock[0])
    first = provider.get()
    state.fail = True
    clock[0] = 3100  # stale but not expired
    assert provider.get() is first
    clock[0] = 3700  # expired and cannot refresh
    assert provider.get() is None


def test_no_source_at_all_is_a_credentials_error() -> None:
    url = "http://127.0.0.1:9/latest/meta-data/cam/security-credentials/"
    with pytest.raises(CredentialsError) as info:
        default_chain(None, environ={}, metadata_url=url).require()
    assert "TENCENTCLOUD_SECRET_ID" in str(info.value)


def test_region_order() -> None:
    assert region_from_environment("ap-beijing", ENV) == "ap-beijing"
    assert region_from_environment(None, ENV) == "ap-shanghai"
    assert region_from_environment(None, {}) is None


def test_repr_hides_secret_and_token() -> None:
    creds = Credentials("AKIDvisible", "very-secret-key", "very-secret-token")
    for text in (repr(creds), str(creds), f"{creds}"):
        assert "very-secret" not in text
        assert "AKIDvisible" in text
