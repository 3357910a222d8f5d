"""go-plugin's launch contract: the environment Vault sets and the one line we answer.

Nothing here may write to stdout except ``write_handshake``: go-plugin reads the first
line of stdout as the handshake, and anything before it breaks the launch.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import secrets
import sys
from collections.abc import Mapping

MAGIC_COOKIE_KEY = "VAULT_BACKEND_PLUGIN"
MAGIC_COOKIE_VALUE = "6669da05-b1c8-4f49-97d9-c8e5bed98e20"
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 5  # Vault's backend protocol v5 (gRPC)

NOT_A_PLUGIN_MESSAGE = (
    "This binary is a plugin. These are not meant to be executed directly.\n"
    "Please execute the program that consumes these plugins, which will\n"
    "load any plugins automatically\n"
)


class HandshakeError(Exception):
    """Vault did not launch us the way go-plugin requires; the message says how."""


@dataclasses.dataclass(frozen=True)
class LaunchEnvironment:
    """What Vault told us about this launch."""

    client_cert_pem: bytes | None
    metadata_mode: bool
    socket_dir: str
    vault_version: str

    @property
    def automtls(self) -> bool:
        return self.client_cert_pem is not None


def read_environment(env: Mapping[str, str] | None = None) -> LaunchEnvironment:
    """Check the cookie and the protocol version; raise HandshakeError when unusable."""
    env = os.environ if env is None else env
    if env.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise HandshakeError(NOT_A_PLUGIN_MESSAGE)
    offered = [v.strip() for v in env.get("PLUGIN_PROTOCOL_VERSIONS", "").split(",") if v.strip()]
    if str(APP_PROTOCOL_VERSION) not in offered:
        raise HandshakeError(
            f"this plugin speaks backend protocol version {APP_PROTOCOL_VERSION}; "
            f"Vault offered {offered or 'none'}\n"
        )
    cert = env.get("PLUGIN_CLIENT_CERT")
    return LaunchEnvironment(
        client_cert_pem=cert.encode() if cert else None,
        metadata_mode=env.get("VAULT_PLUGIN_METADATA_MODE", "").lower() == "true",
        # Where go-plugin puts a plugin's socket: the directory Vault names, else Go's
        # os.TempDir() ($TMPDIR, else /tmp). make_socket_dir makes a private one inside.
        socket_dir=env.get("PLUGIN_UNIX_SOCKET_DIR") or env.get("TMPDIR") or "/tmp",  # noqa: S108
        vault_version=env.get("VAULT_VERSION", ""),
    )


def handshake_line(socket_path: str, server_cert_der: bytes | None) -> str:
    """``core|app|network|address|protocol|cert``: the cert is unpadded standard base64."""
    cert = base64.b64encode(server_cert_der).decode().rstrip("=") if server_cert_der else ""
    return f"{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{socket_path}|grpc|{cert}"


def make_socket_dir(parent: str) -> str:
    """A new directory of our own (mode 0700) under ``parent`` for the plugin's socket.

    Written here rather than with ``tempfile``, which with ``shutil`` and the compression
    modules they load would cost the long-lived process over half a megabyte.
    """
    for _ in range(100):
        path = os.path.join(parent, f"plugin{secrets.token_hex(6)}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free directory name for the plugin's socket in {parent}")


def remove_socket_dir(path: str) -> None:
    """Remove the socket directory and what is in it (the socket); best effort at exit."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(path, name))
    with contextlib.suppress(OSError):
        os.rmdir(path)


def write_handshake(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
