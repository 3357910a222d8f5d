"""Optional persistence: the whole world in ``<state-dir>/state.json``, so a long-running setup
(the demo, a user's CI cache) keeps its users, keys and sessions across restarts.

The file holds everything the world holds, secrets included (key secrets, temporary keys,
session tokens, identity-provider secrets): it is created with mode 0600 in a directory made
0700, and its contents are never logged. Writes are atomic (a temporary file in the same
directory, flushed and fsynced, then renamed over the old one), so a crash leaves the previous
state or the new one, never half of either.

``Saver`` writes on a short debounce after the emulator reports a change, only when the state
differs from what was last written, and once more on ``close``. The request log, the counters
and the fault configuration are not part of the world and are not kept.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .models import AccessKey, Account, Env, Group, OidcProvider, Policy, Quotas, Role, User
from .world import Session, World

log = logging.getLogger("tencentcloud_emulator.persistence")

STATE_FILE = "state.json"
FORMAT = 1
# Long enough to fold a burst of calls into one write, short enough that a process killed
# without warning loses at most a fraction of a second.
DEBOUNCE_SECONDS = 0.2
_SEQUENCES = ("uins", "uids", "policy_ids", "group_ids", "role_ids")


class StateError(ValueError):
    """The state file exists but cannot be read back; the message says why (never its data)."""


# ---- the world as JSON-ready data ------------------------------------------------------------


def dump(world: World) -> dict[str, Any]:
    """Everything needed to rebuild ``world``; call under the emulator lock (it copies)."""
    env = world.env
    current = world.current_instance_session
    return {
        "format": FORMAT,
        "env": {
            "quotas": env.quotas.to_dict(),
            "clock_offset": env.clock_offset,
            "key_activation_delay": env.key_activation_delay,
            "sequences": {name: getattr(env, name).next_value for name in _SEQUENCES},
            "presets": [dataclasses.asdict(p) for p in env.presets.values()],
        },
        "accounts": [_dump_account(a) for a in world.accounts.values()],
        "sessions": [dataclasses.asdict(s) for s in world.sessions.values()],
        "instance_role": None if world.instance_role is None else list(world.instance_role),
        "instance_session": None if current is None else current.tmp_secret_id,
    }


def _dump_account(account: Account) -> dict[str, Any]:
    return {
        "owner_uin": account.owner_uin,
        "app_id": account.app_id,
        "users": [dataclasses.asdict(u) for u in account.users.values()],
        "keys": [dataclasses.asdict(k) for k in account.keys.values()],
        "policies": [dataclasses.asdict(p) for p in account.policies.values()],
        "groups": [dataclasses.asdict(g) for g in account.groups.values()],
        "roles": [dataclasses.asdict(r) for r in account.roles.values()],
        "oidc_providers": [dataclasses.asdict(p) for p in account.oidc_providers.values()],
    }


def restore(data: dict[str, Any]) -> World:
    """The world ``dump`` described; raises ``StateError`` for data it cannot have written."""
    if data.get("format") != FORMAT:
        raise StateError(f"unsupported state format {data.get('format')!r} (expected {FORMAT})")
    try:
        return _restore(data)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise StateError(f"the state file is damaged ({type(err).__name__})") from None


def _attached(raw: dict[str, float]) -> dict[int, float]:
    # JSON object keys are strings; attachment and membership maps are keyed by numeric id.
    return {int(k): float(v) for k, v in raw.items()}


def _restore(data: dict[str, Any]) -> World:
    raw_env = data["env"]
    env = Env(quotas=Quotas(**raw_env["quotas"]))
    env.clock_offset = float(raw_env["clock_offset"])
    env.key_activation_delay = float(raw_env["key_activation_delay"])
    for name in _SEQUENCES:
        getattr(env, name).next_value = int(raw_env["sequences"][name])
    world = World(env)
    for raw in raw_env["presets"]:
        world.add_preset(Policy(**raw))
    for raw_account in data["accounts"]:
        account = world.add_account(int(raw_account["owner_uin"]), int(raw_account["app_id"]))
        for raw in raw_account["users"]:
            user = User(**{**raw, "policies": {}, "groups": {}})
            user.policies, user.groups = _attached(raw["policies"]), _attached(raw["groups"])
            account.users[user.name] = user
        for raw in raw_account["keys"]:
            key = AccessKey(**raw)
            account.keys[key.key_id] = key
        for raw in raw_account["policies"]:
            policy = Policy(**raw)
            account.policies[policy.policy_id] = policy
        for raw in raw_account["groups"]:
            group = Group(**{**raw, "members": {}, "policies": {}})
            group.members, group.policies = _attached(raw["members"]), _attached(raw["policies"])
            account.groups[group.group_id] = group
        for raw in raw_account["roles"]:
            role = Role(**{**raw, "tags": [tuple(t) for t in raw["tags"]], "policies": {}})
            role.policies = _attached(raw["policies"])
            account.roles[role.role_id] = role
        for raw in raw_account["oidc_providers"]:
            provider = OidcProvider(**raw)
            account.oidc_providers[provider.name] = provider
    for raw in data["sessions"]:
        session = Session(**raw)
        world.sessions[session.tmp_secret_id] = session
    if data["instance_role"] is not None:
        owner, name = data["instance_role"]
        world.instance_role = (int(owner), str(name))
    if data["instance_session"] is not None:
        world.current_instance_session = world.sessions.get(data["instance_session"])
    return world


# ---- the file --------------------------------------------------------------------------------


class StateFile:
    """``<directory>/state.json``: read at start, replaced atomically on each save."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STATE_FILE

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            raise StateError(f"{self.path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise StateError(f"{self.path} does not hold a state")
        return data

    def save(self, text: str) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.directory / f".{STATE_FILE}.{os.getpid()}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)


class Saver:
    """Writes ``snapshot()`` to the state file a moment after each ``changed()``, in a thread of
    its own so no API call waits for the disk; ``close`` writes the last state and stops."""

    def __init__(self, state_file: StateFile, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._file = state_file
        self._snapshot = snapshot
        self._last = ""
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="tencentcloud-emulator-state", daemon=True
        )
        self._thread.start()

    def changed(self) -> None:
        self._wake.set()

    def save_now(self) -> None:
        text = json.dumps(self._snapshot(), separators=(",", ":"), sort_keys=True)
        with self._write_lock:
            if text == self._last:
                return
            try:
                self._file.save(text)
            except OSError as err:
                # Only the kind of failure: the path is the operator's, the text is secret.
                log.error("could not save the state to %s: %s", self._file.path, err.strerror)
                return
            self._last = text

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait()
            if self._closing.wait(DEBOUNCE_SECONDS):
                break
            self._wake.clear()
            self.save_now()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.save_now()
