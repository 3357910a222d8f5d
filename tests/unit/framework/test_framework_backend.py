"""Request handling: routing, statuses, warnings, existence checks and hooks."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets_shim import logical


def _keys(storage: logical.InmemStorage) -> list[str]:
    return storage.list("") + storage.list("role/")


def test_backend_satisfies_the_contract(backend: Any) -> None:
    contract: logical.Backend = backend
    assert contract.backend_type() == logical.TYPE_LOGICAL
    assert contract.special_paths().local_storage == ("wal/",)


def test_write_then_read_with_parsed_fields(send: Any, storage: logical.InmemStorage) -> None:
    assert send("update", "roles/app", {"ttl": "1h30m", "policies": "a, b"}) is None
    response = send("read", "roles/app")
    assert response.data == {"ttl": 5400, "max_ttl": 0, "policies": ["a", "b"], "enabled": True}
    assert storage.get("role/app") is not None


def test_read_of_missing_object_is_none(send: Any) -> None:
    assert send("read", "roles/nothing") is None


def test_unknown_path_is_unsupported_path(send: Any) -> None:
    with pytest.raises(logical.UnsupportedPath, match="unsupported path"):
        send("read", "nope")


def test_route_must_match_whole_path(send: Any) -> None:
    with pytest.raises(logical.UnsupportedPath):
        send("read", "roles/app/extra")


def test_wrong_operation_is_unsupported_operation(send: Any, storage: logical.InmemStorage) -> None:
    with pytest.raises(logical.UnsupportedOperation, match="unsupported operation"):
        send("delete", "boom")
    with pytest.raises(logical.UnsupportedOperation):
        send("update", "roles/")
    assert _keys(storage) == []


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"ttl": "forever"}, "ttl", "duration"),
        ({"enabled": "maybe"}, "enabled", "boolean"),
        ({"max_ttl": "-5"}, "max_ttl", "negative"),
        ({"policies": [["x"]]}, "policies", "list of strings"),
    ],
)
def test_malformed_values_are_400_and_write_nothing(
    send: Any, storage: logical.InmemStorage, data: dict[str, Any], field: str, rule: str
) -> None:
    response = send("update", "roles/app", data)
    assert response.is_error
    message = response.data["error"]
    assert message.startswith("Field validation failed: ")
    assert f'"{field}"' in message
    assert rule in message
    assert _keys(storage) == []


def test_name_breaking_the_route_rule_is_404(send: Any, storage: logical.InmemStorage) -> None:
    # A name with a trailing dash never matches the generic name pattern at all.
    with pytest.raises(logical.UnsupportedPath):
        send("update", "roles/app-")
    assert _keys(storage) == []


def test_value_not_echoed_in_errors(send: Any) -> None:
    response = send("update", "roles/app", {"ttl": "s3cr3t-TOKEN", "secret_key": "x"})
    assert "s3cr3t-TOKEN" not in response.data["error"]


def test_required_field_enforced_on_write(storage: logical.InmemStorage) -> None:
    def handler(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        raise AssertionError("handler must not run")

    b = fw.Backend(
        paths=[
            fw.Path(
                "config",
                fields={"region": fw.Field(required=True), "key": fw.Field(required=True)},
                operations={
                    logical.UPDATE: fw.Operation(handler),
                    logical.READ: fw.Operation(lambda r, d: logical.Response(data={})),
                },
            )
        ]
    )
    request = logical.Request(operation="update", path="config", data={"key": "k"})
    request.storage = storage
    response = b.handle_request(request)
    assert response is not None
    assert response.data == {"error": 'Field validation failed: missing required field "region"'}
    read = b.handle_request(logical.Request(operation="read", path="config"))
    assert read is not None
    assert read.data == {}


def test_unknown_parameters_are_a_warning(send: Any) -> None:
    send("update", "roles/app", {})
    response = send("read", "roles/app", {"zeta": 1, "alpha": 2})
    assert response.warnings == ["Endpoint ignored these unrecognized parameters: [alpha zeta]"]


def test_path_capture_wins_over_body(send: Any, backend: Any) -> None:
    send("update", "roles/app", {})
    response = send("read", "roles/app", {"name": "other"})
    assert response.warnings == [
        "Endpoint replaced the value of these parameters with the values captured from the "
        "endpoint's path: [name]"
    ]


def test_list_response_shapes(send: Any) -> None:
    assert send("list", "roles/").data == {}
    send("update", "roles/b", {})
    send("update", "roles/a", {})
    assert send("list", "roles/").data == {"keys": ["a", "b"]}
    with_info = fw.list_response_with_info(["a", "b"], {"a": {"ttl": 1}, "zzz": {}})
    assert with_info.data == {"keys": ["a", "b"], "key_info": {"a": {"ttl": 1}}}


def test_internal_failure_is_logged_not_returned(
    send: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(fw.InternalError) as caught:
        send("read", "boom")
    assert caught.value.status == 500
    assert "req-1" in str(caught.value)
    assert "Traceback" not in str(caught.value)
    assert "secret-value-xyz" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert "RuntimeError" in caplog.text  # the traceback went to the log


def test_logical_errors_pass_through(storage: logical.InmemStorage) -> None:
    def denied(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        raise logical.PermissionDenied()

    def coded(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        raise logical.CodedError(409, "conflict")

    b = fw.Backend(
        paths=[
            fw.Path("a", operations={logical.READ: fw.Operation(denied)}),
            fw.Path("b", operations={logical.READ: fw.Operation(coded)}),
        ]
    )
    with pytest.raises(logical.PermissionDenied):
        b.handle_request(logical.Request(operation="read", path="a"))
    with pytest.raises(logical.CodedError) as caught:
        b.handle_request(logical.Request(operation="read", path="b"))
    assert caught.value.status == 409


def _existence(backend: Any, storage: logical.InmemStorage, op: str, path: str) -> Any:
    request = logical.Request(operation=op, path=path)
    request.storage = storage
    return backend.handle_existence_check(request)


def test_existence_check(backend: Any, storage: logical.InmemStorage) -> None:
    assert _existence(backend, storage, "create", "roles/app") == (True, False)
    storage.put(logical.StorageEntry(key="role/app", value=json.dumps({}).encode()))
    assert _existence(backend, storage, "update", "roles/app") == (True, True)
    # A path without an existence check makes Vault use update.
    assert _existence(backend, storage, "update", "boom") == (False, False)
    with pytest.raises(logical.UnsupportedPath):
        _existence(backend, storage, "update", "nowhere")
    with pytest.raises(logical.CodedError):
        _existence(backend, storage, "read", "roles/app")


def test_create_operation_runs_create_handler(send: Any, backend: Any) -> None:
    assert send("create", "roles/new", {"ttl": 60}) is None
    assert backend.calls.writes[-1]["ttl"] == 60


def test_hooks(backend: Any, send: Any) -> None:
    backend.initialize()
    backend.invalidate("config")
    backend.cleanup()
    assert send("rollback", "") is None
    assert backend.calls.initialized == 1
    assert backend.calls.invalidated == ["config"]
    assert backend.calls.cleaned == 1
    assert backend.calls.periodic == 1


def test_periodic_failure_is_reported(storage: logical.InmemStorage) -> None:
    def periodic(request: logical.Request) -> None:
        raise logical.InvalidRequest("tidy failed")

    b = fw.Backend(periodic_func=periodic)
    # An error, not an error response: Vault's rollback manager logs it as a failure.
    with pytest.raises(logical.CodedError) as err:
        b.handle_request(logical.Request(operation="rollback", path=""))
    assert err.value.status == 500
    assert str(err.value) == "periodic function failed: tidy failed"


def test_first_declared_route_wins() -> None:
    def first(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return logical.Response(data={"which": "first"})

    def second(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return logical.Response(data={"which": "second"})

    b = fw.Backend(
        paths=[
            fw.Path("x/special", operations={logical.READ: fw.Operation(first)}),
            fw.Path(
                "x/" + fw.match_all_regex("rest"), operations={logical.READ: fw.Operation(second)}
            ),
        ]
    )
    special = b.handle_request(logical.Request(operation="read", path="x/special"))
    other = b.handle_request(logical.Request(operation="read", path="x/other"))
    assert special is not None
    assert special.data == {"which": "first"}
    assert other is not None
    assert other.data == {"which": "second"}


def test_duplicate_secret_type_rejected() -> None:
    def revoke(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return None

    with pytest.raises(ValueError, match="twice"):
        fw.Backend(secrets=[fw.Secret(type="k", revoke=revoke), fw.Secret(type="k", revoke=revoke)])


def test_only_declared_operations_run_inline() -> None:
    def handler(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return None

    b = fw.Backend(
        paths=[
            fw.Path(
                "things/" + fw.generic_name_regex("name"),
                fields={"name": fw.Field(fw.FieldType.STRING)},
                operations={
                    logical.READ: fw.Operation(handler, inline=True),
                    logical.UPDATE: fw.Operation(handler),
                },
            )
        ]
    )
    assert b.runs_inline(logical.Request(operation="read", path="things/a"))
    assert not b.runs_inline(logical.Request(operation="update", path="things/a"))
    assert not b.runs_inline(logical.Request(operation="delete", path="things/a"))
    assert not b.runs_inline(logical.Request(operation="read", path="elsewhere"))
    assert not b.runs_inline(logical.Request(operation="help", path="things/a"))


def test_unknown_parameters_are_reported_even_when_the_handler_returns_nothing(
    send: Any,
) -> None:
    response = send("update", "roles/app", {"colour": "blue"})
    assert response is not None
    assert response.warnings == ["Endpoint ignored these unrecognized parameters: [colour]"]
