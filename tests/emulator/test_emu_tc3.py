"""The emulator's own TC3 verifier against the published example, the project's signer, the
official SDK, and hand-built requests that sign more headers than the SDKs do."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tencentcloud.sts.v20180813 import models as sts_models

from tencentcloud_emulator import tc3
from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud.signer import sign

# Tencent Cloud's "Signature v3" worked example (CVM DescribeInstances, ap-guangzhou).
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_TIMESTAMP = 1551113065
DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
DOC_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_published_example() -> None:
    headers = {
        "content-type": "application/json; charset=utf-8",
        "host": "cvm.tencentcloudapi.com",
    }
    canonical = tc3.canonical_request(
        method="POST",
        query="",
        headers=headers,
        signed_headers=("content-type", "host"),
        hashed_payload=tc3.payload_hash(DOC_PAYLOAD, unsigned=False),
    )
    got = tc3.signature(
        secret_key=DOC_SECRET_KEY, service="cvm", timestamp=DOC_TIMESTAMP, canonical=canonical
    )
    assert tc3.scope_date(DOC_TIMESTAMP) == "2019-02-25"
    assert got == DOC_SIGNATURE


_HOSTS = st.sampled_from(["cam.tencentcloudapi.com", "127.0.0.1:9400", "sts.ap-guangzhou.X.com"])
_TYPES = st.sampled_from(["application/json", "application/x-www-form-urlencoded"])


@settings(max_examples=60, deadline=None)
@given(
    host=_HOSTS,
    content_type=_TYPES,
    method=st.sampled_from(["POST", "GET"]),
    query=st.sampled_from(["", "Action=GetUser&Name=a%2Fb"]),
    payload=st.binary(max_size=200),
    timestamp=st.integers(min_value=1_500_000_000, max_value=2_500_000_000),
    secret_key=st.text(alphabet="abcdefXYZ0123456789", min_size=1, max_size=40),
    service=st.sampled_from(["cam", "sts"]),
    unsigned=st.booleans(),
)
def test_project_signer_and_emulator_verifier_agree(
    host: str,
    content_type: str,
    method: str,
    query: str,
    payload: bytes,
    timestamp: int,
    secret_key: str,
    service: str,
    unsigned: bool,
) -> None:
    signed = sign(
        secret_id="AKIDx",
        secret_key=secret_key,
        service=service,
        host=host,
        timestamp=timestamp,
        payload=payload,
        method=method,
        content_type=content_type,
        query=query,
        unsigned_payload=unsigned,
    )
    parsed = tc3.parse_authorization(signed.authorization)
    assert (parsed.secret_id, parsed.service) == ("AKIDx", service)
    assert parsed.date == tc3.scope_date(timestamp)
    canonical = tc3.canonical_request(
        method=method,
        query=query,
        headers={"content-type": content_type, "host": host},
        signed_headers=parsed.signed_headers,
        hashed_payload=tc3.payload_hash(payload, unsigned=unsigned),
    )
    assert canonical == signed.canonical_request
    mine = tc3.signature(
        secret_key=secret_key, service=service, timestamp=timestamp, canonical=canonical
    )
    assert mine == parsed.signature


def test_official_sdk_is_verified_in_every_wire_style(sdk: Any, error_code: Any) -> None:
    who = sts_models.GetCallerIdentityRequest()
    for method in ("POST", "GET"):
        answer = sdk.sts(method=method).GetCallerIdentity(who)
        assert answer.AccountId == str(sdk.emu.owner_uin)
    unsigned = sdk.sts()
    unsigned.profile.unsignedPayload = True
    assert unsigned.GetCallerIdentity(who).AccountId == str(sdk.emu.owner_uin)
    wrong = sdk.sts(sdk.emu.secret_id, "not-the-key")
    assert error_code(lambda: wrong.GetCallerIdentity(who)) == "AuthFailure.SignatureFailure"


def _hand_signed(
    emu: RunningEmulator, names: tuple[str, ...], *, action: str = "GetCallerIdentity"
) -> dict[str, Any]:
    """Sign the way Tencent's own demo does (header names as listed, values lowercased), with
    nothing from the project or the emulator: a third implementation for the test."""
    body = b"{}"
    stamp = int(time.time())
    date = time.strftime("%Y-%m-%d", time.gmtime(stamp))
    sent = {
        "Content-Type": "application/json; charset=utf-8",
        "Host": emu.host_port,
        "X-TC-Action": action,
        "X-TC-Version": "2018-08-13",
        "X-TC-Timestamp": str(stamp),
        "X-TC-Region": "ap-guangzhou",
    }
    lower = {k.lower(): v.lower() for k, v in sent.items()}
    canonical_headers = "".join(f"{n}:{lower.get(n, '')}\n" for n in names)
    signed = ";".join(names)
    canonical = "\n".join(
        ["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()]
    )
    scope = f"{date}/sts/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(stamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("TC3" + emu.secret_key).encode()
    for part in (date, "sts", "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    sent["Authorization"] = (
        f"TC3-HMAC-SHA256 Credential={emu.secret_id}/{scope}, "
        f"SignedHeaders={signed}, Signature={sig}"
    )
    conn = http.client.HTTPConnection(emu.server.host, emu.server.port, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=sent)
        answer: dict[str, Any] = json.loads(conn.getresponse().read())["Response"]
        return answer
    finally:
        conn.close()


def test_signing_x_tc_action_too_is_accepted(emulator: RunningEmulator) -> None:
    answer = _hand_signed(emulator, ("content-type", "host", "x-tc-action"))
    assert answer.get("AccountId") == str(emulator.owner_uin), answer
    plain = _hand_signed(emulator, ("content-type", "host"))
    assert plain.get("AccountId") == str(emulator.owner_uin), plain


def test_signed_action_header_binds_the_action(emulator: RunningEmulator) -> None:
    """The x-tc-action value is part of what was signed: listing it and then sending another
    action than the one signed must fail (proves the listed names are really used)."""
    names = ("content-type", "host", "x-tc-action", "x-tc-timestamp")
    assert "AccountId" in _hand_signed(emulator, names)
    body = b"{}"
    stamp = int(time.time())
    signed = sign(
        secret_id=emulator.secret_id,
        secret_key=emulator.secret_key,
        service="sts",
        host=emulator.host_port,
        timestamp=stamp,
        payload=body,
        content_type="application/json",
    )
    forged = signed.authorization.replace(
        "SignedHeaders=content-type;host,", "SignedHeaders=content-type;host;x-tc-action,"
    )
    conn = http.client.HTTPConnection(emulator.server.host, emulator.server.port, timeout=10)
    try:
        conn.request(
            "POST",
            "/",
            body=body,
            headers={
                "Content-Type": "application/json",
                "Host": emulator.host_port,
                "X-TC-Action": "GetCallerIdentity",
                "X-TC-Version": "2018-08-13",
                "X-TC-Timestamp": str(stamp),
                "X-TC-Region": "ap-guangzhou",
                "Authorization": forged,
            },
        )
        answer = json.loads(conn.getresponse().read())["Response"]
    finally:
        conn.close()
    assert answer["Error"]["Code"] == "AuthFailure.SignatureFailure"


def test_signed_headers_without_host_or_content_type_are_refused(
    emulator: RunningEmulator,
) -> None:
    for names in (("content-type", "x-tc-action"), ("host",)):
        answer = _hand_signed(emulator, names)
        assert answer["Error"]["Code"] == "AuthFailure.InvalidAuthorization", names


def test_nothing_in_the_emulator_imports_the_plugin() -> None:
    from pathlib import Path

    import tencentcloud_emulator

    root = Path(tencentcloud_emulator.__file__).parent
    offenders = [
        p.name for p in root.rglob("*.py") if "tencentcloud_secrets" in p.read_text("utf-8")
    ]
    assert offenders == []
