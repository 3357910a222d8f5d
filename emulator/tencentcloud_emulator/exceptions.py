"""Every error the emulator can answer with, in one place.

An ``ApiError`` becomes the API 3.0 error envelope (HTTP 200, ``Response.Error``). Messages
are written for the caller and never contain a secret, a signature or a token.
"""

from __future__ import annotations

from http import HTTPStatus


class ApiError(Exception):
    """An error the service reports in the response body; callers branch on ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DropConnection(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Close the connection without answering (injected fault). ``ran`` says whether the action
    took effect first: the caller cannot tell the two apart, which is what it must cope with."""

    def __init__(self, *, ran: bool) -> None:
        super().__init__("dropped after the action ran" if ran else "dropped before the action")
        self.ran = ran

    @property
    def code(self) -> str:
        """The outcome the request log records."""
        return "Dropped" if self.ran else "DroppedBefore"


class BrokenAnswer(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Answer with something that is not an API 3.0 envelope (injected fault; the action did not
    run): a gateway's error page, or a 200 whose body is not JSON."""

    def __init__(self, status: int, content_type: str, body: bytes, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.content_type = content_type
        self.body = body
        self.code = code


# Common errors of the API gateway.


def invalid_action(action: str, version: str) -> ApiError:
    return ApiError("InvalidAction", f"The action `{action}` is not found in version `{version}`.")


def not_emulated(service: str) -> ApiError:
    """A ``*.tencentcloudapi.com`` host of a service the emulator does not implement."""
    return ApiError(
        "InvalidAction",
        f"The service `{service}` is not emulated; this emulator serves cam and sts.",
    )


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


# Answers that are not API 3.0 envelopes (injected faults only).


def gateway_error_page(status: int) -> BrokenAnswer:
    """The HTML page a load balancer answers with when it cannot reach the service."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    page = (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return BrokenAnswer(status, "text/html", page.encode(), f"HTTP{status}")


def not_json() -> BrokenAnswer:
    """HTTP 200 with a page instead of JSON, as a captive portal or an intercepting proxy sends."""
    page = "<html><head><title>Notice</title></head><body>Please sign in.</body></html>\r\n"
    return BrokenAnswer(200, "text/html", page.encode(), "Garbage")
