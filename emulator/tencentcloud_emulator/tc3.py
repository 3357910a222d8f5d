"""TC3-HMAC-SHA256, written for the emulator from the published algorithm.

The emulator must not reuse the plugin's signer: two independent implementations of the wire
contract are what lets each catch the other's mistakes. This module only computes; it never
logs, and nothing it returns contains a secret key.

The verifier side differs from a signer in one way that matters: it signs exactly the header
names the client listed in ``SignedHeaders`` (the SDKs list ``content-type;host``; Tencent's
own signing demo adds ``x-tc-action``), so a request is judged by what its sender claims to
have covered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

from . import exceptions

ALGORITHM = "TC3-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
TERMINATOR = "tc3_request"
REQUIRED_HEADERS = frozenset({"content-type", "host"})

_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/,\s]+)/(?P<date>\d{4}-\d{2}-\d{2})"
    r"/(?P<service>[a-z0-9]+)/tc3_request, ?SignedHeaders=(?P<headers>[a-z0-9-]+(?:;[a-z0-9-]+)*),"
    r" ?Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclasses.dataclass(frozen=True)
class Authorization:
    """A parsed ``Authorization`` header: who signed, for which day and service, over what."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str = dataclasses.field(repr=False)


def parse_authorization(value: str) -> Authorization:
    """Split the header; refuse shapes the gateway refuses (``AuthFailure.InvalidAuthorization``).

    Any header list is accepted as long as it covers ``content-type`` and ``host``: those two
    are what bind a signature to one request body format and one endpoint.
    """
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        raise exceptions.invalid_authorization(f"is not a valid {ALGORITHM} authorization")
    names = tuple(match.group("headers").split(";"))
    missing = REQUIRED_HEADERS.difference(names)
    if missing:
        raise exceptions.invalid_authorization(
            f"must sign {' and '.join(sorted(missing))} (SignedHeaders lacks it)"
        )
    return Authorization(
        match.group("id"), match.group("date"), match.group("service"), names, match.group("sig")
    )


def scope_date(timestamp: int) -> str:
    """The credential scope's day: the UTC date of ``X-TC-Timestamp``."""
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d")


def payload_hash(body: bytes, *, unsigned: bool) -> str:
    return hashlib.sha256(UNSIGNED_PAYLOAD.encode() if unsigned else body).hexdigest()


def canonical_request(
    *,
    method: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    hashed_payload: str,
) -> str:
    """``METHOD / query headers names hash``, with each listed header as ``name:value``,
    value trimmed and lowercased (the algorithm's rule; the SDKs send lowercase values anyway).

    ``headers`` must have lowercase names; a listed header the request lacks counts as empty,
    which can only produce a mismatch unless the sender signed it empty too.
    """
    lines = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed_headers)
    return "\n".join([method.upper(), "/", query, lines, ";".join(signed_headers), hashed_payload])


def _mac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature(
    *, secret_key: str, service: str, timestamp: int, canonical: str, date: str | None = None
) -> str:
    """The hex signature of a canonical request: the string to sign under the derived key."""
    day = scope_date(timestamp) if date is None else date
    scope = f"{day}/{service}/{TERMINATOR}"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    to_sign = "\n".join([ALGORITHM, str(timestamp), scope, digest])
    key = _mac(_mac(_mac(f"TC3{secret_key}".encode(), day), service), TERMINATOR)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
