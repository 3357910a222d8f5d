"""The plugin's TLS identity for go-plugin's AutoMTLS, made beside the start-up.

Making a certificate needs the ``cryptography`` package (``certificate``): 30 ms to import
and 8 MB resident for the life of the process, for something done once. So the launch starts
a short-lived child process that makes the key pair while this process imports its own
modules (two cores: the two overlap), and reads it from a pipe when it needs it. The key never
touches the disk. If the child cannot run, the key pair is made here instead.

``PluginIdentity`` turns the PEMs into the ssl contexts the gRPC server and the broker
client use: the server requires a client certificate and trusts only Vault's, the client
trusts only Vault's brokered server.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

CHILD_TIMEOUT = 30.0
_KEY_MARKER = b"-----BEGIN PRIVATE KEY-----"
# The child gets, as argv, where this package lives (an editable install finds it through a
# .pth hook that -S skips) and this process's import path (the zipapp's site-packages).
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHILD_CODE = (
    "import sys; sys.path[:] = sys.argv[1:]; "
    "from tencentcloud_secrets_shim.certificate import main; main()"
)


class IdentityError(Exception):
    """The child process did not produce a key pair."""


class PendingIdentity:
    """A key pair being made in a child process; ``wait`` returns it."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-sSE", "-c", _CHILD_CODE, _PACKAGE_ROOT, *sys.path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=True,
            )
        except OSError as exc:
            log.warning("cannot start the certificate process; making it here", exc_info=exc)

    def wait(self) -> PluginIdentity:
        if self._child is not None:
            try:
                return PluginIdentity(*_split(self._finish(self._child)))
            except IdentityError as exc:
                log.warning("the certificate process failed; making it here", exc_info=exc)
        from .certificate import self_signed

        return PluginIdentity(*self_signed())

    @staticmethod
    def _finish(child: subprocess.Popen[bytes]) -> bytes:
        try:
            out, err = child.communicate(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise IdentityError("no key pair in time") from None
        if child.returncode != 0:
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise IdentityError(f"exit status {child.returncode}: {last[0]}")
        return out


def _split(out: bytes) -> tuple[bytes, bytes]:
    at = out.find(_KEY_MARKER)
    if at <= 0:
        raise IdentityError("the output is not a certificate followed by a key")
    return out[:at], out[at:]


class PluginIdentity:
    """A certificate and its key (PEM), loaded into ssl contexts from an anonymous in-memory
    file: ``ssl`` loads keys only from paths."""

    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        import ssl  # here, not at the top: the launch imports this module before the child starts

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
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=trusted_client_pem.decode())
        ctx.set_alpn_protocols(["h2"])
        self._load_into(ctx)
        return ctx

    def client_context(self, trusted_server_pem: bytes) -> ssl.SSLContext:
        """Dial Vault's brokered server with our certificate, trusting only Vault's."""
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=trusted_server_pem.decode())
        ctx.set_alpn_protocols(["h2"])
        self._load_into(ctx)
        return ctx
