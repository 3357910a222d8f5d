"""Every error the emulator can answer with, in one place.

An ``ApiError`` becomes the API 3.0 error envelope (HTTP 200, ``Response.Error``). Messages
are written for the caller and never contain a secret, a signature or a token.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error the service reports in the response body; callers branch on ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DropConnection(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Close the connection without answering (injected fault; the action already took effect)."""


# Common errors of the API gateway.


def invalid_action(action: str, version: str) -> ApiError:
    return ApiError("InvalidAction", f"The action `{action}` is not found in version `{version}`.")


def no_such_version(version: str) -> ApiError:
    return ApiError("NoSuchVersion", f"The requested version `{version}` is not supported.")


def missing_parameter(name: str) -> ApiError:
    return ApiError("MissingParameter", f"The request is missing a required parameter `{name}`.")


def unknown_parameter(name: str) -> ApiError:
    return ApiError("UnknownParameter", f"The parameter `{name}` is not recognized.")


def invalid_parameter(name: str, why: str = "has an invalid type") -> ApiError:
    return ApiError("InvalidParameter", f"The value of parameter `{name}` {why}.")


def request_limit_exceeded(action: str) -> ApiError:
    return ApiError("RequestLimitExceeded", f"Your request rate for `{action}` is over the limit.")


def internal_error() -> ApiError:
    return ApiError("InternalError", "An internal error has occurred. Retry later.")


# Authentication.


def invalid_authorization(why: str) -> ApiError:
    return ApiError("AuthFailure.InvalidAuthorization", f"The Authorization header {why}.")


def signature_expire() -> ApiError:
    return ApiError(
        "AuthFailure.SignatureExpire",
        "The request timestamp differs from the server time by more than 5 minutes.",
    )


def secret_id_not_found() -> ApiError:
    return ApiError("AuthFailure.SecretIdNotFound", "The SecretId is not found or not active.")


def signature_failure() -> ApiError:
    return ApiError(
        "AuthFailure.SignatureFailure",
        "The provided credentials could not be validated. Check the signature.",
    )


def token_failure(why: str) -> ApiError:
    return ApiError("AuthFailure.TokenFailure", f"The security token {why}.")
