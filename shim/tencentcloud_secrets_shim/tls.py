"""Mutual TLS for go-plugin's AutoMTLS.

Vault's certificates are ECDSA P-521, which grpcio's BoringSSL cannot use; Python's ssl
module (OpenSSL) can. Our own certificate is P-256: it only has to be one Vault trusts,
and Vault trusts exactly the certificate we put in the handshake line.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class PluginIdentity:
    """A fresh self-signed key pair per process. It never touches the disk: ``ssl`` loads
    keys only from paths, so it reads them from an anonymous in-memory file."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(seconds=30))
            .not_valid_after(now + dt.timedelta(days=365 * 30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def _load_into(self, ctx: ssl.SSLContext) -> None:
        cert_pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        key_pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.memfd_create("plugin-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, cert_pem + key_pem)
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
