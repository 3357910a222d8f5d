"""Inputs and outputs of the STS (2018-08-13) actions, with their wire names in one place.

Session policies are taken as plain JSON and URL-encoded here, where the wire format
lives. Temporary secret keys and tokens are excluded from every repr.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ._wire import Tag, opt_int, opt_str, params, req_str


def encode_policy(policy: str | None) -> str | None:
    """STS wants the policy URL-encoded; every reserved character is escaped."""
    return None if policy is None else urllib.parse.quote(policy, safe="")


@dataclasses.dataclass(frozen=True)
class AssumeRoleRequest:
    role_arn: str
    role_session_name: str
    duration_seconds: int | None = None
    policy: str | None = None
    external_id: str | None = None
    tags: tuple[Tag, ...] = ()
    source_identity: str | None = None
    serial_number: str | None = None
    token_code: str | None = dataclasses.field(default=None, repr=False)

    def to_params(self) -> dict[str, Any]:
        return params(
            RoleArn=self.role_arn,
            RoleSessionName=self.role_session_name,
            DurationSeconds=self.duration_seconds,
            Policy=encode_policy(self.policy),
            ExternalId=self.external_id,
            Tags=[t.to_wire() for t in self.tags] or None,
            SourceIdentity=self.source_identity,
            SerialNumber=self.serial_number,
            TokenCode=self.token_code,
        )


@dataclasses.dataclass(frozen=True)
class GetFederationTokenRequest:
    name: str
    policy: str
    duration_seconds: int | None = None

    def to_params(self) -> dict[str, Any]:
        return params(
            Name=self.name,
            Policy=encode_policy(self.policy),
            DurationSeconds=self.duration_seconds,
        )


@dataclasses.dataclass(frozen=True)
class AssumeRoleWithWebIdentityRequest:
    provider_id: str
    role_arn: str
    role_session_name: str
    web_identity_token: str = dataclasses.field(repr=False)
    duration_seconds: int | None = None

    def to_params(self) -> dict[str, Any]:
        return params(
            ProviderId=self.provider_id,
            WebIdentityToken=self.web_identity_token,
            RoleArn=self.role_arn,
            RoleSessionName=self.role_session_name,
            DurationSeconds=self.duration_seconds,
        )


@dataclasses.dataclass(frozen=True)
class TemporaryCredentials:
    tmp_secret_id: str
    tmp_secret_key: str = dataclasses.field(repr=False)
    token: str = dataclasses.field(repr=False)
    expired_time: int | None = None
    expiration: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TemporaryCredentials:
        creds = data.get("Credentials")
        if not isinstance(creds, Mapping):
            raise KeyError("Credentials")
        return cls(
            tmp_secret_id=req_str(creds, "TmpSecretId"),
            tmp_secret_key=req_str(creds, "TmpSecretKey"),
            token=req_str(creds, "Token"),
            expired_time=opt_int(data, "ExpiredTime"),
            expiration=opt_str(data, "Expiration"),
        )


@dataclasses.dataclass(frozen=True)
class CallerIdentity:
    """``type`` is CAMUser or CAMRole."""

    arn: str
    account_id: str
    user_id: str | None = None
    principal_id: str | None = None
    type: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CallerIdentity:
        return cls(
            arn=req_str(data, "Arn"),
            account_id=req_str(data, "AccountId"),
            user_id=opt_str(data, "UserId"),
            principal_id=opt_str(data, "PrincipalId"),
            type=opt_str(data, "Type"),
        )


__all__ = [
    "AssumeRoleRequest",
    "AssumeRoleWithWebIdentityRequest",
    "CallerIdentity",
    "GetFederationTokenRequest",
    "Tag",
    "TemporaryCredentials",
    "encode_policy",
]
