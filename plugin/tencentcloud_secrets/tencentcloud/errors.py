"""Typed errors for Tencent Cloud API calls.

Callers branch on the class and on ``.code``; they never parse message text. Messages put
in these exceptions are scrubbed by the transport first: an exception must never carry a
secret key, a token, a password or a signature.
"""

from __future__ import annotations


class TencentCloudError(Exception):
    """Root of every error this client raises."""

    def __init__(
        self, code: str, message: str, request_id: str | None = None, action: str | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.action = action
        # Set by a create that failed after a request that may have run: the object may
        # exist although the create raised. The caller must keep whatever would clean it up.
        self.create_outcome_unknown = False
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.action}: " if self.action else ""
        rid = f" (RequestId {self.request_id})" if self.request_id else ""
        return f"{where}{self.code}: {self.message}{rid}"


class CredentialsError(TencentCloudError):
    """No usable credentials could be found or refreshed; nothing was sent."""

    def __init__(self, message: str) -> None:
        super().__init__("ClientError.Credentials", message)


class TransportError(TencentCloudError):
    """The call did not produce a well-formed API answer.

    ``possibly_sent`` is False only when the request certainly never reached the server
    (the connection could not be opened); otherwise the action may have run, and a
    create must be reconciled before it is retried.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        possibly_sent: bool,
        action: str | None = None,
        status: int | None = None,
    ) -> None:
        self.possibly_sent = possibly_sent
        self.status = status
        super().__init__(code, message, None, action)


class CallCancelledError(TransportError):
    """The caller no longer wants the answer (its deadline's ``cancelled()``); not sent."""

    def __init__(self, action: str | None = None) -> None:
        super().__init__(
            "ClientError.Cancelled",
            "the request was cancelled before this call was sent",
            possibly_sent=False,
            action=action,
        )


class ApiError(TencentCloudError):
    """The service answered with an error envelope; the code says what went wrong."""


class AuthenticationError(ApiError):
    """Bad, expired or unauthorised credentials (AuthFailure.*, UnauthorizedOperation.*)."""


class NotFoundError(ApiError):
    """The named resource does not exist."""


class AlreadyExistsError(ApiError):
    """A create collided with an existing name (SubUserNameInUse, PolicyNameInUse, ...)."""


class LimitExceededError(ApiError):
    """An account quota is full (sub-users, policies, keys per user, attachments, ...)."""


class ThrottledError(ApiError):
    """Rate limited (RequestLimitExceeded and its sub-codes); safe to retry later."""


class InvalidParameterError(ApiError):
    """The request was rejected as malformed; retrying the same request cannot help."""


class ServiceInternalError(ApiError):
    """The service failed internally (InternalError.*)."""


_NOT_FOUND = frozenset(
    {
        "InvalidParameter.UserNotExist",
        "InvalidParameter.GroupNotExist",
        "InvalidParameter.RoleNotExist",
        "InvalidParameter.PolicyIdNotExist",
        "InvalidParameter.PolicyVersionNotExists",
        "InvalidParameter.DeletionTaskNotExist",
    }
)
_ALREADY_EXISTS = frozenset(
    {
        "InvalidParameter.SubUserNameInUse",
        "InvalidParameter.GroupNameInUse",
        "InvalidParameter.RoleNameInUse",
        "InvalidParameter.IdentityNameInUse",
        "FailedOperation.PolicyNameInUse",
    }
)
_LIMITS = frozenset(
    {
        "InvalidParameter.SubUserFull",
        "InvalidParameter.AttachmentFull",
        "InvalidParameter.GroupFull",
        "InvalidParameter.GroupUserFull",
        "InvalidParameter.UserGroupFull",
        "InvalidParameter.RoleFull",
        "InvalidParameter.TagLimitExceeded",
        "FailedOperation.PolicyFull",
        "FailedOperation.PolicyVersionFull",
        "OperationDenied.AccessKeyOverLimit",
    }
)


def is_throttling_code(code: str) -> bool:
    return code == "RequestLimitExceeded" or code.startswith("RequestLimitExceeded.")


def error_class_for(code: str) -> type[ApiError]:
    """Map an API error code to the narrowest class; unknown codes stay ``ApiError``."""
    head = code.split(".", 1)[0]
    if code in _NOT_FOUND or head == "ResourceNotFound":
        return NotFoundError
    if code in _ALREADY_EXISTS:
        return AlreadyExistsError
    if code in _LIMITS or head == "LimitExceeded":
        return LimitExceededError
    if is_throttling_code(code):
        return ThrottledError
    if head in ("AuthFailure", "UnauthorizedOperation"):
        return AuthenticationError
    if head in (
        "InvalidParameter",
        "InvalidParameterValue",
        "MissingParameter",
        "UnknownParameter",
        "InvalidAction",
    ):
        return InvalidParameterError
    if head == "InternalError":
        return ServiceInternalError
    return ApiError


def api_error(
    code: str, message: str, request_id: str | None = None, action: str | None = None
) -> ApiError:
    return error_class_for(code)(code, message, request_id, action)
