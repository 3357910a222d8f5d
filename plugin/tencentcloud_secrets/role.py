"""A role as stored: what it hands out, and the cloud objects the engine keeps for it.

The user-facing fields follow the original Tencent Cloud plugin (``remote_policies``,
``inline_policies``, ``role_arn``, ``ttl``, ``max_ttl``) and read back in its shapes. The
parsing of each field lives here so that every rule has one place and one message naming
the field; nothing in this module calls Tencent Cloud.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tencentcloud_secrets_shim import logical

ROLE_PREFIX = "role/"

CAM_USER = "cam_user"
ASSUMED_ROLE = "assumed_role"
FEDERATION_TOKEN = "federation_token"
CREDENTIAL_TYPES = (CAM_USER, ASSUMED_ROLE, FEDERATION_TOKEN)

POLICY_DOCUMENT_LIMIT = 6144
"""CAM's limit on one policy document, in characters."""
POLICIES_PER_GROUP = 200
"""CAM's limit on policies attached to one user group."""
GROUPS_PER_USER = 10
"""CAM's limit on the groups one sub-user may join (the engine's own group is one)."""
SCOPES = ("All", "QCS", "Local")

# STS bounds (STS 2018-08-13 API reference): AssumeRole 900 s to 12 h, default 2 h;
# GetFederationToken up to 36 h for a sub-user's key (2 h for a root key), default 30 min.
ASSUME_ROLE_MIN, ASSUME_ROLE_MAX, ASSUME_ROLE_DEFAULT = 900, 43200, 7200
FEDERATION_MIN, FEDERATION_MAX, FEDERATION_DEFAULT = 1, 129600, 1800

DEFAULT_USERNAME_TEMPLATE = (
    "vault-{{.DisplayName | truncate 16}}-{{.RoleName | truncate 16}}-{{unix_time}}-{{random 8}}"
)
DEFAULT_SESSION_NAME_TEMPLATE = "vault-{{.DisplayName | truncate 8}}-{{unix_time}}-{{random 5}}"

_ROLE_ARN = re.compile(
    r"qcs::cam::uin/(?P<uin>\d{1,20}):(?:roleName/[\w+=,.@-]{1,128}|role/[\w+=,.@/-]{1,256})",
    re.ASCII,
)
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,128}", re.ASCII)


class RoleError(ValueError):
    """A field breaks a rule; the message names the field and the rule (a 400)."""


@dataclasses.dataclass(frozen=True)
class RemotePolicy:
    """An existing CAM policy, resolved to its id by exact name when the role is written."""

    policy_name: str
    scope: str
    policy_id: int

    def view(self) -> dict[str, Any]:
        return {"policy_name": self.policy_name, "scope": self.scope, "policy_id": self.policy_id}


@dataclasses.dataclass(frozen=True)
class PolicySpec:
    """One entry of ``remote_policies`` as written, before it is resolved."""

    policy_name: str = ""
    scope: str = "All"
    policy_id: int = 0


@dataclasses.dataclass(frozen=True)
class InlinePolicy:
    """A policy document of the role; for cam_user roles, backed by one custom policy."""

    hash: str
    document: Mapping[str, Any]
    policy_id: int = 0
    policy_name: str = ""

    @property
    def text(self) -> str:
        return canonical_json(self.document)

    def view(self) -> dict[str, Any]:
        return {"hash": self.hash, "policy_document": dict(self.document)}


@dataclasses.dataclass(frozen=True)
class CamGroup:
    """A CAM user group: one the engine manages for the role, or one it joins users to."""

    group_id: int
    group_name: str


@dataclasses.dataclass
class Role:
    credential_type: str = ""
    remote_policies: list[RemotePolicy] = dataclasses.field(default_factory=list)
    inline_policies: list[InlinePolicy] = dataclasses.field(default_factory=list)
    role_arn: str = ""
    ttl: int = 0
    max_ttl: int = 0
    groups: list[CamGroup] = dataclasses.field(default_factory=list)
    external_id: str = dataclasses.field(default="", repr=False)
    session_duration: int = 0
    session_policy: str = ""
    session_tags: dict[str, str] = dataclasses.field(default_factory=dict)
    session_name_template: str = ""
    username_template: str = ""
    # Kept by the engine, not written by users.
    role_id: str = ""
    managed_groups: list[CamGroup] = dataclasses.field(default_factory=list)

    @property
    def policy_ids(self) -> list[int]:
        """Every policy the role's managed groups carry, in a stable order."""
        ids = [p.policy_id for p in self.remote_policies]
        ids += [p.policy_id for p in self.inline_policies]
        return list(dict.fromkeys(ids))

    def view(self) -> dict[str, Any]:
        """The read answer: the original plugin's fields and shapes, then the additions that
        apply to the role's type (templates shown as they take effect, defaults included)."""
        view: dict[str, Any] = {
            "credential_type": self.credential_type,
            "remote_policies": [p.view() for p in self.remote_policies],
            "inline_policies": [p.view() for p in self.inline_policies],
            "role_arn": self.role_arn,
            "ttl": self.ttl,
            "max_ttl": self.max_ttl,
        }
        if self.credential_type == CAM_USER:
            view["groups"] = [g.group_name for g in self.groups]
            view["username_template"] = self.username_template or DEFAULT_USERNAME_TEMPLATE
            view["cam_groups"] = [dataclasses.asdict(g) for g in self.managed_groups]
            view["cam_policies"] = [
                {"policy_id": p.policy_id, "policy_name": p.policy_name}
                for p in self.inline_policies
            ]
            return view
        view["session_duration"] = sts_duration(self)
        view["session_policy"] = self.session_policy
        view["session_name_template"] = self.session_name_template or DEFAULT_SESSION_NAME_TEMPLATE
        if self.credential_type == ASSUMED_ROLE:
            view["session_tags"] = dict(self.session_tags)
            view["external_id_set"] = bool(self.external_id)
        return view

    def to_json(self) -> bytes:
        raw = dataclasses.asdict(self)
        raw["inline_policies"] = [
            {**dataclasses.asdict(p), "document": dict(p.document)} for p in self.inline_policies
        ]
        return json.dumps(raw).encode()

    @classmethod
    def from_json(cls, value: bytes) -> Role:
        raw = json.loads(value)
        if "credential_type" not in raw:
            raw = _from_original(raw)
        known = {f.name for f in dataclasses.fields(cls)}
        role = cls(**{k: v for k, v in raw.items() if k in known})
        role.remote_policies = [RemotePolicy(**p) for p in raw.get("remote_policies") or ()]
        role.inline_policies = [InlinePolicy(**p) for p in raw.get("inline_policies") or ()]
        role.groups = [CamGroup(**g) for g in raw.get("groups") or ()]
        role.managed_groups = [CamGroup(**g) for g in raw.get("managed_groups") or ()]
        return role


_NANOSECONDS = 1_000_000_000


def _from_original(raw: dict[str, Any]) -> dict[str, Any]:
    """A role as the original Go plugin stored it (same key, ``role/<name>``): durations in
    nanoseconds, inline documents under ``policy_document``, no type and no CAM objects
    (the first issue creates them)."""
    inline = []
    for entry in raw.get("inline_policies") or []:
        document = entry.get("policy_document") if isinstance(entry, dict) else None
        if isinstance(document, dict):
            digest = hashlib.sha256(canonical_json(document).encode()).hexdigest()[:32]
            inline.append({"hash": digest, "document": document})
    remote = [
        {
            "policy_name": str(entry.get("policy_name", "")),
            "scope": str(entry.get("scope") or "All"),
            "policy_id": int(entry.get("policy_id") or 0),
        }
        for entry in raw.get("remote_policies") or []
        if isinstance(entry, dict)
    ]
    return {
        "credential_type": ASSUMED_ROLE if raw.get("role_arn") else CAM_USER,
        "role_arn": str(raw.get("role_arn") or ""),
        "remote_policies": remote,
        "inline_policies": inline,
        "ttl": int(raw.get("ttl") or 0) // _NANOSECONDS,
        "max_ttl": int(raw.get("max_ttl") or 0) // _NANOSECONDS,
    }


def read_role(storage: logical.Storage, name: str) -> Role | None:
    entry = storage.get(ROLE_PREFIX + name)
    return None if entry is None else Role.from_json(entry.value)


def write_role(storage: logical.Storage, name: str, role: Role) -> None:
    storage.put(logical.StorageEntry(ROLE_PREFIX + name, role.to_json()))


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- parsing what users write ---------------------------------------------------------------


def parse_remote_policies(items: Iterable[str]) -> list[PolicySpec]:
    """``policy_name:<name>,scope:<All|QCS|Local>`` or ``policy_id:<n>`` entries.

    Each item may hold several entries in one comma string: a key seen again starts the next
    entry, so ``policy_name:A,scope:All,policy_name:B`` is two policies. ``scope`` defaults to
    All.
    """
    specs: list[PolicySpec] = []
    for item in items:
        current: dict[str, str] = {}
        for pair in (p.strip() for p in item.split(",")):
            if not pair:
                continue
            key, sep, value = pair.partition(":")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise RoleError(
                    f'remote_policies: "{pair}" is not key:value (use '
                    '"policy_name:<name>,scope:<All|QCS|Local>" or "policy_id:<id>")'
                )
            if key not in ("policy_name", "scope", "policy_id"):
                raise RoleError(
                    f'remote_policies: unknown key "{key}" (expected policy_name, scope or '
                    "policy_id)"
                )
            starts_entry = key in ("policy_name", "policy_id")
            if key in current or (starts_entry and ({"policy_name", "policy_id"} & set(current))):
                specs.append(_spec(current))
                current = {}
            current[key] = value
        if current:
            specs.append(_spec(current))
    seen: set[PolicySpec] = set()
    unique = []
    for spec in specs:
        if spec not in seen:
            seen.add(spec)
            unique.append(spec)
    return unique


def _spec(pairs: Mapping[str, str]) -> PolicySpec:
    scope = pairs.get("scope", "All")
    matched = next((s for s in SCOPES if s.lower() == scope.lower()), None)
    if matched is None:
        raise RoleError(f'remote_policies: scope "{scope}" must be one of All, QCS, Local')
    if "policy_id" in pairs:
        if "policy_name" in pairs:
            raise RoleError("remote_policies: give policy_name or policy_id in one entry, not both")
        raw = pairs["policy_id"]
        if not raw.isdigit() or int(raw) <= 0:
            raise RoleError(f'remote_policies: policy_id "{raw}" must be a positive integer')
        return PolicySpec(policy_id=int(raw), scope=matched)
    if "policy_name" not in pairs:
        raise RoleError("remote_policies: an entry with only a scope needs a policy_name")
    return PolicySpec(policy_name=pairs["policy_name"], scope=matched)


def parse_inline_policies(items: Iterable[Any]) -> list[InlinePolicy]:
    """A JSON array of CAM policy documents, as a string or already a list (of documents or
    of JSON strings), each checked against CAM's grammar and length limit."""
    documents: list[Any] = []
    for item in items:
        value = item
        if isinstance(item, str):
            if not item.strip():
                continue
            try:
                value = json.loads(item)
            except json.JSONDecodeError as exc:
                raise RoleError(f"inline_policies: not valid JSON ({exc.msg})") from None
        documents.extend(value if isinstance(value, list) else [value])
    policies: dict[str, InlinePolicy] = {}
    for index, document in enumerate(documents, 1):
        check_policy_document(document, f"inline_policies: document {index}")
        text = canonical_json(document)
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        policies.setdefault(digest, InlinePolicy(hash=digest, document=document))
    return list(policies.values())


def check_policy_document(document: Any, where: str, *, allow_principal: bool = False) -> None:
    """CAM's policy grammar, to the depth that catches real mistakes before CAM does."""
    if not isinstance(document, dict):
        raise RoleError(f"{where} must be a JSON object")
    if len(canonical_json(document)) > POLICY_DOCUMENT_LIMIT:
        raise RoleError(f"{where} is longer than CAM's {POLICY_DOCUMENT_LIMIT} characters")
    if document.get("version") != "2.0":
        raise RoleError(f'{where} must have "version": "2.0"')
    unknown = set(document) - {"version", "statement"}
    if unknown:
        raise RoleError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    statements = document.get("statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise RoleError(f'{where} needs a non-empty "statement" list')
    for number, statement in enumerate(statements, 1):
        at = f"{where}, statement {number}"
        if not isinstance(statement, dict):
            raise RoleError(f"{at} must be an object")
        if str(statement.get("effect", "")).lower() not in ("allow", "deny"):
            raise RoleError(f'{at} needs "effect": "allow" or "deny"')
        for key in ("action", "resource"):
            value = statement.get(key)
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not values:
                raise RoleError(f'{at} needs "{key}" as a string or a non-empty list')
            if not all(isinstance(v, str) and v for v in values):
                raise RoleError(f'{at}: every "{key}" must be a non-empty string')
        if "principal" in statement and not allow_principal:
            raise RoleError(f'{at} has "principal", which only role trust policies may have')
        allowed = {"effect", "action", "resource", "condition", "principal", "sid"}
        extra = set(statement) - allowed
        if extra:
            raise RoleError(f"{at} has unknown keys: {', '.join(sorted(extra))}")
        condition = statement.get("condition")
        if condition is not None and not isinstance(condition, dict):
            raise RoleError(f'{at}: "condition" must be an object')


def parse_session_policy(text: str) -> str:
    """A single CAM policy document (JSON) for STS; returned in canonical form."""
    if not text.strip():
        return ""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RoleError(f"session_policy: not valid JSON ({exc.msg})") from None
    check_policy_document(document, "session_policy")
    return canonical_json(document)


def check_role_arn(arn: str) -> None:
    if not _ROLE_ARN.fullmatch(arn):
        raise RoleError(
            f'role_arn "{arn}" must look like qcs::cam::uin/<owner uin>:roleName/<name> '
            "or qcs::cam::uin/<owner uin>:role/<path>"
        )


def check_external_id(value: str) -> None:
    if value and not _EXTERNAL_ID.fullmatch(value):
        raise RoleError("external_id must be 2 to 128 of letters, digits and + = , . @ : / _ -")


def check_session_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > 50:
        raise RoleError("session_tags: STS takes at most 50 tags")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise RoleError(
                f'session_tags: "{key}" breaks STS\'s limits (key 1-128, value up to 256 '
                "characters)"
            )


def sts_bounds(credential_type: str) -> tuple[int, int, int]:
    """(minimum, maximum, default) of DurationSeconds for the type's STS action."""
    if credential_type == ASSUMED_ROLE:
        return ASSUME_ROLE_MIN, ASSUME_ROLE_MAX, ASSUME_ROLE_DEFAULT
    return FEDERATION_MIN, FEDERATION_MAX, FEDERATION_DEFAULT


def sts_duration(role: Role) -> int:
    """The STS credential lifetime the role asks for: session_duration, else ttl, else STS's
    default, capped by max_ttl."""
    low, high, default = sts_bounds(role.credential_type)
    duration = role.session_duration or role.ttl or default
    if role.max_ttl:
        duration = min(duration, role.max_ttl)
    return max(low, min(high, duration))
