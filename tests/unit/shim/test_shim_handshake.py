"""go-plugin's launch environment and handshake line."""

from __future__ import annotations

import base64
import os
import socket
import stat
from pathlib import Path

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


def test_socket_dir_falls_back_like_go() -> None:
    """Without PLUGIN_UNIX_SOCKET_DIR the socket goes where Go's os.TempDir() points."""
    base = {**COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "5"}
    assert handshake.read_environment({**base, "TMPDIR": "/var/x"}).socket_dir == "/var/x"
    assert handshake.read_environment(base).socket_dir == "/tmp"


def test_socket_dir_is_private_fresh_and_removed(tmp_path: Path) -> None:
    first = handshake.make_socket_dir(str(tmp_path))
    second = handshake.make_socket_dir(str(tmp_path))
    assert first != second
    assert os.path.dirname(first) == str(tmp_path)
    assert os.path.basename(first).startswith("plugin")
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o700
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(os.path.join(first, "plugin.sock"))
    listener.close()
    handshake.remove_socket_dir(first)
    handshake.remove_socket_dir(first)  # gone already: nothing to do, no error
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(second)]


def test_handshake_line_has_unpadded_base64_certificate() -> None:
    der = b"\x30\x82\x01"  # 3 bytes: no padding needed; 4 bytes would need "=="
    line = handshake.handshake_line("/tmp/x/plugin.sock", der + b"\x00")
    parts = line.split("|")
    assert parts[:5] == ["1", "5", "unix", "/tmp/x/plugin.sock", "grpc"]
    assert "=" not in parts[5]
    assert base64.b64decode(parts[5] + "==") == der + b"\x00"
    assert handshake.handshake_line("/s", None).endswith("|grpc|")
