"""TC3-HMAC-SHA256 verification, by re-signing the request with the project's signer.

Checks in the gateway's order: header shape (InvalidAuthorization), timestamp skew
(SignatureExpire), SecretId (SecretIdNotFound), signature (SignatureFailure), then the token of
temporary credentials (TokenFailure). Nothing here logs, and no error message carries a
signature or a key.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import time

from tencentcloud_secrets.tencentcloud.signer import ALGORITHM, UNSIGNED_PAYLOAD, sign, utc_date

from . import exceptions
from .world import Principal, World

MAX_SKEW_SECONDS = 300

_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/,\s]+)/(?P<date>\d{4}-\d{2}-\d{2})"
    r"/(?P<service>[a-z0-9]+)/tc3_request, ?SignedHeaders=(?P<headers>[a-z0-9;-]+),"
    r" ?Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that the signature covers (plus what identifies it)."""

    method: str
    host: str
    content_type: str
    query: str
    body: bytes = dataclasses.field(repr=False)
    authorization: str = dataclasses.field(repr=False)
    timestamp: str = ""
    token: str | None = dataclasses.field(default=None, repr=False)
    content_sha256: str | None = None


@dataclasses.dataclass(frozen=True)
class Scope:
    secret_id: str
    date: str
    service: str
    signature: str = dataclasses.field(repr=False)


def parse_authorization(value: str) -> Scope:
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        raise exceptions.invalid_authorization(f"is not a valid {ALGORITHM} authorization")
    if match.group("headers") != "content-type;host":
        raise exceptions.invalid_authorization("must sign exactly content-type;host")
    return Scope(match.group("id"), match.group("date"), match.group("service"), match.group("sig"))


def verify(
    world: World, request: SignedRequest, scope: Scope, now: float | None = None
) -> Principal:
    """Authenticate one signed request and return its caller."""
    if not request.timestamp.isdigit():
        raise exceptions.missing_parameter("X-TC-Timestamp")
    timestamp = int(request.timestamp)
    wall = time.time() if now is None else now
    if abs(wall - timestamp) > MAX_SKEW_SECONDS:
        raise exceptions.signature_expire()
    credential = world.credential(scope.secret_id)
    if scope.date != utc_date(timestamp):
        raise exceptions.signature_failure()
    expected = sign(
        secret_id=scope.secret_id,
        secret_key=credential.secret_key,
        service=scope.service,
        host=request.host,
        timestamp=timestamp,
        payload=request.body,
        method=request.method,
        content_type=request.content_type,
        query=request.query,
        unsigned_payload=request.content_sha256 == UNSIGNED_PAYLOAD,
    )
    if not hmac.compare_digest(expected.signature, scope.signature):
        raise exceptions.signature_failure()
    world.check_token(credential.principal, request.token)
    return credential.principal
