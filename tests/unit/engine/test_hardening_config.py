"""``config`` refuses endpoints that would carry signed requests off the machine in clear
text, malformed URLs, odd regions and malformed keys, with a 400 naming the field, and a
refused write changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tencentcloud_secrets.clients import client_from_config
from tencentcloud_secrets.paths.config import MountConfig, write_config
from tencentcloud_secrets_shim import logical
from tests.unit.engine.support import Mount, data_of, error_of

GOOD: dict[str, Any] = {
    "secret_id": "AKIDgood",
    "secret_key": "hush",
    "region": "ap-beijing",
    "cam_endpoint": "https://cam.example.com",
    "sts_endpoint": "http://127.0.0.1:9400",
}


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"cam_endpoint": "http://cam.example.com"}, "cam_endpoint: plain http is allowed only"),
        ({"sts_endpoint": "http://10.0.0.5:9400"}, "sts_endpoint: plain http is allowed only"),
        ({"cam_endpoint": "http://127.0.0.1.evil.com"}, "cam_endpoint: plain http"),
        ({"cam_endpoint": "https://user:pw@cam.example.com"}, "cam_endpoint must be a URL"),
        ({"cam_endpoint": "https://cam.example.com/api"}, "must not have a path"),
        ({"cam_endpoint": "https://cam.example.com/?a=1"}, "must not carry user info, a query"),
        ({"cam_endpoint": "https://cam.example.com#x"}, "must not carry user info, a query"),
        ({"cam_endpoint": "http://127.0.0.1\n.evil.com"}, "printable ASCII characters"),
        ({"cam_endpoint": "https://cam.example.com:99999"}, "port must be a number"),
        ({"cam_endpoint": "https://cam.example.com:0"}, "port must be a number"),
        ({"cam_endpoint": "https://"}, "it needs a host"),
        ({"cam_endpoint": "https://cam_ex!.com"}, "DNS name or an IP address"),
        ({"cam_endpoint": "ftp://cam.example.com"}, "scheme must be http or https"),
        ({"sts_endpoint": "https://" + "a" * 5000}, "longer than 300 characters"),
        ({"region": "../../etc"}, "region must be 1 to 64 characters of lowercase"),
        ({"region": "ap-beijing\r\nX-Evil: 1"}, "region must be"),
        ({"region": "AP-BEIJING"}, "region must be"),
        ({"secret_id": "AKID x", "secret_key": "k"}, "secret_id must be 1 to 128 printable"),
        ({"secret_id": "AKID/x", "secret_key": "k"}, "secret_id must be"),
        ({"secret_id": "AKIDx", "secret_key": "hush\n"}, "secret_key must be at most 256"),
        ({"allow_insecure_endpoints": True, "cam_endpoint": "http://u@h"}, "user info"),
    ],
)
def test_a_refused_write_names_the_field_and_changes_nothing(
    mount: Mount, data: dict[str, Any], rule: str
) -> None:
    assert mount("update", "config", **GOOD) is None
    before_read = data_of(mount("read", "config"))
    before_stored = mount.stored("config")
    message = error_of(mount("update", "config", **data))
    assert rule in message
    assert len(message) < 400
    assert "hush" not in message
    assert data_of(mount("read", "config")) == before_read
    assert mount.stored("config") == before_stored


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9400",
        "http://127.8.9.10",
        "http://localhost:8080",
        "http://[::1]:9400",
        "https://cam.example.com:8443",
        "cam.example.com",
    ],
)
def test_loopback_http_and_any_https_are_accepted(mount: Mount, url: str) -> None:
    assert mount("update", "config", cam_endpoint=url) is None
    assert data_of(mount("read", "config"))["cam_endpoint"] == url


def test_remote_http_needs_the_explicit_opt_in(mount: Mount) -> None:
    refused = error_of(mount("update", "config", cam_endpoint="http://cam.example.com:9400"))
    assert "allow_insecure_endpoints=true" in refused
    assert mount.stored("config") is None
    assert (
        mount(
            "update",
            "config",
            cam_endpoint="http://cam.example.com:9400",
            allow_insecure_endpoints=True,
        )
        is None
    )
    view = data_of(mount("read", "config"))
    assert (view["cam_endpoint"], view["allow_insecure_endpoints"]) == (
        "http://cam.example.com:9400",
        True,
    )
    # Withdrawing the consent while such an endpoint is configured is refused, not ignored.
    message = error_of(mount("update", "config", allow_insecure_endpoints=False))
    assert message.startswith("cam_endpoint: plain http is allowed only for loopback hosts")
    assert data_of(mount("read", "config"))["allow_insecure_endpoints"] is True


def test_a_stored_insecure_endpoint_is_never_used(mount: Mount) -> None:
    """A configuration written by an older version is checked again when the client is built,
    before any request is signed: a 400 that says to rewrite the config."""
    old = MountConfig(secret_id="AKIDx", secret_key="hush", sts_endpoint="http://192.0.2.1:9")
    with pytest.raises(logical.InvalidRequest, match="sts_endpoint: plain http"):
        client_from_config(old, environ={})
    write_config(mount.storage, old)
    with pytest.raises(logical.InvalidRequest, match="write config again"):
        mount.backend.client(mount.storage)
    consented = MountConfig(sts_endpoint="http://192.0.2.1:9", allow_insecure_endpoints=True)
    client_from_config(consented, environ={}).close()
