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


class _BrokenStorage(logical.InmemStorage):
    """Storage failing the way no storage should: not with a StorageError."""

    def list(self, prefix: str) -> list[str]:
        raise RuntimeError("secret-value-xyz in a storage failure")


def test_every_unexpected_failure_is_the_same_500_naming_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not only a handler's: the framework's own work on a request (here the WAL replay, on
    a storage that fails oddly) and an existence check end the same way."""

    def check(request: logical.Request, data: fw.FieldData) -> bool:
        raise RuntimeError("secret-value-xyz in a check")

    def write(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return None

    def rollback(request: logical.Request, data: Any) -> None:
        return None

    b = fw.Backend(
        paths=[
            fw.Path("x", operations={logical.UPDATE: fw.Operation(write)}, existence_check=check)
        ],
        wal_rollback={"kind": rollback},
    )
    rollback_request = logical.Request(
        operation="rollback", path="", id="req-rb", storage=_BrokenStorage()
    )
    check_request = logical.Request(operation="update", path="x", id="req-ec")
    with caplog.at_level(logging.ERROR):
        with pytest.raises(fw.InternalError) as rolled_back:
            b.handle_request(rollback_request)
        with pytest.raises(fw.InternalError) as checked:
            b.handle_existence_check(check_request)
    for caught, request_id in ((rolled_back, "req-rb"), (checked, "req-ec")):
        assert caught.value.status == 500
        assert str(caught.value) == (
            f"internal error (request id {request_id}); the plugin log has the details"
        )
        assert caught.value.__cause__ is None
    # Each went to the log once, with its traceback.
    assert [(r.getMessage(), r.exc_info is not None) for r in caplog.records] == [
        ("rollback on '' failed (request id req-rb)", True),
        ("update on 'x' failed (request id req-ec)", True),
    ]


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

    def inline(operation: str, path: str) -> bool:
        return b.prepare(logical.Request(operation=operation, path=path)).inline

    assert inline("read", "things/a")
    assert not inline("update", "things/a")
    assert not inline("delete", "things/a")
    assert not inline("read", "elsewhere")
    assert not inline("help", "things/a")
    assert not inline("revoke", "things/a")


def test_a_request_is_routed_once_however_often_it_runs(storage: logical.InmemStorage) -> None:
    tried: list[str] = []

    class Watched(fw.Path):
        def match(self, path: str) -> dict[str, str] | None:
            tried.append(self.pattern)
            return super().match(path)

    def handler(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return logical.Response(data={"name": data.get_str("name")})

    b = fw.Backend(
        paths=[
            Watched("other"),
            Watched(
                "things/" + fw.generic_name_regex("name"),
                fields={"name": fw.Field(fw.FieldType.STRING)},
                operations={logical.READ: fw.Operation(handler, inline=True)},
            ),
        ]
    )
    prepared = b.prepare(logical.Request(operation="read", path="things/a", storage=storage))
    assert prepared.inline
    # The shim runs an inline request a second time when the first attempt would wait.
    for _ in range(2):
        response = prepared.run()
        assert isinstance(response, logical.Response)
        assert response.data == {"name": "a"}
    assert tried == [path.pattern for path in b.paths]


def test_unknown_parameters_are_reported_even_when_the_handler_returns_nothing(
    send: Any,
) -> None:
    response = send("update", "roles/app", {"colour": "blue"})
    assert response is not None
    assert response.warnings == ["Endpoint ignored these unrecognized parameters: [colour]"]
