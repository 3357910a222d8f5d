"""Errors the framework raises on top of the contract's own (``logical``).

Vault turns a ``CodedError`` into its status; anything the framework did not expect becomes
``InternalError`` after the details went to the log, so a response never carries a traceback
or whatever text an unexpected exception happened to hold.
"""

from __future__ import annotations

from tencentcloud_secrets_shim import logical


class InternalError(logical.CodedError):
    """An unexpected failure: status 500 with a message that reveals nothing."""

    def __init__(self, request_id: str = "") -> None:
        detail = f" (request id {request_id})" if request_id else ""
        super().__init__(500, f"internal error{detail}; the plugin log has the details")
        self.request_id = request_id
