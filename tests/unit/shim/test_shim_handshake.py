"""go-plugin's launch environment and handshake line."""

from __future__ import annotations

import base64

import pytest

from tencentcloud_secrets_shim import handshake

COOKIE = {handshake.MAGIC_COOKIE_KEY: handshake.MAGIC_COOKIE_VALUE}


def test_missing_or_wrong_cookie_is_refused() -> None:
    for env in ({}, {handshake.MAGIC_COOKIE_KEY: "nope"}):
        with pytest.raises(handshake.HandshakeError, match="This binary is a plugin"):
            handshake.read_environment(env)


@pytest.mark.parametrize("offered", ["", "4", "3,4", "6"])
def test_protocol_version_5_is_required(offered: str) -> None:
    with pytest.raises(handshake.HandshakeError, match="version 5"):
        handshake.read_environment({**COOKIE, "PLUGIN_PROTOCOL_VERSIONS": offered})


def test_environment_is_read() -> None:
    env = handshake.read_environment(
        {
            **COOKIE,
            "PLUGIN_PROTOCOL_VERSIONS": "4,5",
            "PLUGIN_CLIENT_CERT": "PEM",
            "VAULT_PLUGIN_METADATA_MODE": "true",
            "PLUGIN_UNIX_SOCKET_DIR": "/run/x",
            "VAULT_VERSION": "1.21.2",
        }
    )
    assert env.automtls
    assert env.client_cert_pem == b"PEM"
    assert env.metadata_mode
    assert env.socket_dir == "/run/x"
    assert env.vault_version == "1.21.2"


def test_handshake_line_has_unpadded_base64_certificate() -> None:
    der = b"\x30\x82\x01"  # 3 bytes: no padding needed; 4 bytes would need "=="
    line = handshake.handshake_line("/tmp/x/plugin.sock", der + b"\x00")
    parts = line.split("|")
    assert parts[:5] == ["1", "5", "unix", "/tmp/x/plugin.sock", "grpc"]
    assert "=" not in parts[5]
    assert base64.b64decode(parts[5] + "==") == der + b"\x00"
    assert handshake.handshake_line("/s", None).endswith("|grpc|")
