"""Run a Python Vault backend plugin: go-plugin's handshake and services, Vault's backend
protocol, and plain Python objects for the engine. Knows nothing about any cloud.

Importing the package loads nothing: ``serve`` (and with it gRPC and protobuf) is loaded on
first use, so the certificate's child process (``identity``) starts in a few milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .launch import serve

__all__ = ["serve"]


def __getattr__(name: str) -> Any:
    if name == "serve":
        from .launch import serve

        return serve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
