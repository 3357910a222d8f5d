"""The built executable on its own: go-plugin's launch contract, mTLS, and clean exits."""

from __future__ import annotations

import asyncio
import base64
import re
import signal
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from grpclib.client import Channel, UnaryUnaryMethod
from grpclib.config import Configuration
from grpclib.exceptions import StreamTerminatedError

from tencentcloud_secrets import PLUGIN_VERSION
from tencentcloud_secrets_shim._proto.goplugin import controller_pb2
from tencentcloud_secrets_shim._proto.goplugin.health_pb2 import (
    HealthCheckRequest,
    HealthCheckResponse,
)
from tencentcloud_secrets_shim._proto.vault import multiplexing_pb2
from tencentcloud_secrets_shim._proto.vault.logical import version_pb2
from tests.support.plugin_process import (
    COOKIE,
    HANDSHAKE,
    client_ssl,
    health,
    launch_environment,
    vault_like_identity,
    version,
    without_vault_variables,
)
from tools.vaultserver import PLUGIN_BIN


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLUGIN_BIN)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**without_vault_variables(), **env},
    )


def test_run_by_hand_prints_the_plugin_message(built: None) -> None:
    result = _run({})
    assert result.returncode != 0
    assert "This binary is a plugin" in result.stderr
    assert result.stdout == ""


def test_refuses_without_protocol_version_5(built: None) -> None:
    result = _run({**COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "4"})
    assert result.returncode != 0
    assert "protocol version 5" in result.stderr
    assert result.stdout == ""


@pytest.fixture
def launched(
    built: None, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str, Path, Path]]:
    cert_path, key_path, pem = vault_like_identity(tmp_path)
    env = {**without_vault_variables(), **launch_environment(pem)}
    proc = subprocess.Popen(
        [str(PLUGIN_BIN)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().rstrip("\n")
    try:
        yield proc, line, cert_path, key_path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_handshake_line_and_certificate(
    launched: tuple[subprocess.Popen[str], str, Path, Path],
) -> None:
    _, line, _, _ = launched
    match = HANDSHAKE.match(line)
    assert match, line
    assert Path(match["path"]).is_socket()
    der = base64.b64decode(match["cert"] + "=" * (-len(match["cert"]) % 4))
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]


def test_serves_grpc_over_mutual_tls(
    launched: tuple[subprocess.Popen[str], str, Path, Path],
) -> None:
    _, line, cert_path, key_path = launched
    match = HANDSHAKE.match(line)
    assert match

    async def talk() -> tuple[int, bool, str]:
        channel = Channel(
            path=match["path"],
            ssl=client_ssl(cert_path, key_path, match["cert"]),
            config=Configuration(ssl_target_name_override="localhost"),
        )
        try:
            checked = await health(channel)(HealthCheckRequest(service="plugin"))
            mux = await UnaryUnaryMethod(
                channel,
                "/pluginutil.multiplexing.PluginMultiplexing/MultiplexingSupport",
                multiplexing_pb2.MultiplexingSupportRequest,
                multiplexing_pb2.MultiplexingSupportResponse,
            )(multiplexing_pb2.MultiplexingSupportRequest())
            reply = await version(channel)(
                version_pb2.Empty(), metadata={"multiplex_id": "abcdefghij"}
            )
            return checked.status, mux.supported, reply.plugin_version
        finally:
            channel.close()

    status, supported, reported = asyncio.run(talk())
    assert status == HealthCheckResponse.SERVING
    assert supported is True
    assert reported == PLUGIN_VERSION


def test_refuses_a_client_without_vaults_certificate(
    launched: tuple[subprocess.Popen[str], str, Path, Path], tmp_path: Path
) -> None:
    _, line, _, _ = launched
    match = HANDSHAKE.match(line)
    assert match
    stranger_dir = tmp_path / "stranger"
    stranger_dir.mkdir()
    other_cert, other_key, _ = vault_like_identity(stranger_dir)

    async def talk() -> None:
        channel = Channel(
            path=match["path"],
            ssl=client_ssl(other_cert, other_key, match["cert"]),
            config=Configuration(ssl_target_name_override="localhost"),
        )
        try:
            await asyncio.wait_for(health(channel)(HealthCheckRequest(service="plugin")), 10)
        finally:
            channel.close()

    # TLS 1.3: the client's side of the handshake completes, then the server's alert
    # tears the connection down before any gRPC answer.
    with pytest.raises((ssl.SSLError, ConnectionError, StreamTerminatedError)):
        asyncio.run(talk())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_exit_on_signal(
    launched: tuple[subprocess.Popen[str], str, Path, Path], sig: signal.Signals
) -> None:
    proc, line, _, _ = launched
    match = HANDSHAKE.match(line)
    assert match
    proc.send_signal(sig)
    assert proc.wait(10) == 0
    assert not Path(match["path"]).exists()  # the socket and its directory are removed


def test_metadata_mode_serves_plaintext(built: None) -> None:
    env = {
        **without_vault_variables(),
        **COOKIE,
        "PLUGIN_PROTOCOL_VERSIONS": "5",
        "VAULT_PLUGIN_METADATA_MODE": "true",
    }
    proc = subprocess.Popen(
        [str(PLUGIN_BIN)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        match = re.match(r"^1\|5\|unix\|(?P<path>/[^|]+)\|grpc\|$", line)
        assert match, line  # no certificate: go-plugin then dials without TLS

        async def reported() -> str:
            channel = Channel(path=match["path"])
            try:
                reply = await version(channel)(
                    version_pb2.Empty(), metadata={"multiplex_id": "abcdefghij"}
                )
                return reply.plugin_version
            finally:
                channel.close()

        assert asyncio.run(reported()) == PLUGIN_VERSION
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_controller_shutdown_exits_cleanly(
    launched: tuple[subprocess.Popen[str], str, Path, Path],
) -> None:
    proc, line, cert_path, key_path = launched
    match = HANDSHAKE.match(line)
    assert match

    async def shutdown() -> None:
        channel = Channel(
            path=match["path"],
            ssl=client_ssl(cert_path, key_path, match["cert"]),
            config=Configuration(ssl_target_name_override="localhost"),
        )
        try:
            await UnaryUnaryMethod(
                channel,
                "/plugin.GRPCController/Shutdown",
                controller_pb2.Empty,
                controller_pb2.Empty,
            )(controller_pb2.Empty())
        finally:
            channel.close()

    asyncio.run(shutdown())
    assert proc.wait(10) == 0
    assert not Path(match["path"]).exists()
