"""The plugin's self-signed certificate and key, for go-plugin's AutoMTLS.

This is the only module that needs the ``cryptography`` package, whose libraries cost
megabytes of memory and tens of milliseconds to import (docs/shim.md has the figures).
``identity`` runs it in a short-lived child process while the plugin imports everything else,
so the long-lived plugin process never loads it.

Our certificate is P-256 (Vault's own are P-521, which Python's ssl module handles): it only
has to be one Vault trusts, and Vault trusts exactly the certificate we put in the handshake
line.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def self_signed(
    curve: ec.EllipticCurve | None = None,
    digest: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
    lifetime: dt.timedelta = dt.timedelta(days=365 * 30),
) -> tuple[bytes, bytes]:
    """A fresh key pair and a certificate for it: (certificate PEM, PKCS#8 key PEM). P-256 and
    SHA-256 unless told otherwise (the tests make Vault's side, P-521 and SHA-512, with this
    too); CN and SAN ``localhost``, a CA, for client and server authentication."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(seconds=30))
        .not_valid_after(now + lifetime)
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
        .sign(key, digest or hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem
