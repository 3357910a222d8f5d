"""Secret types: what a leased credential is called and how it is renewed and revoked.

Vault keeps a lease's ``internal_data`` and sends it back on renew and revoke; the
``secret_type`` key in it is how the framework finds the right handlers again, so
``Secret.response`` always sets it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from tencentcloud_secrets.framework.field_data import FieldData
from tencentcloud_secrets.framework.fields import Field
from tencentcloud_secrets.framework.path import LeaseHandler
from tencentcloud_secrets_shim import logical

SECRET_TYPE_KEY = "secret_type"
_TYPE_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Secret:
    """A kind of secret the backend hands out. Without ``renew`` its leases are not renewable."""

    type: str
    revoke: LeaseHandler
    renew: LeaseHandler | None = None
    fields: Mapping[str, Field] = dataclasses.field(default_factory=dict)
    default_duration: float = 0.0
    # Whether revoking a lease with this internal data needs nothing but memory and reads of
    # Vault's storage (no cloud call, no write): those revocations are answered on the shim's
    # event loop, without handing them to a worker thread and back. A lease whose revocation
    # calls the cloud must never pass: it would hold the loop for the call's duration.
    inline_revoke: Callable[[Mapping[str, Any]], bool] | None = None

    def __post_init__(self) -> None:
        if not _TYPE_NAME.fullmatch(self.type):
            raise ValueError("a secret type is letters, digits and underscores")

    @property
    def renewable(self) -> bool:
        return self.renew is not None

    def response(
        self,
        data: Mapping[str, Any],
        internal_data: Mapping[str, Any] | None = None,
        *,
        ttl: float | None = None,
        max_ttl: float = 0.0,
    ) -> logical.Response:
        """A response that creates a lease of this type (``ttl`` defaults to the type's)."""
        internal = dict(internal_data or {})
        internal[SECRET_TYPE_KEY] = self.type
        lease = logical.LeaseOptions(
            ttl=self.default_duration if ttl is None else ttl,
            max_ttl=max_ttl,
            renewable=self.renewable,
        )
        return logical.Response(
            data=dict(data), secret=logical.Secret(lease=lease, internal_data=internal)
        )

    def handle_renew(self, request: logical.Request) -> logical.Response | None:
        if self.renew is None:
            raise logical.UnsupportedOperation()
        return self.renew(request, FieldData(request.data or {}, self.fields))

    def handle_revoke(self, request: logical.Request) -> logical.Response | None:
        return self.revoke(request, FieldData(request.data or {}, self.fields))
