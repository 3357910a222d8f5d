"""TC3-HMAC-SHA256 request signing for Tencent Cloud API 3.0.

Pure functions over bytes and strings: no I/O, no clock, no logging. The secret key only
ever enters the HMAC chain; nothing returned here contains it.

What a signature covers is what a captured request cannot be changed in. The official SDKs
sign ``content-type;host`` only, so the body and endpoint are bound but the action is not:
the same headers and body replayed with another ``X-TC-Action`` (within the five minutes the
timestamp is accepted) would be carried out. Given the action, ``sign`` also covers
``x-tc-action``, as Tencent's own signing demo does; the engine always passes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac

ALGORITHM = "TC3-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGNED_HEADERS = "content-type;host"
"""What the official SDKs sign; ``sign`` uses it only when it is not told the action."""
SIGNED_HEADERS_WITH_ACTION = "content-type;host;x-tc-action"


@dataclasses.dataclass(frozen=True)
class SignedParts:
    """The intermediate values, for tests and for the emulator's verification."""

    canonical_request: str
    string_to_sign: str
    credential_scope: str
    # A signature replays for five minutes: keep it out of reprs and tracebacks.
    signature: str = dataclasses.field(repr=False)
    authorization: str = dataclasses.field(repr=False)


def utc_date(timestamp: int) -> str:
    """The credential scope's date: the UTC calendar day of the timestamp."""
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def canonical_request(
    *,
    method: str,
    host: str,
    content_type: str,
    payload: bytes,
    query: str = "",
    unsigned_payload: bool = False,
    action: str | None = None,
) -> str:
    """The signed view of a request; with ``action``, the X-TC-Action header is in it too.

    Header values are lowercased and trimmed, as the published algorithm says (its demo signs
    ``x-tc-action:describeinstances``). The official Python SDK inserts them verbatim, which
    yields the same bytes for everything it sends (``application/json`` and lowercase host
    names).
    """
    payload_hash = hashlib.sha256(
        UNSIGNED_PAYLOAD.encode() if unsigned_payload else payload
    ).hexdigest()
    canonical_headers = (
        f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n"
    )
    signed_headers = SIGNED_HEADERS
    if action is not None:
        canonical_headers += f"x-tc-action:{action.strip().lower()}\n"
        signed_headers = SIGNED_HEADERS_WITH_ACTION
    return "\n".join([method.upper(), "/", query, canonical_headers, signed_headers, payload_hash])


def sign(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    timestamp: int,
    payload: bytes,
    method: str = "POST",
    content_type: str = "application/json; charset=utf-8",
    query: str = "",
    unsigned_payload: bool = False,
    action: str | None = None,
) -> SignedParts:
    """Sign one request; ``host`` is the Host header as sent (port included if any).

    ``action`` is the X-TC-Action header as sent; pass it so that the signature binds the
    action (``None`` signs only ``content-type;host``, byte for byte what the SDKs send).
    """
    date = utc_date(timestamp)
    scope = f"{date}/{service}/tc3_request"
    creq = canonical_request(
        method=method,
        host=host,
        content_type=content_type,
        payload=payload,
        query=query,
        unsigned_payload=unsigned_payload,
        action=action,
    )
    string_to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()]
    )
    k_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    k_service = _hmac(k_date, service)
    k_signing = _hmac(k_service, "tc3_request")
    signature = hmac.new(k_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={SIGNED_HEADERS if action is None else SIGNED_HEADERS_WITH_ACTION}, "
        f"Signature={signature}"
    )
    return SignedParts(creq, string_to_sign, scope, signature, authorization)
