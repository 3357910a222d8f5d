"""Builders for the response shapes Vault clients expect (lists, help, errors)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tencentcloud_secrets_shim import logical

error_response = logical.error_response


def list_response(keys: Iterable[str]) -> logical.Response:
    """``{"keys": [...]}``; with no keys the data is empty, which Vault answers with 404."""
    data: dict[str, Any] = {}
    key_list = list(keys)
    if key_list:
        data["keys"] = key_list
    return logical.Response(data=data)


def list_response_with_info(keys: Iterable[str], key_info: Mapping[str, Any]) -> logical.Response:
    """A list response plus ``key_info`` for the listed keys that have an entry in it."""
    key_list = list(keys)
    response = list_response(key_list)
    info = {key: key_info[key] for key in key_list if key in key_info}
    if info and response.data is not None:
        response.data["key_info"] = info
    return response


def help_response(
    text: str, openapi: Mapping[str, Any] | None, see_also: Iterable[str] = ()
) -> logical.Response:
    return logical.Response(
        data={"help": text, "see_also": list(see_also), "openapi": dict(openapi or {})}
    )
