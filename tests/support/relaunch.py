"""Reading through Vault right after its plugin process was killed."""

from __future__ import annotations

import time
from typing import Any

import hvac


def read_once_relaunched(client: hvac.Client, path: str, timeout: float = 30) -> Any:
    """Read ``path`` until Vault has relaunched a killed plugin, and return what it read.

    Vault relaunches only once go-plugin has reaped the old process; a request that arrives in
    the few milliseconds before that still dials the dead socket and gets "connection
    refused". Anything else is a real failure and is raised at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.read(path)
        except hvac.exceptions.InternalServerError as exc:
            if "connection refused" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
