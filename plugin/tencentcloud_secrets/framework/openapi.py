"""OpenAPI 3 documents for ``vault path-help`` and ``sys/internal/specs/openapi``.

Vault merges what every mount returns for its help operation into one document, so the shape
and naming here follow Vault's own engines: operation ids are ``prefix-verb-suffix``, request
bodies are named components, LIST is a GET on the path with a trailing slash. The result is a
plain JSON-ready dict because it travels inside a response's data.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tencentcloud_secrets.framework.fields import DisplayAttributes, Field, FieldType
from tencentcloud_secrets.framework.path import Operation, Path
from tencentcloud_secrets.framework.patterns import UnpresentablePatternError, expand_pattern
from tencentcloud_secrets_shim import logical

OAS_VERSION = "3.0.2"
JSON = dict[str, Any]

_NON_WORD = re.compile(r"[^\w]+", re.ASCII)
_PATH_FIELD = re.compile(r"{(\w+)}", re.ASCII)
_WHITESPACE = re.compile(r"\s+")
# Create comes before update so that, when both exist, update's documentation wins.
_OPERATION_ORDER = (
    logical.CREATE,
    logical.UPDATE,
    logical.PATCH,
    logical.READ,
    logical.LIST,
    logical.DELETE,
)
_STANDARD_LIST_RESPONSE: JSON = {
    "type": "object",
    "properties": {"keys": {"type": "array", "items": {"type": "string"}}},
}

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SchemaType:
    """How one field type is written in JSON Schema."""

    base_type: str
    items: str = ""
    format: str = ""
    pattern: str = ""


_SCHEMA_TYPES: dict[FieldType, SchemaType] = {
    FieldType.STRING: SchemaType("string"),
    FieldType.HEADER: SchemaType("string"),
    # Vault publishes its own (RE2) spelling of the name rule.
    FieldType.NAME_STRING: SchemaType("string", pattern=r"\w([\w-.]*\w)?"),
    FieldType.LOWERCASE_STRING: SchemaType("string", format="lowercase"),
    FieldType.INT: SchemaType("integer"),
    FieldType.INT64: SchemaType("integer", format="int64"),
    FieldType.DURATION_SECOND: SchemaType("string", format="duration"),
    FieldType.SIGNED_DURATION_SECOND: SchemaType("string", format="duration"),
    FieldType.BOOL: SchemaType("boolean"),
    FieldType.MAP: SchemaType("object", format="map"),
    FieldType.KV_PAIRS: SchemaType("object", format="kvpairs"),
    FieldType.SLICE: SchemaType("array", items="object"),
    FieldType.STRING_SLICE: SchemaType("array", items="string"),
    FieldType.COMMA_STRING_SLICE: SchemaType("array", items="string"),
    FieldType.COMMA_INT_SLICE: SchemaType("array", items="integer"),
    FieldType.TIME: SchemaType("string", format="date-time"),
    FieldType.FLOAT: SchemaType("number", format="float"),
}


def schema_type(field_type: FieldType) -> SchemaType:
    return _SCHEMA_TYPES[field_type]


@dataclasses.dataclass(frozen=True)
class DocumentContext:
    """What documenting a path needs to know about the backend it belongs to."""

    special_paths: logical.SpecialPaths = dataclasses.field(default_factory=logical.SpecialPaths)
    backend_type: int = logical.TYPE_LOGICAL
    request_response_prefix: str = ""


def new_document(vault_version: str) -> JSON:
    return {
        "openapi": OAS_VERSION,
        "info": {
            "title": "HashiCorp Vault API",
            "description": (
                "HTTP API that gives you full access to Vault. "
                "All API routes are prefixed with `/v1/`."
            ),
            "version": vault_version,
            "license": {
                "name": "Mozilla Public License 2.0",
                "url": "https://www.mozilla.org/en-US/MPL/2.0",
            },
        },
        "paths": {},
        "components": {"schemas": {}},
    }


def clean_string(text: str) -> str:
    return _WHITESPACE.sub(" ", text.strip())


def hyphenated_to_title_case(text: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in text.split("-"))


def display_attrs_json(attrs: DisplayAttributes | None) -> JSON | None:
    """Display attributes as Vault emits them: camelCase, empty ones and operation hints omitted."""
    if attrs is None:
        return None
    out: JSON = {}
    for key, value in (
        ("name", attrs.name),
        ("description", attrs.description),
        ("value", attrs.value),
        ("sensitive", attrs.sensitive),
        ("navigation", attrs.navigation),
        ("itemType", attrs.item_type),
        ("group", attrs.group),
        ("action", attrs.action),
        ("editType", attrs.edit_type),
        ("identifier", attrs.identifier),
    ):
        if value not in (None, "", False):
            out[key] = value
    return out or None


def special_path_match(path: str, special_paths: Sequence[str]) -> bool:
    """Whether ``path`` is covered by a special-path entry (``*`` suffix, ``+`` segment)."""
    path_parts = path.split("/")
    for special in special_paths:
        if special == path:
            return True
        if special.endswith("*") and path.startswith(special[:-1]):
            return True
        if "+" in special and _match_by_parts(path_parts, special.split("/")):
            return True
    return False


def _match_by_parts(path_parts: list[str], special_parts: list[str]) -> bool:
    if len(path_parts) < len(special_parts):
        return False
    for part, pattern in zip(path_parts, special_parts, strict=False):
        if pattern == "+":
            continue
        if pattern == "*":
            return True
        if pattern.endswith("*") and part.startswith(pattern[:-1]):
            return True
        if pattern != part:
            return False
    return len(path_parts) == len(special_parts)


def construct_operation_id(
    path: str,
    path_index: int,
    path_attrs: DisplayAttributes | None,
    operation: str,
    operation_attrs: DisplayAttributes | None,
    default_prefix: str,
) -> str:
    """``prefix-verb-suffix`` from display attributes, falling back to the path and operation.

    A suffix may list one alternative per expanded path, separated by ``|``.
    """
    prefix = verb = suffix = ""
    for attrs in (operation_attrs, path_attrs):
        if attrs is None:
            continue
        prefix = prefix or attrs.operation_prefix
        verb = verb or attrs.operation_verb
        suffix = suffix or attrs.operation_suffix

    index_out_of_range = False
    suffixes = suffix.split("|")
    if len(suffixes) > 1 or path_index > 0:
        if path_index >= len(suffixes):
            suffix = ""
            index_out_of_range = True
        else:
            suffix = suffixes[path_index]

    need_prefix = not prefix and not verb
    need_verb = not verb
    need_suffix = not suffix and (not verb or index_out_of_range)
    if need_prefix:
        prefix = default_prefix
    if need_verb:
        verb = "write" if operation == logical.UPDATE else operation
    if need_suffix:
        suffix = _hyphenate(_NON_WORD.split(path))
    return _hyphenate([prefix, verb, suffix])


def _hyphenate(parts: Iterable[str]) -> str:
    return "-".join(part for part in parts if part).lower()


def _parameter_schema(field: Field) -> JSON:
    kind = schema_type(field.type)
    schema: JSON = {"type": kind.base_type}
    if kind.pattern:
        schema["pattern"] = kind.pattern
    _add_common(schema, field)
    return schema


def _add_common(schema: JSON, field: Field) -> None:
    if field.allowed_values:
        schema["enum"] = list(field.allowed_values)
    if field.default is not None:
        schema["default"] = field.default
    attrs = display_attrs_json(field.effective_display_attrs())
    if attrs:
        schema["x-vault-displayAttrs"] = attrs


def _property_schema(field: Field) -> JSON:
    kind = schema_type(field.type)
    schema: JSON = {"type": kind.base_type}
    description = clean_string(field.description)
    if description:
        schema["description"] = description
    if kind.format:
        schema["format"] = kind.format
    if kind.pattern:
        schema["pattern"] = kind.pattern
    _add_common(schema, field)
    if field.deprecated:
        schema["deprecated"] = True
    if kind.base_type == "array":
        schema["items"] = {"type": kind.items}
    return schema


def _parameter(name: str, field: Field, where: str, *, required: bool) -> JSON:
    param: JSON = {"name": name}
    description = clean_string(field.description)
    if description:
        param["description"] = description
    param["in"] = where
    param["schema"] = _parameter_schema(field)
    if required:
        param["required"] = True
    if field.deprecated:
        param["deprecated"] = True
    return param


def _split_fields(
    fields: Mapping[str, Field], openapi_path: str, captures: frozenset[str]
) -> tuple[dict[str, Field], dict[str, Field], dict[str, Field]]:
    # A field named by any capture is a path field; it is left out entirely from variants of
    # the path in which its (optional) capture does not appear.
    path_fields = {name: fields.get(name, Field()) for name in _PATH_FIELD.findall(openapi_path)}
    query_fields: dict[str, Field] = {}
    body_fields: dict[str, Field] = {}
    for name, field in fields.items():
        if name in captures:
            continue
        (query_fields if field.query else body_fields)[name] = field
    return path_fields, query_fields, body_fields


def _responses(doc: JSON, operation: str) -> dict[str, JSON]:
    if operation == logical.DELETE:
        return {"204": {"description": "empty body"}}
    if operation == logical.LIST:
        doc["components"]["schemas"]["StandardListResponse"] = _STANDARD_LIST_RESPONSE
        ref = {"$ref": "#/components/schemas/StandardListResponse"}
        return {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
    return {"200": {"description": "OK"}}


def document_path(doc: JSON, path: Path, context: DocumentContext) -> None:
    """Add the OpenAPI paths of one route to ``doc``."""
    special = context.special_paths
    try:
        expanded = expand_pattern(path.pattern)
        variants, captures, unpublished = expanded.paths, expanded.captures, False
    except UnpresentablePatternError:
        # Keep the route visible to a human reader, without operations no client can call.
        variants, captures, unpublished = (path.pattern,), frozenset[str](), True

    for index, variant in enumerate(variants):
        item: JSON = {}
        description = clean_string(path.help_synopsis)
        if description:
            item["description"] = description
        path_fields, query_fields, body_fields = _split_fields(path.fields, variant, captures)
        parameters = [
            _parameter(name, field, "path", required=True)
            for name, field in sorted(path_fields.items())
        ]
        if parameters:
            item["parameters"] = parameters
        attrs = display_attrs_json(path.display_attrs)
        if attrs:
            item["x-vault-displayAttrs"] = attrs

        methods: dict[str, JSON] = {}
        list_operation: JSON | None = None
        for operation in _OPERATION_ORDER:
            op = path.operations.get(operation)
            if op is None or unpublished:
                continue
            if operation == logical.CREATE:
                item["x-vault-createSupported"] = True
                if logical.UPDATE in path.operations:
                    continue
            operation_id = construct_operation_id(
                variant,
                index,
                path.display_attrs,
                operation,
                op.display_attrs,
                context.request_response_prefix,
            )
            oas = _operation_json(
                doc, path, operation, op, operation_id, query_fields, body_fields, context
            )
            if operation == logical.LIST:
                list_operation = oas
            else:
                methods[_METHOD[operation]] = oas

        has_trailing_slash = variant.endswith("/")
        if has_trailing_slash and methods:
            logger.warning(
                "OpenAPI: dropping non-list operations of %s; a path with a required trailing "
                "slash can only be listed",
                variant,
            )
            methods = {}
        if list_operation is None or methods:
            _put_path(doc, "/" + variant, {**item, **_flags(variant, special), **methods})
        if list_operation is not None:
            list_path = variant if has_trailing_slash else variant + "/"
            list_item = {k: v for k, v in item.items() if k != "x-vault-createSupported"}
            list_item.update(_flags(list_path, special))
            list_item["get"] = list_operation
            _put_path(doc, "/" + list_path, list_item)


_METHOD = {
    logical.CREATE: "post",
    logical.UPDATE: "post",
    logical.PATCH: "patch",
    logical.READ: "get",
    logical.DELETE: "delete",
}


def _flags(openapi_path: str, special: logical.SpecialPaths) -> JSON:
    flags: JSON = {}
    if special_path_match(openapi_path, special.root):
        flags["x-vault-sudo"] = True
    if special_path_match(openapi_path, special.unauthenticated):
        flags["x-vault-unauthenticated"] = True
    return flags


def _put_path(doc: JSON, key: str, item: JSON) -> None:
    if key in doc["paths"]:
        logger.warning("OpenAPI: several routes produce %s; the last one wins", key)
    doc["paths"][key] = item


def _operation_json(
    doc: JSON,
    path: Path,
    operation: str,
    op: Operation,
    operation_id: str,
    query_fields: Mapping[str, Field],
    body_fields: Mapping[str, Field],
    context: DocumentContext,
) -> JSON:
    oas: JSON = {}
    if op.summary.strip():
        oas["summary"] = op.summary.strip()
    if op.description.strip():
        oas["description"] = op.description.strip()
    oas["operationId"] = operation_id
    if context.backend_type == logical.TYPE_LOGICAL:
        oas["tags"] = ["secrets"]
    elif context.backend_type == logical.TYPE_CREDENTIAL:
        oas["tags"] = ["auth"]

    if operation in (logical.CREATE, logical.UPDATE, logical.PATCH):
        body = _request_body(doc, path, op, operation_id, {**body_fields, **query_fields})
        if body is not None:
            oas["requestBody"] = body
    else:
        parameters: list[JSON] = []
        if operation == logical.LIST:
            parameters.append(
                {
                    "name": "list",
                    "description": "Must be set to `true`",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["true"]},
                    "required": True,
                }
            )
        parameters.extend(
            _parameter(name, field, "query", required=False) for name, field in query_fields.items()
        )
        if parameters:
            oas["parameters"] = sorted(parameters, key=lambda p: str(p["name"]))
    oas["responses"] = _responses(doc, operation)
    if op.deprecated:
        oas["deprecated"] = True
    return oas


def _request_body(
    doc: JSON, path: Path, op: Operation, operation_id: str, fields: Mapping[str, Field]
) -> JSON | None:
    schema: JSON = {
        "type": "object",
        "properties": {name: _property_schema(field) for name, field in sorted(fields.items())},
    }
    required = sorted(name for name, field in fields.items() if field.required)
    if required:
        schema["required"] = required
    if op.examples:
        schema["example"] = dict(op.examples[0])
    if path.takes_arbitrary_input:
        schema["additionalProperties"] = True
    if schema["properties"]:
        name = hyphenated_to_title_case(operation_id) + "Request"
        doc["components"]["schemas"][name] = schema
        ref = {"$ref": f"#/components/schemas/{name}"}
        return {"required": True, "content": {"application/json": {"schema": ref}}}
    if path.takes_arbitrary_input:
        del schema["properties"]
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    return None


def document_paths(doc: JSON, paths: Iterable[Path], context: DocumentContext) -> None:
    for path in paths:
        document_path(doc, path, context)
