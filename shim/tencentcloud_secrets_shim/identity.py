"""The plugin's TLS key pair for go-plugin's AutoMTLS, made beside the start-up.

Making a certificate needs the ``cryptography`` package (``certificate``), whose import costs
start-up time and stays resident for the life of the process, for something done once
(docs/shim.md has the figures). So the launch forks
a short-lived child that makes the key pair while this process imports its own modules (two
cores: the two overlap), and reads it from a pipe when it needs it. The key never touches the
disk, and the long-lived process never loads ``cryptography``. If the child cannot be made or
fails, the key pair is made here instead. ``tls`` turns it into ssl contexts.

A fork rather than a new interpreter: the child needs no start of its own (in the release
file a start copies and loads the runtime again), and nothing to find the package with. The
fork happens before this process has started any thread, and the child only computes, writes
to its pipe and leaves with ``os._exit``.

Only the standard library's lighter modules are imported here: the launch imports this
module before the child starts.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import time

log = logging.getLogger(__name__)

CHILD_TIMEOUT = 30.0
_KEY_MARKER = b"-----BEGIN PRIVATE KEY-----"


class IdentityError(Exception):
    """The child process did not produce a key pair."""


def _child(write_end: int) -> None:
    """The forked child: the key pair on the pipe, certificate first, then exit at once (no
    cleanup of what belongs to the parent: its buffers, its atexit handlers)."""
    status = 1
    try:
        from .certificate import self_signed

        cert_pem, key_pem = self_signed()
        view = memoryview(cert_pem + key_pem)
        while view:
            view = view[os.write(write_end, view) :]
        status = 0
    finally:
        os._exit(status)


class PendingIdentity:
    """A key pair being made in a child process; ``wait`` returns it as PEMs."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._read_end: int | None = None
        try:
            read_end, write_end = os.pipe()
        except OSError as exc:
            log.warning("cannot start the certificate process; making it here", exc_info=exc)
            return
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read_end)
            os.close(write_end)
            log.warning("cannot start the certificate process; making it here", exc_info=exc)
            return
        if pid == 0:
            os.close(read_end)
            _child(write_end)
        os.close(write_end)
        self._pid, self._read_end = pid, read_end

    def wait(self) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM)."""
        if self._pid is not None and self._read_end is not None:
            try:
                return _split(self._finish(self._pid, self._read_end))
            except IdentityError as exc:
                log.warning("the certificate process failed; making it here", exc_info=exc)
            finally:
                self._pid = self._read_end = None
        from .certificate import self_signed

        return self_signed()

    @staticmethod
    def _finish(pid: int, read_end: int) -> bytes:
        """Everything the child wrote, once it closed the pipe; then its exit status."""
        chunks = []
        deadline = time.monotonic() + CHILD_TIMEOUT
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_end], [], [], left)[0]:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    raise IdentityError("no key pair in time")
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(read_end)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise IdentityError(f"exit status {code}")
        return b"".join(chunks)


def _split(out: bytes) -> tuple[bytes, bytes]:
    at = out.find(_KEY_MARKER)
    if at <= 0:
        raise IdentityError("the output is not a certificate followed by a key")
    return out[:at], out[at:]
