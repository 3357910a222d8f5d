"""The executable Vault launches: hand the engine to the shim and exit with its code."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from tencentcloud_secrets import PLUGIN_VERSION
from tencentcloud_secrets_shim import serve

if TYPE_CHECKING:  # loaded by the server anyway, after the certificate's child has started
    from tencentcloud_secrets_shim import logical

LOG_LEVEL_ENV = "TENCENTCLOUD_PLUGIN_LOG_LEVEL"


def _log_level() -> int:
    name = os.environ.get(LOG_LEVEL_ENV, "info").upper()
    level = logging.getLevelName("WARNING" if name == "WARN" else name)
    return level if isinstance(level, int) else logging.INFO


def _new_backend() -> logical.Backend:
    # Imported on the first Setup, not before the handshake: go-plugin waits for the
    # handshake line, and the engine's modules are a fifth of the start-up time.
    from tencentcloud_secrets.backend import new_backend

    return new_backend()


def main() -> int:
    if sys.argv[1:] in (["--version"], ["version"]):
        print(PLUGIN_VERSION)
        return 0
    return serve(_new_backend, PLUGIN_VERSION, log_level=_log_level())


if __name__ == "__main__":
    sys.exit(main())
