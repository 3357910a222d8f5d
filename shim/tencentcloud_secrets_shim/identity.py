"""The plugin's TLS key pair for go-plugin's AutoMTLS, made beside the start-up.

Making a certificate needs the ``cryptography`` package (``certificate``): 30 ms to import
and 8 MB resident for the life of the process, for something done once. So the launch starts
a short-lived child process that makes the key pair while this process imports its own
modules (two cores: the two overlap), and reads it from a pipe when it needs it. The key never
touches the disk. If the child cannot run, the key pair is made here instead. ``tls`` turns
it into ssl contexts.

Only the standard library's lighter modules are imported here: the launch imports this
module before the child starts.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

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
    """A key pair being made in a child process; ``wait`` returns it as PEMs."""

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

    def wait(self) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM)."""
        if self._child is not None:
            try:
                return _split(self._finish(self._child))
            except IdentityError as exc:
                log.warning("the certificate process failed; making it here", exc_info=exc)
        from .certificate import self_signed

        return self_signed()

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
