"""Web identity tokens (HS256 JWTs) for the emulator's demo identity provider: the ones it
accepts, and, with other claims or another key, the ones it must refuse.

Imports only the standard library and the seed's names, so that the emulator's own tests can
use it too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from tests.support.seed import OIDC_AUDIENCE, OIDC_SECRET


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_jwt(claims: Mapping[str, Any], secret: str = OIDC_SECRET) -> str:
    """A JWT of exactly these claims, signed HS256 with ``secret``."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(dict(claims)).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def web_identity_token(subject: str, audience: str = OIDC_AUDIENCE) -> str:
    """A token the demo identity provider accepts for the next hour."""
    return signed_jwt({"sub": subject, "aud": audience, "exp": int(time.time()) + 3600})
