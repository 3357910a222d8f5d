"""Requests for the official Tencent Cloud SDK, filled from keyword fields by the SDK's own JSON
loader, so that a test names each parameter as the API reference spells it.

Imports only the standard library: the SDK's model classes come from the caller.
"""

from __future__ import annotations

import json
from typing import Any


def build(cls: Any, **fields: Any) -> Any:
    """An instance of the SDK request class ``cls`` with ``fields`` set."""
    request = cls()
    request.from_json_string(json.dumps(fields))
    return request
