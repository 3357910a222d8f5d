"""The plugin executable's entry: check how Vault launched us, start making the TLS identity,
then load the server.

Kept to the standard library so that the identity's child process (``identity``) runs while
this process imports gRPC, protobuf and the rest: go-plugin waits for the handshake line.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from .handshake import HandshakeError, read_environment
from .identity import PendingIdentity

if TYPE_CHECKING:
    from .backend import BackendFactory


def serve(factory: BackendFactory, version: str, *, log_level: int = logging.INFO) -> int:
    """Serve until Vault lets go, then end the process (it returns only the exit code of a
    launch that failed before serving)."""
    try:
        env = read_environment()
    except HandshakeError as exc:
        sys.stderr.write(str(exc))
        return 1
    identity = PendingIdentity() if env.automtls and not env.metadata_mode else None
    from .server import run

    return run(env, factory, version, identity, log_level=log_level)
