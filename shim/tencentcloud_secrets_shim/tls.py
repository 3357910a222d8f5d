"""Mutual TLS for go-plugin's AutoMTLS: the plugin's key pair (``identity``) in ssl contexts.

Vault's certificates are ECDSA P-521, which grpcio's BoringSSL cannot use; Python's ssl
module (OpenSSL) can.
"""

from __future__ import annotations

import os
import ssl


class PluginIdentity:
    """A certificate and its key (PEM), loaded into ssl contexts from an anonymous in-memory
    file: ``ssl`` loads keys only from paths."""

    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        self._cert_pem = cert_pem
        self._key_pem = key_pem
        self.der = ssl.PEM_cert_to_DER_cert(cert_pem.decode())

    def __repr__(self) -> str:
        return "PluginIdentity(<certificate>, <key>)"

    def _load_into(self, ctx: ssl.SSLContext) -> None:
        fd = os.memfd_create("plugin-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, self._cert_pem + self._key_pem)
            ctx.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)

    def server_context(self, trusted_client_pem: bytes) -> ssl.SSLContext:
        """Serve TLS, require a client certificate, and trust only Vault's."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=trusted_client_pem.decode())
        ctx.set_alpn_protocols(["h2"])
        self._load_into(ctx)
        return ctx

    def client_context(self, trusted_server_pem: bytes) -> ssl.SSLContext:
        """Dial Vault's brokered server with our certificate, trusting only Vault's."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=trusted_server_pem.decode())
        ctx.set_alpn_protocols(["h2"])
        self._load_into(ctx)
        return ctx
