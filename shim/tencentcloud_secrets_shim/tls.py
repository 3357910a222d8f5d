"""Mutual TLS for go-plugin's AutoMTLS: the plugin's key pair (``identity``) in ssl contexts.

Vault's certificates are ECDSA P-521, which grpcio's BoringSSL cannot use; Python's ssl
module (OpenSSL) can.
"""

from __future__ import annotations

import os
import ssl


class PluginIdentity:
    """A certificate and its key (PEM), loaded into ssl contexts without touching the disk:
    ``ssl`` loads keys only from paths, so the path is an anonymous in-memory file's, or where
    the interpreter has no ``os.memfd_create`` (one built against a C library older than
    2.27, as the release file's is) a pipe's."""

    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        self._cert_pem = cert_pem
        self._key_pem = key_pem
        self.der = ssl.PEM_cert_to_DER_cert(cert_pem.decode())

    def __repr__(self) -> str:
        return "PluginIdentity(<certificate>, <key>)"

    def _load_into(self, ctx: ssl.SSLContext) -> None:
        if not hasattr(os, "memfd_create"):
            self._load_through_pipes(ctx)
            return
        fd = os.memfd_create("plugin-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, self._cert_pem + self._key_pem)
            ctx.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)

    def _load_through_pipes(self, ctx: ssl.SSLContext) -> None:
        """One pipe for the certificate and one for the key, each read once by OpenSSL through
        /proc/self/fd (a PEM is a few kB; a pipe holds 64 kB, so the writes never block)."""
        opened: list[int] = []
        try:
            paths = []
            for pem in (self._cert_pem, self._key_pem):
                read_end, write_end = os.pipe()
                opened += [read_end, write_end]
                os.write(write_end, pem)
                os.close(write_end)
                opened.remove(write_end)
                paths.append(f"/proc/self/fd/{read_end}")
            ctx.load_cert_chain(paths[0], paths[1])
        finally:
            for fd in opened:
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
