"""Talking to a started plugin as Vault does: go-plugin's environment, the handshake line, and
gRPC over mutual TLS with a client certificate like Vault's."""

from __future__ import annotations

import base64
import os
import re
import ssl
from pathlib import Path

from grpclib.client import Channel, UnaryUnaryMethod

from tencentcloud_secrets_shim._proto.goplugin.health_pb2 import (
    HealthCheckRequest,
    HealthCheckResponse,
)
from tencentcloud_secrets_shim._proto.vault.logical import version_pb2
from tools.vaultserver import vault_like_certificate

COOKIE = {"VAULT_BACKEND_PLUGIN": "6669da05-b1c8-4f49-97d9-c8e5bed98e20"}
HANDSHAKE = re.compile(r"^1\|5\|unix\|(?P<path>/[^|]+)\|grpc\|(?P<cert>[A-Za-z0-9+/]+)$")


def health(channel: Channel) -> UnaryUnaryMethod[HealthCheckRequest, HealthCheckResponse]:
    return UnaryUnaryMethod(
        channel, "/grpc.health.v1.Health/Check", HealthCheckRequest, HealthCheckResponse
    )


def version(channel: Channel) -> UnaryUnaryMethod[version_pb2.Empty, version_pb2.VersionReply]:
    return UnaryUnaryMethod(
        channel, "/logical.PluginVersion/Version", version_pb2.Empty, version_pb2.VersionReply
    )


def vault_like_identity(tmp: Path) -> tuple[Path, Path, str]:
    """A P-521 client certificate like the one Vault's AutoMTLS makes, written to files."""
    cert_pem, key_pem = vault_like_certificate()
    cert_path, key_path = tmp / "client.pem", tmp / "client.key"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(key_pem)
    return cert_path, key_path, cert_pem.decode()


def launch_environment(client_pem: str) -> dict[str, str]:
    """What Vault's launcher sets for a v5 backend with AutoMTLS, and nothing of ours."""
    return {
        **COOKIE,
        "PLUGIN_PROTOCOL_VERSIONS": "5",
        "PLUGIN_CLIENT_CERT": client_pem,
        "VAULT_PLUGIN_AUTOMTLS_ENABLED": "true",
        "VAULT_PLUGIN_METADATA_MODE": "false",
    }


def without_vault_variables() -> dict[str, str]:
    """This process's environment without what would make a child think Vault launched it."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "PLUGIN_"))}


def client_ssl(cert_path: Path, key_path: Path, server_der_b64: str) -> ssl.SSLContext:
    """Vault's side of the connection: trust only the certificate of the handshake line."""
    der = base64.b64decode(server_der_b64 + "=" * (-len(server_der_b64) % 4))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(der))
    ctx.load_cert_chain(str(cert_path), str(key_path))
    ctx.set_alpn_protocols(["h2"])
    return ctx
