"""Tencent Cloud API 3.0 client for CAM and STS, written on ``requests``.

Knows nothing about Vault. Never logs, reprs or raises a secret key, token, password or
signature.
"""

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
from .endpoints import INTL_ROOT_DOMAIN, Endpoint, EndpointResolver
from .errors import (
    AlreadyExistsError,
    ApiError,
    AuthenticationError,
    CredentialsError,
    InternalError,
    InvalidParameterError,
    LimitExceededError,
    NotFoundError,
    TencentCloudError,
    ThrottledError,
    TransportError,
)
from .sts import StsClient
from .transport import RetryPolicy, Timeouts, Transport

__all__ = [
    "INTL_ROOT_DOMAIN",
    "AlreadyExistsError",
    "ApiError",
    "AuthenticationError",
    "CamClient",
    "CredentialChain",
    "Credentials",
    "CredentialsError",
    "Endpoint",
    "EndpointResolver",
    "EnvironmentProvider",
    "InstanceRoleProvider",
    "InternalError",
    "InvalidParameterError",
    "LimitExceededError",
    "NotFoundError",
    "RetryPolicy",
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
