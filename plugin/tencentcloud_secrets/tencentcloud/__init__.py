"""Tencent Cloud API 3.0 client for CAM and STS, over HTTP/1.1 connections of its own.

Knows nothing about Vault. Never logs, reprs or raises a secret key, token, password or
signature.

The names below load their modules on first use: the plugin process must print its
handshake line quickly, and ``ssl`` costs milliseconds to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cam import CamClient
    from .client import TencentCloudClient
    from .credentials import (
        CredentialChain,
        Credentials,
        EnvironmentProvider,
        InstanceRoleProvider,
        StaticProvider,
        default_chain,
        region_from_environment,
    )
    from .deadline import Deadline
    from .endpoints import INTL_ROOT_DOMAIN, Endpoint, EndpointResolver
    from .errors import (
        AlreadyExistsError,
        ApiError,
        AuthenticationError,
        CallCancelledError,
        CredentialsError,
        InvalidParameterError,
        LimitExceededError,
        NotFoundError,
        ServiceInternalError,
        TencentCloudError,
        ThrottledError,
        TransportError,
    )
    from .sts import StsClient
    from .transport import RetryPolicy, Timeouts, Transport

_HOME = {
    "CamClient": "cam",
    "TencentCloudClient": "client",
    "CredentialChain": "credentials",
    "Credentials": "credentials",
    "EnvironmentProvider": "credentials",
    "InstanceRoleProvider": "credentials",
    "StaticProvider": "credentials",
    "default_chain": "credentials",
    "region_from_environment": "credentials",
    "Deadline": "deadline",
    "INTL_ROOT_DOMAIN": "endpoints",
    "Endpoint": "endpoints",
    "EndpointResolver": "endpoints",
    "AlreadyExistsError": "errors",
    "ApiError": "errors",
    "AuthenticationError": "errors",
    "CallCancelledError": "errors",
    "CredentialsError": "errors",
    "ServiceInternalError": "errors",
    "InvalidParameterError": "errors",
    "LimitExceededError": "errors",
    "NotFoundError": "errors",
    "TencentCloudError": "errors",
    "ThrottledError": "errors",
    "TransportError": "errors",
    "StsClient": "sts",
    "RetryPolicy": "transport",
    "Timeouts": "transport",
    "Transport": "transport",
}

__all__ = [
    "INTL_ROOT_DOMAIN",
    "AlreadyExistsError",
    "ApiError",
    "AuthenticationError",
    "CallCancelledError",
    "CamClient",
    "CredentialChain",
    "Credentials",
    "CredentialsError",
    "Deadline",
    "Endpoint",
    "EndpointResolver",
    "EnvironmentProvider",
    "InstanceRoleProvider",
    "InvalidParameterError",
    "LimitExceededError",
    "NotFoundError",
    "RetryPolicy",
    "ServiceInternalError",
    "StaticProvider",
    "StsClient",
    "TencentCloudClient",
    "TencentCloudError",
    "ThrottledError",
    "Timeouts",
    "Transport",
    "TransportError",
    "default_chain",
    "region_from_environment",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
