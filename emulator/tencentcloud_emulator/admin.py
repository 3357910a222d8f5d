"""The admin plane under ``/_emulator/``, outside the Tencent API path space (which is ``/``).

    GET  /_emulator/health             liveness
    GET  /_emulator/state              accounts, users, key ids, policies, groups, roles, sessions
    POST /_emulator/reset              back to the seed; clears log, counters, runtime faults
    POST /_emulator/seed               body: a seed (YAML or JSON); replaces seed and state
    GET  /_emulator/faults             current fault configuration with rule counters
    PUT  /_emulator/faults             body: a fault configuration (JSON or YAML)
    PUT  /_emulator/quotas             body: {"sub_users": 3, ...}
    POST /_emulator/clock              body: {"advance": seconds}
    GET  /_emulator/requests[?action=] the request log (secrets redacted)
    DELETE /_emulator/requests         clear the log and counters
    GET  /_emulator/counters           calls and outcome codes per action

No endpoint returns a secret key, a temporary key or a token.

POST and PUT need ``Content-Type: application/json`` (or a YAML type): a web page may send a
cross-origin POST without asking first only with a form or text type, so this keeps any page
the developer visits from resetting, reseeding or moving the clock. DELETE needs nothing: a
browser always asks first (a CORS preflight), and the emulator never says yes. Which hosts may
reach the plane at all is the handler's check (``hosts.is_loopback``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import yaml

from .core import Emulator
from .faults import ConfigError
from .seed import SeedError

PREFIX = "/_emulator/"
# Not one of the Fetch standard's CORS-safelisted types (form, multipart, text/plain), so a
# browser sends none of these cross-origin without a preflight.
WRITE_TYPES = frozenset(
    {"application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
)
_CHECKED_METHODS = frozenset({"POST", "PUT"})


def write_refusal(method: str, content_type: str | None) -> str | None:
    """Why an admin request is refused for its content type, or None."""
    if method not in _CHECKED_METHODS:
        return None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in WRITE_TYPES:
        return None
    return (
        f"admin {method} requests need Content-Type: application/json (or a YAML type), "
        f"got {media_type or 'none'}: a web page cannot send those without asking first"
    )


def _body(data: bytes) -> Any:
    text = data.decode("utf-8")
    return yaml.safe_load(text) if text.strip() else {}


def handle(emulator: Emulator, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
    route = path[len(PREFIX) :].strip("/")
    try:
        return _route(emulator, method, route, query, body)
    except (ConfigError, SeedError, ValueError, TypeError, yaml.YAMLError) as err:
        return 400, {"error": str(err)}


def _route(emulator: Emulator, method: str, route: str, query: str, body: bytes) -> tuple[int, Any]:
    if (method, route) == ("GET", "health"):
        return 200, {"ok": True}
    if (method, route) == ("GET", "state"):
        return 200, emulator.state()
    if (method, route) == ("POST", "reset"):
        emulator.reset()
        return 200, {"ok": True}
    if (method, route) == ("POST", "seed"):
        data = _body(body)
        if not isinstance(data, dict):
            raise ValueError("the seed must be a mapping")
        emulator.load_seed(data)
        return 200, {"ok": True}
    if route == "faults" and method == "GET":
        return 200, emulator.fault_config()
    if route == "faults" and method == "PUT":
        config = _body(body)
        if not isinstance(config, dict):
            raise ValueError("the fault configuration must be a mapping")
        emulator.set_faults(config)
        return 200, emulator.fault_config()
    if (method, route) == ("PUT", "quotas"):
        emulator.set_quotas(_body(body))
        return 200, emulator.state()["quotas"]
    if (method, route) == ("POST", "clock"):
        offset = emulator.advance_clock(float(_body(body).get("advance", 0)))
        return 200, {"clock_offset": offset}
    if route == "requests" and method == "GET":
        action = urllib.parse.parse_qs(query).get("action", [None])[0]
        return 200, [e.to_dict() for e in emulator.requests.entries(action)]
    if route == "requests" and method == "DELETE":
        emulator.requests.clear()
        return 200, {"ok": True}
    if (method, route) == ("GET", "counters"):
        return 200, emulator.requests.counters()
    return 404, {"error": f"no admin endpoint {method} {PREFIX}{route}"}
