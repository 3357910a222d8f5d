"""TC3-HMAC-SHA256 verification with the emulator's own implementation (``tc3``).

Checks in the gateway's order: header shape (InvalidAuthorization), timestamp skew
(SignatureExpire), SecretId (SecretIdNotFound), signature (SignatureFailure), then the token of
temporary credentials (TokenFailure). Nothing here logs, and no error message carries a
signature or a key.
"""

from __future__ import annotations

import dataclasses
import hmac
import time
from collections.abc import Mapping

from . import exceptions, tc3
from .tc3 import Authorization, parse_authorization
from .world import Principal, World

MAX_SKEW_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that a signature may cover (header names lowercased)."""

    method: str
    query: str
    # Authorization, X-TC-Token and a body that may hold a password: never in a repr.
    headers: Mapping[str, str] = dataclasses.field(repr=False)
    body: bytes = dataclasses.field(repr=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def verify(
    world: World, request: SignedRequest, authorization: Authorization, now: float | None = None
) -> Principal:
    """Authenticate one signed request and return its caller."""
    stamp = request.header("x-tc-timestamp") or ""
    if not stamp.isdigit():
        raise exceptions.missing_parameter("X-TC-Timestamp")
    timestamp = int(stamp)
    wall = time.time() if now is None else now
    if abs(wall - timestamp) > MAX_SKEW_SECONDS:
        raise exceptions.signature_expire()
    credential = world.credential(authorization.secret_id)
    if authorization.date != tc3.scope_date(timestamp):
        raise exceptions.signature_failure()
    unsigned = request.header("x-tc-content-sha256") == tc3.UNSIGNED_PAYLOAD
    canonical = tc3.canonical_request(
        method=request.method,
        query=request.query,
        headers=request.headers,
        signed_headers=authorization.signed_headers,
        hashed_payload=tc3.payload_hash(request.body, unsigned=unsigned),
    )
    expected = tc3.signature(
        secret_key=credential.secret_key,
        service=authorization.service,
        timestamp=timestamp,
        canonical=canonical,
    )
    if not hmac.compare_digest(expected, authorization.signature):
        raise exceptions.signature_failure()
    world.check_token(credential.principal, request.header("x-tc-token"))
    return credential.principal


__all__ = ["Authorization", "SignedRequest", "parse_authorization", "verify"]
