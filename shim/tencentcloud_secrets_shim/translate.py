"""Protobuf messages of Vault's backend protocol <-> the plain objects in ``logical``.

Durations are nanoseconds on the wire and seconds in Python; JSON travels as strings.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from . import logical
from ._proto.vault import backend_pb2 as pb

NANOS = 1_000_000_000

# ProtoError.err_type (sdk/plugin/pb/translation.go)
ERR_UNKNOWN = 0
ERR_USER = 1
ERR_INTERNAL = 2
ERR_CODED = 3
ERR_BAD_REQUEST = 4
ERR_UNSUPPORTED_OPERATION = 5
ERR_UNSUPPORTED_PATH = 6
ERR_INVALID_REQUEST = 7
ERR_PERMISSION_DENIED = 8
ERR_UNRECOVERABLE = 10

# What Vault shows for a failure whose details stay in the plugin's log (part of Vault's):
# the shim's own, such as a storage call to Vault that failed. The engine reports its own
# failures as logical errors, in its own words.
INTERNAL_ERROR_MESSAGE = "internal error in the plugin; see Vault's log"


def _json_loads(raw: str) -> Any:
    return json.loads(raw) if raw else None


def _to_seconds(nanos: int) -> float:
    return nanos / NANOS


def _to_nanos(seconds: float) -> int:
    return round(seconds * NANOS)


def lease_from_proto(msg: pb.LeaseOptions) -> logical.LeaseOptions:
    issue = None
    if msg.HasField("issue_time") and (msg.issue_time.seconds or msg.issue_time.nanos):
        issue = msg.issue_time.ToDatetime(tzinfo=dt.UTC)
    return logical.LeaseOptions(
        ttl=_to_seconds(msg.TTL),
        max_ttl=_to_seconds(msg.MaxTTL),
        renewable=msg.renewable,
        increment=_to_seconds(msg.increment),
        issue_time=issue,
    )


def lease_to_proto(lease: logical.LeaseOptions) -> pb.LeaseOptions:
    msg = pb.LeaseOptions(
        TTL=_to_nanos(lease.ttl),
        MaxTTL=_to_nanos(lease.max_ttl),
        renewable=lease.renewable,
        increment=_to_nanos(lease.increment),
    )
    issue = lease.issue_time or dt.datetime.now(dt.UTC)
    stamp = Timestamp()
    stamp.FromDatetime(issue)
    msg.issue_time.CopyFrom(stamp)
    return msg


def secret_from_proto(msg: pb.Secret) -> logical.Secret:
    return logical.Secret(
        lease=lease_from_proto(msg.lease_options),
        internal_data=_json_loads(msg.internal_data) or {},
        lease_id=msg.lease_id,
    )


def secret_to_proto(secret: logical.Secret) -> pb.Secret:
    return pb.Secret(
        lease_options=lease_to_proto(secret.lease),
        internal_data=json.dumps(secret.internal_data),
        lease_id=secret.lease_id,
    )


def request_from_proto(msg: pb.Request) -> logical.Request:
    data = _json_loads(msg.data)
    connection = None
    if msg.HasField("connection"):
        connection = logical.Connection(msg.connection.remote_addr, msg.connection.remote_port)
    return logical.Request(
        operation=msg.operation,
        path=msg.path,
        data=data if isinstance(data, dict) else {},
        id=msg.id,
        secret=secret_from_proto(msg.secret) if msg.HasField("secret") else None,
        headers={k: list(v.header) for k, v in msg.headers.items()},
        display_name=msg.display_name,
        mount_point=msg.mount_point,
        mount_type=msg.mount_type,
        mount_accessor=msg.mount_accessor,
        entity_id=msg.entity_id,
        client_token_accessor=msg.client_token_accessor,
        unauthenticated=msg.unauthenticated,
        connection=connection,
    )


def response_to_proto(resp: logical.Response) -> pb.Response:
    msg = pb.Response(
        data=json.dumps(resp.data),
        redirect=resp.redirect,
        warnings=resp.warnings,
    )
    if resp.secret is not None:
        msg.secret.CopyFrom(secret_to_proto(resp.secret))
    for name, values in resp.headers.items():
        msg.headers[name].header.extend(values)
    return msg


def error_to_proto(exc: BaseException) -> pb.ProtoError:
    """Map an exception to the ProtoError that makes Vault answer the intended status."""
    if isinstance(exc, logical.CodedError):
        return pb.ProtoError(err_type=ERR_CODED, err_msg=str(exc), err_code=exc.status)
    simple = {
        logical.InvalidRequest: ERR_INVALID_REQUEST,
        logical.UnsupportedOperation: ERR_UNSUPPORTED_OPERATION,
        logical.UnsupportedPath: ERR_UNSUPPORTED_PATH,
        logical.PermissionDenied: ERR_PERMISSION_DENIED,
        logical.Unrecoverable: ERR_UNRECOVERABLE,
    }
    for cls, err_type in simple.items():
        if isinstance(exc, cls):
            return pb.ProtoError(err_type=err_type, err_msg=str(exc))
    if isinstance(exc, logical.LogicalError):
        return pb.ProtoError(err_type=ERR_CODED, err_msg=str(exc), err_code=400)
    return internal_error()


def internal_error() -> pb.ProtoError:
    """Vault's 500 with a fixed message: nothing of the failure itself reaches the caller."""
    return pb.ProtoError(err_type=ERR_INTERNAL, err_msg=INTERNAL_ERROR_MESSAGE)


def special_paths_to_proto(paths: logical.SpecialPaths) -> pb.Paths:
    return pb.Paths(
        root=paths.root,
        unauthenticated=paths.unauthenticated,
        local_storage=paths.local_storage,
        seal_wrap_storage=paths.seal_wrap_storage,
        write_forwarded_storage=paths.write_forwarded_storage,
        binary=paths.binary,
        limited=paths.limited,
        allow_snapshot_read=paths.allow_snapshot_read,
    )
