"""The signer against Tencent's published examples and against the official SDK.

The SDK signs ``content-type;host``; the engine also signs ``x-tc-action`` so that a captured
request cannot be replayed as another action. The SDK comparison therefore checks the
engine's headers and body as they are, the signer's HMAC chain in the SDK's own form, and the
engine's action-bound signature with the emulator's independent TC3 implementation.
"""

from __future__ import annotations

import hashlib
import json
import types
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import tencentcloud.common.abstract_client as sdk_client
from hypothesis import given, settings
from hypothesis import strategies as st
from tencentcloud.common import credential as sdk_credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from tencentcloud_emulator import tc3
from tencentcloud_secrets.tencentcloud.credentials import Credentials
from tencentcloud_secrets.tencentcloud.endpoints import Endpoint
from tencentcloud_secrets.tencentcloud.signer import sign, utc_date
from tencentcloud_secrets.tencentcloud.transport import Service, build_request

# The worked example of Tencent Cloud's "Signature v3" API documentation (CVM
# DescribeInstances in ap-guangzhou); every expected value below is the published one.
DOC_SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_TIMESTAMP = 1551113065
DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
DOC_HASHED_PAYLOAD = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
DOC_HASHED_CANONICAL_REQUEST = "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
DOC_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
# The current edition of that page signs x-tc-action too (its key is masked, so only the
# canonical request and its hash can be compared).
DOC_ACTION_HASHED_CANONICAL_REQUEST = (
    "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
)


def test_published_example() -> None:
    parts = sign(
        secret_id=DOC_SECRET_ID,
        secret_key=DOC_SECRET_KEY,
        service="cvm",
        host="cvm.tencentcloudapi.com",
        timestamp=DOC_TIMESTAMP,
        payload=DOC_PAYLOAD,
        content_type="application/json; charset=utf-8",
    )
    assert hashlib.sha256(DOC_PAYLOAD).hexdigest() == DOC_HASHED_PAYLOAD
    assert parts.canonical_request == (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
        "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n" + DOC_HASHED_PAYLOAD
    )
    assert hashlib.sha256(parts.canonical_request.encode()).hexdigest() == (
        DOC_HASHED_CANONICAL_REQUEST
    )
    assert parts.credential_scope == "2019-02-25/cvm/tc3_request"
    assert parts.string_to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n" + DOC_HASHED_CANONICAL_REQUEST
    )
    assert parts.signature == DOC_SIGNATURE
    assert parts.authorization == (
        f"TC3-HMAC-SHA256 Credential={DOC_SECRET_ID}/2019-02-25/cvm/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={DOC_SIGNATURE}"
    )


def test_published_example_with_the_action_signed() -> None:
    parts = sign(
        secret_id=DOC_SECRET_ID,
        secret_key=DOC_SECRET_KEY,
        service="cvm",
        host="cvm.tencentcloudapi.com",
        timestamp=DOC_TIMESTAMP,
        payload=DOC_PAYLOAD,
        content_type="application/json; charset=utf-8",
        action="DescribeInstances",
    )
    assert parts.canonical_request == (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
        "host:cvm.tencentcloudapi.com\nx-tc-action:describeinstances\n\n"
        "content-type;host;x-tc-action\n" + DOC_HASHED_PAYLOAD
    )
    assert hashlib.sha256(parts.canonical_request.encode()).hexdigest() == (
        DOC_ACTION_HASHED_CANONICAL_REQUEST
    )
    assert parts.string_to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        + DOC_ACTION_HASHED_CANONICAL_REQUEST
    )
    assert ", SignedHeaders=content-type;host;x-tc-action, " in parts.authorization


def test_scope_date_is_utc() -> None:
    # 00:44:25 on the 26th in UTC+8 is still the 25th in UTC.
    assert utc_date(DOC_TIMESTAMP) == "2019-02-25"
    assert utc_date(0) == "1970-01-01"


# ---- property tests against tencentcloud-sdk-python -------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_ascii = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)


@st.composite
def _hosts(draw: st.DrawFn) -> tuple[str, int | None]:
    host = ".".join(draw(st.lists(_label, min_size=1, max_size=4)))
    port = draw(st.none() | st.integers(1, 65535))
    return host, port


_calls = st.fixed_dictionaries(
    {
        "action": st.from_regex(r"[A-Z][A-Za-z0-9]{0,30}", fullmatch=True),
        "version": st.from_regex(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]", fullmatch=True),
        "service": st.from_regex(r"[a-z]{2,10}", fullmatch=True),
        "params": st.dictionaries(st.text(min_size=1, max_size=10), _json, max_size=5),
        "secret_id": st.text(_ascii, min_size=1, max_size=40),
        "secret_key": st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s != ""),
        "token": st.none() | st.text(_ascii + "+/=", min_size=1, max_size=60),
        "region": st.none() | st.from_regex(r"[a-z]{2}-[a-z]{3,10}(-[0-9])?", fullmatch=True),
        "timestamp": st.integers(0, 4_102_444_800),
        "language": st.sampled_from(["zh-CN", "en-US"]),
        "host": _hosts(),
    }
)


def _sdk_request(c: dict[str, Any], host: str, method: str = "POST", unsigned: bool = False) -> Any:
    cls = type(
        "SdkClient",
        (sdk_client.AbstractClient,),
        {"_apiVersion": c["version"], "_service": c["service"], "_endpoint": host},
    )
    http = HttpProfile(endpoint=host, reqMethod=method)
    profile = ClientProfile(httpProfile=http, language=c["language"])
    profile.unsignedPayload = unsigned
    cred = sdk_credential.Credential(c["secret_id"], c["secret_key"], c["token"])
    client = cls(cred, c["region"] or "", profile)
    req = RequestInternal(host, method, "/")
    fake_time = types.SimpleNamespace(time=lambda: c["timestamp"])
    with mock.patch.object(sdk_client, "time", fake_time):
        client._build_req_inter(c["action"], c["params"], req)
    return req


@settings(max_examples=300, deadline=None)
@given(_calls)
def test_request_matches_official_sdk(c: dict[str, Any]) -> None:
    """Our request equals the SDK's for the same call in everything but the signature, which
    also covers X-TC-Action: in the SDK's form (without it) our signer gives the SDK's very
    Authorization, and the action-bound one verifies under the emulator's TC3 code."""
    endpoint = Endpoint("https", *c["host"])
    sdk = _sdk_request(c, endpoint.host_header)
    ours = build_request(
        endpoint=endpoint,
        service=Service(c["service"], c["version"]),
        action=c["action"],
        params=c["params"],
        credentials=Credentials(c["secret_id"], c["secret_key"], c["token"]),
        timestamp=c["timestamp"],
        region=c["region"],
        language=c["language"],
    )
    assert ours.body == sdk.data.encode()
    unsigned_fields = ("X-TC-RequestClient", "X-TC-TraceId", "Authorization")
    wanted = {k: v for k, v in sdk.header.items() if k not in unsigned_fields}
    assert {k: v for k, v in ours.headers.items() if k != "Authorization"} == wanted

    sdk_form = sign(
        secret_id=c["secret_id"],
        secret_key=c["secret_key"],
        service=c["service"],
        host=endpoint.host_header,
        timestamp=c["timestamp"],
        payload=ours.body,
        content_type=ours.headers["Content-Type"],
    )
    assert sdk_form.authorization == sdk.header["Authorization"]

    scope = sdk.header["Authorization"].split(", SignedHeaders=")[0]
    authorization = ours.headers["Authorization"]
    assert authorization.startswith(f"{scope}, SignedHeaders=content-type;host;x-tc-action, ")
    parsed = tc3.parse_authorization(authorization)
    canonical = tc3.canonical_request(
        method="POST",
        query="",
        headers={k.lower(): v for k, v in ours.headers.items()},
        signed_headers=parsed.signed_headers,
        hashed_payload=tc3.payload_hash(ours.body, unsigned=False),
    )
    expected = tc3.signature(
        secret_key=c["secret_key"],
        service=c["service"],
        timestamp=c["timestamp"],
        canonical=canonical,
    )
    assert parsed.signature == expected


@settings(max_examples=150, deadline=None)
@given(_calls, st.booleans())
def test_signer_matches_sdk_for_get_and_unsigned_payload(c: dict[str, Any], use_get: bool) -> None:
    """The signer's other modes (query string, UNSIGNED-PAYLOAD) agree with the SDK too."""
    host = Endpoint("https", *c["host"]).host_header
    c = {**c, "params": {k: v for k, v in c["params"].items() if isinstance(v, str | int)}}
    sdk = _sdk_request(c, host, method="GET" if use_get else "POST", unsigned=not use_get)
    parts = sign(
        secret_id=c["secret_id"],
        secret_key=c["secret_key"],
        service=c["service"],
        host=host,
        timestamp=c["timestamp"],
        method="GET" if use_get else "POST",
        query=urlencode(c["params"]) if use_get else "",
        payload=b"" if use_get else json.dumps(c["params"]).encode(),
        content_type=sdk.header["Content-Type"],
        unsigned_payload=not use_get,
    )
    assert parts.authorization == sdk.header["Authorization"]


def test_unsigned_request_says_skip() -> None:
    prepared = build_request(
        endpoint=Endpoint("https", "sts.tencentcloudapi.com"),
        service=Service("sts", "2018-08-13"),
        action="AssumeRoleWithWebIdentity",
        params={"ProviderId": "OIDC"},
        credentials=None,
        timestamp=DOC_TIMESTAMP,
        region="ap-guangzhou",
    )
    assert prepared.headers["Authorization"] == "SKIP"
    assert "X-TC-Token" not in prepared.headers
    assert prepared.headers["X-TC-Region"] == "ap-guangzhou"
