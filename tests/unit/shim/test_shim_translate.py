"""Wire translation: durations, JSON strings and error types as Vault decodes them."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from tencentcloud_secrets_shim import logical, translate
from tencentcloud_secrets_shim._proto.vault import backend_pb2 as pb


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_lease_durations_round_trip_through_nanoseconds(ttl: int, max_ttl: int) -> None:
    lease = logical.LeaseOptions(ttl=ttl, max_ttl=max_ttl, renewable=True)
    msg = translate.lease_to_proto(lease)
    assert ttl * 1_000_000_000 == msg.TTL
    assert msg.MaxTTL == max_ttl * 1_000_000_000
    back = translate.lease_from_proto(msg)
    assert back.ttl == ttl
    assert back.max_ttl == max_ttl


def test_secret_always_carries_an_issue_time() -> None:
    # Vault rejects a secret without issue_time.
    msg = translate.secret_to_proto(logical.Secret(internal_data={"secret_type": "x"}))
    assert msg.lease_options.HasField("issue_time")
    issued = msg.lease_options.issue_time.ToDatetime(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - issued).total_seconds()) < 60
    assert json.loads(msg.internal_data) == {"secret_type": "x"}


def test_request_data_null_and_empty_become_empty_dicts() -> None:
    for raw in ("null", ""):
        request = translate.request_from_proto(pb.Request(operation="read", path="x", data=raw))
        assert request.data == {}
    request = translate.request_from_proto(pb.Request(data='{"a": [1, "b"]}'))
    assert request.data == {"a": [1, "b"]}


def test_request_secret_and_headers() -> None:
    msg = pb.Request(operation="revoke", path="creds/x")
    msg.secret.internal_data = '{"secret_type": "key", "user": "u"}'
    msg.secret.lease_options.TTL = 90 * 10**9
    msg.headers["X-Test"].header.extend(["a", "b"])
    request = translate.request_from_proto(msg)
    assert request.secret is not None
    assert request.secret.internal_data == {"secret_type": "key", "user": "u"}
    assert request.secret.lease.ttl == 90
    assert request.headers == {"X-Test": ["a", "b"]}


def test_response_data_is_a_json_string() -> None:
    msg = translate.response_to_proto(logical.Response(data={"k": 1}, warnings=["w"]))
    assert json.loads(msg.data) == {"k": 1}
    assert list(msg.warnings) == ["w"]


def test_error_types_match_vaults_translation() -> None:
    cases = {
        logical.InvalidRequest("bad"): translate.ERR_INVALID_REQUEST,
        logical.UnsupportedOperation(): translate.ERR_UNSUPPORTED_OPERATION,
        logical.UnsupportedPath(): translate.ERR_UNSUPPORTED_PATH,
        logical.PermissionDenied(): translate.ERR_PERMISSION_DENIED,
        logical.Unrecoverable("gone"): translate.ERR_UNRECOVERABLE,
    }
    for exc, err_type in cases.items():
        assert translate.error_to_proto(exc).err_type == err_type
    coded = translate.error_to_proto(logical.CodedError(429, "slow down"))
    assert (coded.err_type, coded.err_code, coded.err_msg) == (
        translate.ERR_CODED,
        429,
        "slow down",
    )


def test_unexpected_exceptions_do_not_leak_their_message() -> None:
    err = translate.error_to_proto(RuntimeError("secret_key=abc123 leaked"))
    assert err.err_type == translate.ERR_INTERNAL
    assert "abc123" not in err.err_msg


def test_reprs_carry_no_data_or_stored_values() -> None:
    request = logical.Request(operation="update", path="config", data={"secret_key": "s3cr3t"})
    response = logical.Response(data={"secret_key": "s3cr3t"})
    entry = logical.StorageEntry("config", b"s3cr3t")
    secret = logical.Secret(internal_data={"secret_key": "s3cr3t"})
    for value in (request, response, entry, secret):
        assert "s3cr3t" not in repr(value)
