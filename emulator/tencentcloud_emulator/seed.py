"""Seed files: YAML (or the same structure as a dict) describing accounts, root keys, preset
policies, roles, identity providers and optional users, policies and groups.

A seed is data, validated on load: a bad seed fails with ``SeedError`` naming the field,
never with a half-built world.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .exceptions import ApiError
from .models import Account, Env, OidcProvider, Policy
from .world import World

DEFAULT_SEED_NAME = "default_seed.yaml"


class SeedError(ValueError):
    """The seed cannot be loaded; the message names the offending field."""


def default_seed() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(DEFAULT_SEED_NAME).read_text(encoding="utf-8")
    return parse(text)


def parse(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise SeedError("a seed must be a mapping")
    return data


def load(source: str | Path | Mapping[str, Any] | None) -> dict[str, Any]:
    """A seed from a path, a YAML string, a mapping, or None for the packaged default."""
    if source is None:
        return default_seed()
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    if isinstance(source, Path) or (len(str(source)) < 4096 and path.is_file()):
        return parse(path.read_text(encoding="utf-8"))
    return parse(str(source))


def _document(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"))
    raise SeedError(f"{where}: a policy document must be a string or a mapping")


def build(seed: Mapping[str, Any], env: Env) -> World:
    """Create a world from a seed; quotas in the seed apply unless the caller set them."""
    world = World(env)
    try:
        for n, raw in enumerate(seed.get("preset_policies") or []):
            world.add_preset(
                Policy(
                    policy_id=int(raw["policy_id"]),
                    name=str(raw["name"]),
                    document=_document(raw["document"], f"preset_policies[{n}]"),
                    description=str(raw.get("description", "")),
                    type=2,
                    add_time=env.now(),
                    service_type=str(raw.get("service_type", "")),
                    create_mode=1,
                )
            )
        for n, raw in enumerate(seed.get("accounts") or []):
            _account(world, raw, f"accounts[{n}]")
        bind_instance_role(world, seed.get("instance_role"))
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, SeedError):
            raise
        raise SeedError(f"invalid seed: {err!r}") from None
    except ApiError as err:
        raise SeedError(f"invalid seed: {err.code}: {err.message}") from None
    return world


def bind_instance_role(world: World, spec: Any) -> None:
    """``instance_role``: a role name (in the first account) or ``{owner_uin, role}``."""
    if spec is None:
        world.instance_role = None
        return
    if isinstance(spec, str):
        if not world.accounts:
            raise SeedError("instance_role: the seed has no account")
        owner, name = next(iter(world.accounts)), spec
    elif isinstance(spec, Mapping):
        owner, name = int(spec["owner_uin"]), str(spec["role"])
    else:
        raise SeedError("instance_role must be a role name or {owner_uin, role}")
    account = world.accounts.get(owner)
    if account is None or not any(r.name == name for r in account.roles.values()):
        raise SeedError(f"instance_role: no role {name!r} in account {owner}")
    world.instance_role = (owner, name)


def _account(world: World, raw: Mapping[str, Any], where: str) -> None:
    account: Account = world.add_account(int(raw["owner_uin"]), int(raw.get("app_id", 0)))
    for key in raw.get("root_keys") or []:
        world.add_key(account, str(key["secret_id"]), str(key["secret_key"]))
    for m, role in enumerate(raw.get("roles") or []):
        account.create_role(
            name=str(role["name"]),
            document=_document(role["trust_policy"], f"{where}.roles[{m}]"),
            description=str(role.get("description", "")),
            session_duration=int(role.get("session_duration", 43200)),
            role_id=str(role["role_id"]) if "role_id" in role else None,
        )
    for provider in raw.get("oidc_providers") or []:
        name = str(provider["name"])
        account.oidc_providers[name] = OidcProvider(
            name, str(provider["secret"]), str(provider.get("audience", ""))
        )
    for m, policy in enumerate(raw.get("policies") or []):
        account.create_policy(
            name=str(policy["name"]),
            document=_document(policy["document"], f"{where}.policies[{m}]"),
            description=str(policy.get("description", "")),
        )
    # Roles come before custom policies (so a role's trust errors are reported first); their
    # permission policies are attached once every policy exists.
    for role in raw.get("roles") or []:
        for policy_name in role.get("policies") or []:
            account.attach_role_policy(
                policy_id=None,
                policy_name=str(policy_name),
                role_id=None,
                role_name=str(role["name"]),
            )
    for user in raw.get("users") or []:
        created, _, _ = account.add_user(
            name=str(user["name"]), remark=str(user.get("remark", "")), use_api=0
        )
        for key in user.get("keys") or []:
            world.add_key(account, str(key["secret_id"]), str(key["secret_key"]), created.uin)
        for policy_name in user.get("policies") or []:
            _, found = account.list_policies(keyword=str(policy_name), rp=200)
            match = [p for p in found if p.name == policy_name]
            if not match:
                raise SeedError(f"{where}: user {created.name}: no policy named {policy_name}")
            account.attach_user_policy(policy_id=match[0].policy_id, uin=created.uin)
    for group in raw.get("groups") or []:
        made = account.create_group(name=str(group["name"]), remark=str(group.get("remark", "")))
        members = [account.get_user(str(name)).uin for name in group.get("members") or []]
        account.add_users_to_groups((made.group_id, None, uin) for uin in members)
