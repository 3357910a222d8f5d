"""The whole emulated cloud: accounts, STS sessions, and who a SecretId belongs to.

``World`` answers the one question authentication asks (which secret key and which principal
stand behind this SecretId) and renders the admin state view, which shows key ids and never a
secret key, a temporary key or a token.
"""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any, Literal

from . import exceptions, ids
from .models import AccessKey, Account, Env, Policy, Quotas

PrincipalKind = Literal["root", "user", "role", "federated"]


@dataclasses.dataclass
class Session:
    """Temporary credentials issued by STS; ``issuer_uin`` asked for them."""

    tmp_secret_id: str
    tmp_secret_key: str = dataclasses.field(repr=False)
    token: str = dataclasses.field(repr=False)
    owner_uin: int
    issuer_uin: int
    kind: Literal["role", "federated"]
    name: str
    expires_at: float
    role_id: str = ""
    role_name: str = ""
    # The session policy (AssumeRole's optional Policy, GetFederationToken's Policy), decoded.
    policy: str | None = None


@dataclasses.dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    account: Account
    uin: int
    kind: PrincipalKind
    secret_id: str
    session: Session | None = None

    @property
    def temporary(self) -> bool:
        return self.session is not None


@dataclasses.dataclass(frozen=True)
class Credential:
    """What verification needs for one SecretId (the secret stays inside the emulator)."""

    secret_key: str = dataclasses.field(repr=False)
    principal: Principal


class World:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.accounts: dict[int, Account] = {}
        self.sessions: dict[str, Session] = {}
        # The role bound to the emulated CVM instance: (owner uin, role name).
        self.instance_role: tuple[int, str] | None = None
        # The instance role's session being handed out (persisted with the world).
        self.current_instance_session: Session | None = None

    def add_account(self, owner_uin: int, app_id: int) -> Account:
        account = Account(self.env, owner_uin, app_id)
        self.accounts[owner_uin] = account
        return account

    def add_preset(self, policy: Policy) -> None:
        self.env.presets[policy.policy_id] = policy

    def add_key(
        self, account: Account, secret_id: str, secret_key: str, uin: int | None = None
    ) -> AccessKey:
        """A seeded key pair (root keys when ``uin`` is None); usable at once."""
        key = AccessKey(secret_id, secret_key, uin or account.owner_uin, self.env.now())
        account.keys[secret_id] = key
        return key

    # ---- credentials ---------------------------------------------------------------------

    def credential(self, secret_id: str) -> Credential:
        """Resolve a SecretId; raises AuthFailure.SecretIdNotFound for unknown or unusable keys."""
        now = self.env.now()
        session = self.sessions.get(secret_id)
        if session is not None:
            account = self.accounts[session.owner_uin]
            kind: PrincipalKind = session.kind
            principal = Principal(account, session.issuer_uin, kind, secret_id, session)
            return Credential(session.tmp_secret_key, principal)
        for account in self.accounts.values():
            key = account.keys.get(secret_id)
            if key is None:
                continue
            if key.status != "Active" or now < key.usable_from:
                break
            kind = "root" if key.uin == account.owner_uin else "user"
            return Credential(key.secret, Principal(account, key.uin, kind, secret_id))
        raise exceptions.secret_id_not_found()

    def check_token(self, principal: Principal, token: str | None) -> None:
        """Temporary credentials need their own unexpired X-TC-Token; permanent keys ignore it."""
        session = principal.session
        if session is None:
            return
        if not token:
            raise exceptions.token_failure("is missing; temporary credentials need X-TC-Token")
        if not _same(token, session.token):
            raise exceptions.token_failure("is invalid")
        if self.env.now() >= session.expires_at:
            raise exceptions.token_failure("has expired")

    def issue_session(
        self,
        *,
        owner_uin: int,
        issuer_uin: int,
        kind: Literal["role", "federated"],
        name: str,
        duration: int,
        role_id: str = "",
        role_name: str = "",
        policy: str | None = None,
    ) -> Session:
        self._forget_expired()
        session = Session(
            tmp_secret_id=ids.temporary_secret_id(),
            tmp_secret_key=ids.temporary_secret_key(),
            token=ids.session_token(),
            owner_uin=owner_uin,
            issuer_uin=issuer_uin,
            kind=kind,
            name=name,
            expires_at=int(self.env.now()) + duration,
            role_id=role_id,
            role_name=role_name,
            policy=policy,
        )
        self.sessions[session.tmp_secret_id] = session
        return session

    def instance_session(self, duration: int, reissue_below: int) -> Session:
        """The instance role's current session, reissued when little of it is left."""
        assert self.instance_role is not None
        owner, name = self.instance_role
        current = self.current_instance_session
        if current is not None and current.expires_at - self.env.now() > reissue_below:
            return current
        account = self.accounts[owner]
        role = next(r for r in account.roles.values() if r.name == name)
        self.current_instance_session = self.issue_session(
            owner_uin=owner,
            issuer_uin=owner,
            kind="role",
            name="cvm-instance",
            duration=duration,
            role_id=role.role_id,
            role_name=role.name,
        )
        return self.current_instance_session

    def _forget_expired(self) -> None:
        # Keep expired sessions for a day so their use is reported as an expired token.
        horizon = self.env.now() - 86400
        for key in [k for k, s in self.sessions.items() if s.expires_at < horizon]:
            del self.sessions[key]

    # ---- admin view ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready data: key ids and statuses, never secrets or tokens."""
        return {
            "quotas": self.env.quotas.to_dict(),
            "clock_offset": self.env.clock_offset,
            "key_activation_delay": self.env.key_activation_delay,
            "preset_policies": [
                {"PolicyId": p.policy_id, "PolicyName": p.name, "ServiceType": p.service_type}
                for p in sorted(self.env.presets.values(), key=lambda p: p.policy_id)
            ],
            "accounts": [_account_view(a) for a in self.accounts.values()],
            "instance_role": (
                None
                if self.instance_role is None
                else {"OwnerUin": self.instance_role[0], "RoleName": self.instance_role[1]}
            ),
            "sessions": [
                {
                    "TmpSecretId": s.tmp_secret_id,
                    "OwnerUin": s.owner_uin,
                    "IssuerUin": s.issuer_uin,
                    "Kind": s.kind,
                    "Name": s.name,
                    "RoleId": s.role_id,
                    "ExpiredTime": int(s.expires_at),
                }
                for s in self.sessions.values()
            ],
        }


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _account_view(account: Account) -> dict[str, Any]:
    return {
        "OwnerUin": account.owner_uin,
        "AppId": account.app_id,
        "Users": [
            {
                "Uin": u.uin,
                "Uid": u.uid,
                "Name": u.name,
                "Remark": u.remark,
                "ConsoleLogin": u.console_login,
                "CreateTime": ids.cam_time(u.create_time),
                "PolicyIds": list(u.policies),
                "GroupIds": list(u.groups),
            }
            for u in account.users.values()
        ],
        "AccessKeys": [
            {
                "AccessKeyId": k.key_id,
                "Uin": k.uin,
                "Status": k.status,
                "CreateTime": ids.cam_time(k.create_time),
                "Description": k.description,
            }
            for k in account.keys.values()
        ],
        "Policies": [
            {
                "PolicyId": p.policy_id,
                "PolicyName": p.name,
                "Description": p.description,
                "PolicyDocument": p.document,
            }
            for p in account.policies.values()
        ],
        "Groups": [
            {
                "GroupId": g.group_id,
                "GroupName": g.name,
                "Remark": g.remark,
                "MemberUins": list(g.members),
                "PolicyIds": list(g.policies),
            }
            for g in account.groups.values()
        ],
        "Roles": [
            {
                "RoleId": r.role_id,
                "RoleName": r.name,
                "RoleArn": r.arn(account.owner_uin),
                "PolicyIds": list(r.policies),
            }
            for r in account.roles.values()
        ],
        "OidcProviders": [p.name for p in account.oidc_providers.values()],
    }


__all__ = ["Credential", "Principal", "Quotas", "Session", "World"]
