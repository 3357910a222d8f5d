"""Shared fixtures: a small backend declared the way an engine would declare one."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets_shim import logical


@dataclasses.dataclass
class Calls:
    """What the handlers of the sample backend saw, for assertions."""

    writes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    invalidated: list[str] = dataclasses.field(default_factory=list)
    periodic: int = 0
    cleaned: int = 0


class SampleBackend(fw.Backend):
    """Roles stored as JSON, with a list, an existence check and a boom path."""

    def __init__(self) -> None:
        self.calls = Calls()
        self.locks = fw.KeyLocks()
        role_fields = {
            "name": fw.Field(fw.FieldType.NAME_STRING, "Name of the role.", required=True),
            "ttl": fw.Field(fw.FieldType.DURATION_SECOND, "Lease TTL.", default="1h"),
            "max_ttl": fw.Field(fw.FieldType.DURATION_SECOND, "Lease max TTL."),
            "policies": fw.Field(fw.FieldType.COMMA_STRING_SLICE, "Policies."),
            "enabled": fw.Field(fw.FieldType.BOOL, "Whether it is on.", default=True),
            "secret_key": fw.Field(fw.FieldType.STRING, "A secret.", sensitive=True),
            "old_name": fw.Field(fw.FieldType.STRING, "Use name.", deprecated=True),
        }
        attrs = fw.DisplayAttributes(operation_prefix="sample", operation_suffix="role")
        super().__init__(
            help_text="A sample backend for tests.",
            paths=[
                fw.Path(
                    "roles/?$",
                    operations={
                        logical.LIST: fw.Operation(self.list_roles, summary="List the roles.")
                    },
                    help_synopsis="List roles.",
                    display_attrs=fw.DisplayAttributes(
                        operation_prefix="sample", operation_suffix="roles"
                    ),
                ),
                fw.Path(
                    "roles/" + fw.generic_name_regex("name"),
                    fields=role_fields,
                    operations={
                        logical.CREATE: fw.Operation(self.write_role, summary="Create a role."),
                        logical.UPDATE: fw.Operation(self.write_role, summary="Update a role."),
                        logical.READ: fw.Operation(self.read_role, summary="Read a role."),
                        logical.DELETE: fw.Operation(self.delete_role, summary="Delete a role."),
                    },
                    existence_check=self.role_exists,
                    help_synopsis="Manage roles.",
                    help_description="Roles say what credentials look like.",
                    display_attrs=attrs,
                ),
                fw.Path(
                    "boom",
                    operations={logical.READ: fw.Operation(self.boom)},
                    help_synopsis="Always fails.",
                ),
            ],
            special_paths=logical.SpecialPaths(local_storage=(fw.WAL_PREFIX,)),
            periodic_func=self.periodic,
            invalidate_func=self.calls.invalidated.append,
            clean_func=self.clean,
        )

    def role_exists(self, request: logical.Request, data: fw.FieldData) -> bool:
        return request.storage.get("role/" + data.get_str("name")) is not None

    def write_role(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        name = data.get_str("name")
        body = {
            "ttl": data.get_int("ttl"),
            "max_ttl": data.get_int("max_ttl"),
            "policies": data.get_str_list("policies"),
            "enabled": data.get_bool("enabled"),
        }
        self.calls.writes.append(body)

        with self.locks.locked("role/" + name):
            request.storage.put(
                logical.StorageEntry(key="role/" + name, value=json.dumps(body).encode())
            )
        return None

    def read_role(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:

        entry = request.storage.get("role/" + data.get_str("name"))
        if entry is None:
            return None
        return logical.Response(data=json.loads(entry.value))

    def delete_role(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        request.storage.delete("role/" + data.get_str("name"))
        return None

    def list_roles(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return fw.list_response(request.storage.list("role/"))

    def boom(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        raise RuntimeError("secret-value-xyz leaked into an exception")

    def periodic(self, request: logical.Request) -> None:
        self.calls.periodic += 1

    def clean(self) -> None:
        self.calls.cleaned += 1


@pytest.fixture
def storage() -> logical.InmemStorage:
    return logical.InmemStorage()


@pytest.fixture
def backend(storage: logical.InmemStorage) -> SampleBackend:
    b = SampleBackend()
    b.setup(logical.BackendConfig(storage=storage, system_view=logical.StaticSystemView()))
    return b


@pytest.fixture
def send(backend: SampleBackend, storage: logical.InmemStorage) -> Any:
    """Send a request the way the shim does: storage set on the request."""

    def _send(operation: str, path: str, data: dict[str, Any] | None = None) -> Any:
        request = logical.Request(operation=operation, path=path, data=data or {}, id="req-1")
        request.storage = storage
        return backend.handle_request(request)

    return _send
