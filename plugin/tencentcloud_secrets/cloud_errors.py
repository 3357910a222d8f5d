"""Tencent Cloud failures as Vault errors: the status says who can fix it, the text says what.

Bad keys, missing permissions and refused parameters are the operator's to fix (400/403);
throttling and upstream trouble are worth retrying (503/502), which Vault's clients and lease
manager do. The message carries Tencent's action, code, message and RequestId, which the
client has already scrubbed of secrets.
"""

from __future__ import annotations

from tencentcloud_secrets.tencentcloud.errors import (
    ApiError,
    AuthenticationError,
    CredentialsError,
    ServiceInternalError,
    TencentCloudError,
    ThrottledError,
    TransportError,
)
from tencentcloud_secrets_shim import logical


def status_of(error: TencentCloudError) -> int:
    if isinstance(error, CredentialsError):
        return 400
    if isinstance(error, ThrottledError):
        return 503
    if isinstance(error, TransportError):
        return 504 if error.code == "ClientError.DeadlineExceeded" else 502
    if isinstance(error, ServiceInternalError):
        return 502
    if isinstance(error, AuthenticationError):
        return 403 if "UnauthorizedOperation" in error.code else 400
    if isinstance(error, ApiError):
        head = error.code.split(".", 1)[0]
        if head in ("InternalError", "ResourceUnavailable", "FailedOperation"):
            return 502 if head != "FailedOperation" else 400
        return 400
    return 502


def describe(error: TencentCloudError, doing: str) -> str:
    if isinstance(error, CredentialsError):
        return f"{doing}: {error.message}"
    action = f"{error.action} " if error.action else ""
    if isinstance(error, TransportError):
        # No answer from the service (or none that parses): say so, not "Tencent answered".
        return f"{doing}: {action}failed: {error.code}: {error.message}"
    request = f" (RequestId {error.request_id})" if error.request_id else ""
    return f"{doing}: Tencent Cloud {action}answered {error.code}: {error.message}{request}"


def vault_error(error: TencentCloudError, doing: str) -> logical.CodedError:
    """The error to raise from a handler for ``error`` met while ``doing`` something."""
    return logical.CodedError(status_of(error), describe(error, doing))
