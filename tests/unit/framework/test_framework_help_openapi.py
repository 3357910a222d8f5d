"""Help text and the OpenAPI document that ``vault path-help`` and Vault's specs read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.framework.openapi import (
    DocumentContext,
    construct_operation_id,
    document_path,
    new_document,
    special_path_match,
)
from tencentcloud_secrets_shim import logical


def test_root_help_lists_every_path(send: Any) -> None:
    response = send("help", "", None)
    assert set(response.data) == {"help", "see_also", "openapi"}
    assert response.data["see_also"] == []
    text = response.data["help"]
    assert text.startswith("## DESCRIPTION\n\nA sample backend for tests.")
    for route, synopsis in [
        ("^roles/?$", "List roles."),
        ("^boom$", "Always fails."),
        (r"^roles/(?P<name>\w(([\w.-]+)?\w)?)$", "Manage roles."),
    ]:
        assert f"\n    {route}\n        {synopsis}\n" in text + "\n"
    assert response.warnings == []


def test_root_help_document_shape(send: Any) -> None:
    doc = send("help", "", {"requestResponsePrefix": "sample"}).data["openapi"]
    assert doc["openapi"] == "3.0.2"
    assert set(doc) == {"openapi", "info", "paths", "components"}
    assert doc["info"]["version"] == ""  # StaticSystemView reports no Vault version
    assert set(doc["paths"]) == {"/roles/", "/roles/{name}", "/boom"}
    json.dumps(doc)  # must travel as JSON


def test_vault_version_unknown_without_setup() -> None:
    response = fw.Backend().handle_request(logical.Request(operation="help", path=""))
    assert response is not None
    assert response.data is not None
    assert response.data["openapi"]["info"]["version"] == "unknown"


def test_role_path_document(send: Any) -> None:
    doc = send("help", "roles/app", {"requestResponsePrefix": "sample"}).data["openapi"]
    item = doc["paths"]["/roles/{name}"]
    assert item["description"] == "Manage roles."
    assert item["x-vault-createSupported"] is True
    assert item["parameters"] == [
        {
            "name": "name",
            "description": "Name of the role.",
            "in": "path",
            "schema": {"type": "string", "pattern": r"\w([\w-.]*\w)?"},
            "required": True,
        }
    ]
    assert item["get"]["operationId"] == "sample-read-role"
    assert item["get"]["tags"] == ["secrets"]
    assert item["post"]["operationId"] == "sample-write-role"
    assert item["post"]["summary"] == "Update a role."  # update wins over create
    assert item["delete"]["responses"] == {"204": {"description": "empty body"}}
    ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/SampleWriteRoleRequest"
    body = doc["components"]["schemas"]["SampleWriteRoleRequest"]
    assert "name" not in body["properties"]  # a path parameter, not a body field
    assert body["properties"]["ttl"] == {
        "type": "string",
        "description": "Lease TTL.",
        "format": "duration",
        "default": "1h",
    }
    assert body["properties"]["policies"]["items"] == {"type": "string"}
    assert body["properties"]["secret_key"]["x-vault-displayAttrs"] == {"sensitive": True}
    assert body["properties"]["old_name"]["deprecated"] is True
    assert body["properties"]["enabled"]["type"] == "boolean"


def test_list_path_document(send: Any) -> None:
    doc = send("help", "roles", {"requestResponsePrefix": "sample"}).data["openapi"]
    assert set(doc["paths"]) == {"/roles/"}
    get = doc["paths"]["/roles/"]["get"]
    assert get["operationId"] == "sample-list-roles"
    assert get["parameters"][0]["name"] == "list"
    assert get["parameters"][0]["schema"] == {"type": "string", "enum": ["true"]}
    assert "StandardListResponse" in doc["components"]["schemas"]


def test_path_help_text(send: Any) -> None:
    text = send("help", "roles/app").data["help"]
    assert text.startswith("Request:        roles/app\nMatching Route: ^roles/")
    assert "\n## PARAMETERS\n\n    enabled (bool)\n\n        Whether it is on.\n" in text
    assert "    policies (slice)\n" in text
    assert "    ttl (duration (sec))\n" in text
    assert "        (DEPRECATED) Use name.\n" in text
    assert text.endswith("## DESCRIPTION\n\nRoles say what credentials look like.")


def test_help_on_unknown_path_is_404(send: Any) -> None:
    with pytest.raises(logical.UnsupportedPath):
        send("help", "nowhere")


def test_help_ignores_invalid_data(send: Any) -> None:
    response = send("help", "roles/app", {"ttl": "garbage", "requestResponsePrefix": "x"})
    assert "help" in response.data


def test_default_operation_ids_fall_back_to_prefix_and_path() -> None:
    assert (
        construct_operation_id("roles/{name}", 0, None, "update", None, "tc")
        == "tc-write-roles-name"
    )
    assert construct_operation_id("config", 0, None, "read", None, "") == "read-config"
    attrs = fw.DisplayAttributes(operation_prefix="tc", operation_suffix="key|key-version")
    assert construct_operation_id("k", 1, attrs, "read", None, "x") == "tc-read-key-version"
    verb = fw.DisplayAttributes(operation_verb="rotate")
    assert construct_operation_id("rotate-root", 0, attrs, "update", verb, "x") == "tc-rotate-key"


def test_special_path_flags() -> None:
    assert special_path_match("config/root", ["config/*"])
    assert special_path_match("a/x/b", ["a/+/b"])
    assert not special_path_match("a/x/c", ["a/+/b"])
    assert not special_path_match("other", ["config"])
    path = fw.Path(
        "rotate-root",
        operations={logical.UPDATE: fw.Operation(lambda r, d: None)},
    )
    doc = new_document("v")
    document_path(
        doc, path, DocumentContext(special_paths=logical.SpecialPaths(root=("rotate-*",)))
    )
    assert doc["paths"]["/rotate-root"]["x-vault-sudo"] is True


def test_unpresentable_pattern_documented_without_operations() -> None:
    path = fw.Path(".*", operations={logical.READ: fw.Operation(lambda r, d: None)})
    doc = new_document("v")
    document_path(doc, path, DocumentContext())
    assert doc["paths"] == {"/^.*$": {}}


def test_examples_and_default_responses() -> None:
    op = fw.Operation(lambda r, d: None, examples=({"region": "ap-guangzhou"},))
    path = fw.Path(
        "config",
        fields={"region": fw.Field(description="Region.", required=True)},
        operations={logical.UPDATE: op, logical.READ: op},
        display_attrs=fw.DisplayAttributes(operation_prefix="tc", operation_suffix="config"),
    )
    doc = new_document("v")
    document_path(doc, path, DocumentContext())
    schemas = doc["components"]["schemas"]
    assert schemas["TcWriteConfigRequest"]["required"] == ["region"]
    assert schemas["TcWriteConfigRequest"]["example"] == {"region": "ap-guangzhou"}
    assert doc["paths"]["/config"]["get"]["responses"] == {"200": {"description": "OK"}}


def test_arbitrary_input_allows_additional_properties() -> None:
    path = fw.Path(
        "kv",
        operations={logical.UPDATE: fw.Operation(lambda r, d: None)},
        takes_arbitrary_input=True,
    )
    doc = new_document("v")
    document_path(doc, path, DocumentContext())
    schema = doc["paths"]["/kv"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"type": "object", "additionalProperties": True}
