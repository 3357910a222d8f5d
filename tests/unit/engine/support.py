"""The engine in process, for its unit tests: a mount on in-memory storage that takes requests
as Vault sends them, and the readers of its answers.

Everything below the framework is real: the engine's client signs real requests and sends
them over HTTP to the emulator, which checks the signatures and keeps the account's state.
"""

from __future__ import annotations

import json
from typing import Any

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.backend import TencentCloudBackend
from tencentcloud_secrets.clients import client_from_config
from tencentcloud_secrets.paths.config import MountConfig
from tencentcloud_secrets.provider import ClientFactory, CloudClient
from tencentcloud_secrets.tencentcloud import RetryPolicy
from tencentcloud_secrets_shim import logical
from tests.support.clock import ManualClock
from tests.support.mount_config import emulator_settings


def fast_retries(config: MountConfig) -> CloudClient:
    """The mount's client, retrying after milliseconds rather than seconds."""
    return client_from_config(
        config,
        retry=RetryPolicy(max_attempts=config.max_retries + 1, base_delay=0.005, max_delay=0.01),
    )


class Mount:
    """One mount of the engine: ``mount(operation, path, **data)`` sends a request as Vault
    does (an existence check first for writes), with a manual clock and in-memory storage."""

    def __init__(
        self,
        *,
        default_ttl: float = 3600.0,
        max_ttl: float = 86400.0,
        factory: ClientFactory = client_from_config,
    ) -> None:
        self.storage = logical.InmemStorage()
        self.clock = ManualClock()
        self.backend = TencentCloudBackend(factory=factory, clock=self.clock)
        self.system_view = logical.StaticSystemView(default_ttl=default_ttl, max_ttl=max_ttl)
        self.backend.setup(
            logical.BackendConfig(storage=self.storage, system_view=self.system_view)
        )

    def __call__(
        self,
        operation: str,
        path: str,
        *,
        display_name: str = "token",
        deadline: float | None = None,
        **data: Any,
    ) -> logical.Response | None:
        request = logical.Request(
            operation=operation,
            path=path,
            data=data,
            storage=self.storage,
            display_name=display_name,
            deadline=deadline,
        )
        if operation in (logical.CREATE, logical.UPDATE) and not path.startswith("creds/"):
            # As Vault does: an existence check first, whose user errors become a 400.
            check = logical.Request(operation="update", path=path, data=data, storage=self.storage)
            try:
                found, exists = self.backend.handle_existence_check(check)
            except logical.InvalidRequest as exc:
                return logical.error_response(str(exc))
            request.operation = logical.CREATE if found and not exists else logical.UPDATE
        return self.backend.handle_request(request)

    def lease_request(self, operation: str, issued: logical.Response, **data: Any) -> Any:
        assert issued.secret is not None
        request = logical.Request(
            operation=operation,
            path="creds/x",
            data=data,
            storage=self.storage,
            secret=issued.secret,
        )
        return self.backend.handle_request(request)

    def revoke(self, issued: logical.Response) -> logical.Response | None:
        result: logical.Response | None = self.lease_request(logical.REVOKE, issued)
        return result

    def renew(self, issued: logical.Response) -> logical.Response | None:
        result: logical.Response | None = self.lease_request(logical.RENEW, issued)
        return result

    def rollback(self, *, immediate: bool = True) -> logical.Response | None:
        data = {"immediate": True} if immediate else {}
        request = logical.Request(
            operation=logical.ROLLBACK, path="", data=data, storage=self.storage
        )
        return self.backend.handle_request(request)

    def stored(self, key: str) -> dict[str, Any] | None:
        entry = self.storage.get(key)
        return None if entry is None else json.loads(entry.value)

    def wal(self) -> list[str]:
        return self.storage.list("wal/")

    def configure(
        self,
        emulator: RunningEmulator,
        *,
        secret_id: str | None = None,
        secret_key: str | None = None,
        **extra: Any,
    ) -> None:
        """Aim the mount at ``emulator`` (with the root key unless given another) and set
        ``extra``, in one config write that must succeed."""
        settings: dict[str, Any] = {
            **emulator_settings(emulator, secret_id=secret_id, secret_key=secret_key),
            **extra,
        }
        response = self("update", "config", **settings)
        assert response is None


def data_of(response: logical.Response | None) -> dict[str, Any]:
    assert response is not None, "expected a response"
    assert response.data is not None
    assert "error" not in response.data, response.data.get("error")
    return response.data


def error_of(response: logical.Response | None) -> str:
    assert response is not None, "expected an error response"
    assert response.data is not None
    return str(response.data["error"])
