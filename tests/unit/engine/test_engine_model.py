"""A model-based search for engine objects that nothing accounts for.

The invariant, checked after every step of every generated sequence:

    Every CAM user, access key, group and custom policy in the account that carries the
    engine's marker is accounted for by a live lease, a stored role or static role (or a
    retired record), the configuration, or a WAL entry the rollback will act on.

and at the end of each sequence: after the rollback, revoking every lease and deleting every
role and static role, the account holds nothing the engine made (but the mount's own key).

The steps are what Vault and an operator do (role writes and deletes of all three types,
issue, renew, revoke, rotate-root, static roles, the periodic rollback, a process restart,
time passing), each optionally under 1-3 injected faults on the cloud calls it makes
(errors, throttling past the retries, requests dropped before or after they ran), and under
a cancellation or a crash at any of the engine's checks before a cloud call. More
invariants, checked with it: the engine never deletes a user or group it did not make (a
test step lets somebody else take the name of a pending WAL entry's or a lease's vanished
user), never deletes a live lease's user but by revoking it, and never loses the mount's own
key or an object a stored role uses.

Bounded by default (``make test``); ``MODEL_EXAMPLES`` and ``MODEL_STEPS`` set the search's
size (``make test-model-long``). Run with ``-s`` for the summary of what ran.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets import clients
from tencentcloud_secrets.backend import TencentCloudBackend
from tencentcloud_secrets.paths.config import MountConfig, read_config
from tencentcloud_secrets.provider import CloudClient
from tencentcloud_secrets.role import read_role
from tencentcloud_secrets.tencentcloud import RetryPolicy, TencentCloudClient
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud.pacing import Pacer
from tencentcloud_secrets_shim import logical
from tests.support.account import account, marked
from tests.support.cloud_client import client_as
from tests.unit.engine.model_support import (
    BOTS,
    ISSUE_ACTIONS,
    ISSUE_PRIMARY,
    KEY_ACTIONS,
    KEY_PRIMARY,
    NO_FAULTS,
    REVOKE_ACTIONS,
    ROLE_DELETE_ACTIONS,
    ROLE_NAMES,
    ROLE_WRITE_ACTIONS,
    ROLE_WRITE_PRIMARY,
    ROLLBACK_ACTIONS,
    ROLLBACK_PRIMARY,
    SHARED_GROUP,
    STATIC_NAMES,
    STATIC_WRITE_ACTIONS,
    Crash,
    Interrupt,
    Known,
    RoleSpec,
    Trip,
    compound_faults,
    fault_rules,
    interruptions,
    interrupts,
    role_specs,
    unaccounted,
    wal_entries,
)
from tests.unit.engine.support import Mount

EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "200"))
STEPS = int(os.environ.get("MODEL_STEPS", "30"))
FAST = RetryPolicy(max_attempts=3, base_delay=0.005, max_delay=0.01)
ROTATION_PERIOD = 3600

STATS: collections.Counter[str] = collections.Counter()


def _unpaced() -> Pacer:
    """The emulator's throttle is off: client-side pacing would only slow the search."""
    return Pacer(rates={}, defaults={})


def _fast_client(config: MountConfig) -> CloudClient:
    """Every client the engine builds (also after rotate-root) retries in milliseconds."""
    return clients.client_from_config(config, retry=FAST, pacer=_unpaced())


@dataclasses.dataclass
class Lease:
    issued: logical.Response
    role: str
    username: str | None  # None: an STS credential (nothing in the account)
    uin: int | None
    revoking: bool = False  # a revocation was attempted (it may have run)


@dataclasses.dataclass
class Outcome:
    response: logical.Response | None
    failure: str | None  # what the request raised, if it did
    cancelled: bool  # Vault cancelled it: nobody receives the answer

    @property
    def delivered(self) -> bool:
        """The caller received a non-error answer."""
        if self.failure is not None or self.cancelled:
            return False
        return self.response is None or not self.response.is_error

    def label(self) -> str:
        if self.failure is not None:
            return self.failure.split(":", 1)[0]
        if self.cancelled:
            return "cancelled"
        if self.response is not None and self.response.is_error:
            return "error response"
        return "ok"


class EngineModel(RuleBasedStateMachine):
    def __init__(self, emulator: RunningEmulator, admin: TencentCloudClient) -> None:
        super().__init__()
        STATS["state machines (examples, incl. rejected and shrinking)"] += 1
        self.emulator = emulator
        self.broken = False
        # Which steps ran, and when: preconditions may depend on nothing else. What the
        # engine did is not the same on every replay of a sequence (WAL entries are replayed
        # in the order of their random ids, so a fault counted by call may hit another one).
        self.step_no = 0
        self.ran: collections.Counter[str] = collections.Counter()
        self.last: dict[str, int] = {}
        emulator.emulator.restore()
        emulator.set_faults(NO_FAULTS)
        # Small groups: a role's third live lease makes it grow a managed group.
        emulator.set_quotas(users_per_group=2)
        cam = admin.cam
        self.admin = admin
        # The engine acts as a sub-user with a key of its own, so rotate-root has a target.
        engine_user = cam.add_user(cm.AddUserRequest("vault-engine", remark="setup", use_api=True))
        cam.attach_user_policy(cm.AttachUserPolicyRequest(1, engine_user.uin))
        assert engine_user.secret_id
        assert engine_user.secret_key
        self.engine_uin = engine_user.uin
        # Users whose keys static roles manage, and a group roles may add users to: not
        # the engine's, so it must never delete them.
        self.foreign_users = {engine_user.uin: "vault-engine"}
        for name in BOTS:
            self.foreign_users[cam.add_user(cm.AddUserRequest(name, remark="theirs")).uin] = name
        shared = cam.create_group(cm.CreateGroupRequest(SHARED_GROUP, remark="theirs"))
        self.foreign_groups = {shared.group_id: SHARED_GROUP}
        self.mount = Mount(factory=_fast_client)
        self.mount.clock.fixed = time.time()
        self.mount.clock.on_sleep = emulator.advance_clock  # propagation waits cost no time
        self.leases: list[Lease] = []
        self.mount.configure(
            emulator,
            secret_id=engine_user.secret_id,
            secret_key=engine_user.secret_key,
            max_retries=2,
            rotation_period=ROTATION_PERIOD,
        )

    # --- harness ------------------------------------------------------------------------

    def _restart(self) -> None:
        """A new process: a fresh backend on the same storage, nothing else carried over."""
        STATS["restarts"] += 1
        old = self.mount.backend
        fresh = TencentCloudBackend(factory=_fast_client, clock=self.mount.clock)
        fresh.setup(
            logical.BackendConfig(storage=self.mount.storage, system_view=self.mount.system_view)
        )
        self.mount.backend = fresh
        old.reset_client()  # only closes its HTTP sessions

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        STATS["steps"] += 1
        STATS[f"step {name}"] += 1
        self.step_no += 1
        self.ran[name] += 1
        self.last[name] = self.step_no
        try:
            yield
        except BaseException:
            self.broken = True
            raise

    def since(self, name: str) -> int:
        """Steps since a step of this kind ran (many when it never did)."""
        return self.step_no - self.last.get(name, -100)

    def _noop(self, name: str) -> None:
        STATS[f"no-op {name}"] += 1

    def _send(
        self,
        operation: str,
        path: str,
        *,
        faults: list[dict[str, Any]],
        interrupt: Interrupt | None,
        secret: logical.Secret | None = None,
        data: dict[str, Any] | None = None,
    ) -> Outcome:
        """One request as Mount.__call__ sends it, with faults and an interruption."""
        body = dict(data or {})
        storage = self.mount.storage
        backend = self.mount.backend
        trip = Trip() if interrupt is None else Trip(interrupt.at, crash=interrupt.kind == "crash")
        request = logical.Request(
            operation=operation,
            path=path,
            data=body,
            storage=storage,
            display_name="token",
            secret=secret,
            cancelled=trip,
        )
        if operation in (logical.CREATE, logical.UPDATE) and not path.startswith("creds/"):
            check = logical.Request(operation="update", path=path, data=dict(body), storage=storage)
            try:
                found, exists = backend.handle_existence_check(check)
            except logical.InvalidRequest as exc:
                return Outcome(logical.error_response(str(exc)), None, cancelled=False)
            request.operation = logical.CREATE if found and not exists else logical.UPDATE
        if faults:
            self.emulator.set_faults({**NO_FAULTS, "faults": faults})
        outcome: Outcome
        try:
            response = backend.handle_request(request)
            outcome = Outcome(response, None, cancelled=trip.tripped)
        except Crash:
            outcome = Outcome(None, "Crash", cancelled=False)
        except logical.LogicalError as exc:
            outcome = Outcome(None, f"{type(exc).__name__}: {exc}", cancelled=trip.tripped)
        except Exception as exc:  # a failed request, whatever it raised
            STATS[f"unexpected {type(exc).__name__}"] += 1
            outcome = Outcome(None, f"{type(exc).__name__}: {exc}", cancelled=trip.tripped)
        finally:
            if faults:
                fired = sum(r["fired"] for r in self.emulator.emulator.fault_config()["faults"])
                STATS["faults fired"] += fired
                if fired >= 2:
                    STATS["requests with 2+ faults fired"] += 1
                self.emulator.set_faults(NO_FAULTS)
        if outcome.failure == "Crash":
            STATS["crashes"] += 1
            self._restart()
        elif trip.tripped:
            STATS["cancellations"] += 1
        what = f"{operation} {path.split('/', 1)[0]}: {outcome.label()}"
        STATS[f"outcome {what}"] += 1
        if currently_in_test_context():
            event(what)
        return outcome

    def _known(self) -> Known:
        leases = frozenset(
            (lease.username, lease.uin)
            for lease in self.leases
            if lease.username is not None and lease.uin is not None
        )
        owners = frozenset(self.foreign_users)
        return Known(leases=leases, engine_uin=self.engine_uin, key_owners=owners)

    def _roles(self) -> list[str]:
        return self.mount.storage.list("role/")

    def _static_roles(self) -> list[str]:
        return self.mount.storage.list("static-role/")

    def _free_names(self) -> list[str]:
        """Names of users the engine made or meant to make that are gone now."""
        names = {
            str(e["data"]["username"])
            for e in wal_entries(self.mount.storage)
            if e.get("type") == "cam_user"
        }
        names |= {lease.username for lease in self.leases if lease.username}
        taken = {u["Name"] for u in account(self.emulator)["Users"]}
        return sorted(names - taken)

    # --- rules: roles -------------------------------------------------------------------

    def _write_role(
        self,
        name: str,
        spec: RoleSpec,
        faults: list[dict[str, Any]],
        interrupt: Interrupt | None,
    ) -> None:
        with self._step("write_role"):
            self._send(
                "update", f"role/{name}", data=spec.data(), faults=faults, interrupt=interrupt
            )

    @rule(
        name=st.sampled_from(ROLE_NAMES),
        spec=role_specs(),
        faults=fault_rules(ROLE_WRITE_ACTIONS, ROLE_WRITE_PRIMARY),
        interrupt=interrupts(),
    )
    def write_role(
        self,
        name: str,
        spec: RoleSpec,
        faults: list[dict[str, Any]],
        interrupt: Interrupt | None,
    ) -> None:
        self._write_role(name, spec, faults, interrupt)

    @rule(
        name=st.sampled_from(ROLE_NAMES),
        spec=role_specs(),
        faults=compound_faults(ROLE_WRITE_PRIMARY),
        interrupt=interrupts(),
    )
    def write_role_under_faults(
        self,
        name: str,
        spec: RoleSpec,
        faults: list[dict[str, Any]],
        interrupt: Interrupt | None,
    ) -> None:
        self._write_role(name, spec, faults, interrupt)

    @precondition(lambda self: self.ran["write_role"] > 0)
    @rule(index=st.integers(0, 3), faults=fault_rules(ROLE_DELETE_ACTIONS), interrupt=interrupts())
    def delete_role(
        self, index: int, faults: list[dict[str, Any]], interrupt: Interrupt | None
    ) -> None:
        with self._step("delete_role"):
            roles = self._roles()
            if not roles:
                return self._noop("delete_role")
            name = roles[index % len(roles)]
            self._send("delete", f"role/{name}", faults=faults, interrupt=interrupt)

    # --- rules: leases ------------------------------------------------------------------

    def _issue(self, index: int, faults: list[dict[str, Any]], interrupt: Interrupt | None) -> None:
        with self._step("issue"):
            roles = self._roles()
            if not roles:
                return self._noop("issue")
            name = roles[index % len(roles)]
            outcome = self._send("read", f"creds/{name}", faults=faults, interrupt=interrupt)
            response = outcome.response
            if response is None or response.secret is None:
                return
            if not outcome.delivered:
                # Vault is gone: this credential reaches nobody, so no lease holds it.
                STATS["credentials returned to a cancelled request"] += 1
                return
            internal = response.secret.internal_data
            username = internal.get("username")
            uin = internal.get("uin")
            self.leases.append(
                Lease(
                    response,
                    name,
                    username if isinstance(username, str) else None,
                    uin if isinstance(uin, int) else None,
                )
            )
            STATS["leases issued"] += 1

    @precondition(lambda self: self.ran["write_role"] > 0)
    @rule(
        index=st.integers(0, 3),
        faults=fault_rules(ISSUE_ACTIONS, ISSUE_PRIMARY),
        interrupt=interrupts(),
    )
    def issue(self, index: int, faults: list[dict[str, Any]], interrupt: Interrupt | None) -> None:
        self._issue(index, faults, interrupt)

    @precondition(lambda self: self.ran["write_role"] > 0)
    @rule(index=st.integers(0, 3), faults=compound_faults(ISSUE_PRIMARY))
    def issue_under_faults(self, index: int, faults: list[dict[str, Any]]) -> None:
        self._issue(index, faults, None)

    @precondition(lambda self: self.ran["write_role"] > 0)
    @rule(
        index=st.integers(0, 3),
        faults=fault_rules(ISSUE_ACTIONS, ISSUE_PRIMARY),
        interrupt=interruptions(),
    )
    def issue_interrupted(
        self, index: int, faults: list[dict[str, Any]], interrupt: Interrupt
    ) -> None:
        self._issue(index, faults, interrupt)

    @precondition(lambda self: self.ran["write_role"] > 0)
    @rule(index=st.integers(0, 3))
    def issue_cleanly(self, index: int) -> None:
        self._issue(index, [], None)

    @precondition(lambda self: self.ran["issue"] > 0)
    @rule(index=st.integers(0, 7))
    def renew(self, index: int) -> None:
        with self._step("renew"):
            if not self.leases:
                return self._noop("renew")
            lease = self.leases[index % len(self.leases)]
            self._send(
                logical.RENEW, "creds/x", secret=lease.issued.secret, faults=[], interrupt=None
            )

    def _revoke(
        self, index: int, faults: list[dict[str, Any]], interrupt: Interrupt | None
    ) -> None:
        with self._step("revoke"):
            if not self.leases:
                return self._noop("revoke")
            lease = self.leases[index % len(self.leases)]
            lease.revoking = True
            outcome = self._send(
                logical.REVOKE,
                "creds/x",
                secret=lease.issued.secret,
                faults=faults,
                interrupt=interrupt,
            )
            if outcome.delivered:
                self.leases.remove(lease)  # else it stays live: Vault retries
                STATS["leases revoked"] += 1

    @precondition(lambda self: self.ran["issue"] > 0)
    @rule(index=st.integers(0, 7), faults=fault_rules(REVOKE_ACTIONS), interrupt=interrupts())
    def revoke(self, index: int, faults: list[dict[str, Any]], interrupt: Interrupt | None) -> None:
        self._revoke(index, faults, interrupt)

    @precondition(lambda self: self.ran["issue"] > 0)
    @rule(index=st.integers(0, 7), faults=compound_faults(REVOKE_ACTIONS))
    def revoke_under_faults(self, index: int, faults: list[dict[str, Any]]) -> None:
        self._revoke(index, faults, None)

    # --- rules: keys ----------------------------------------------------------------------

    @precondition(lambda self: self.since("rotate_root") >= 3)
    @rule(faults=fault_rules(KEY_ACTIONS, KEY_PRIMARY), interrupt=interrupts())
    def rotate_root(self, faults: list[dict[str, Any]], interrupt: Interrupt | None) -> None:
        with self._step("rotate_root"):
            self._send("update", "config/rotate-root", faults=faults, interrupt=interrupt)

    @precondition(lambda self: self.since("write_static_role") >= 3)
    @rule(
        name=st.sampled_from(STATIC_NAMES),
        user=st.sampled_from(BOTS),
        faults=fault_rules(STATIC_WRITE_ACTIONS, KEY_PRIMARY),
        interrupt=interrupts(),
    )
    def write_static_role(
        self,
        name: str,
        user: str,
        faults: list[dict[str, Any]],
        interrupt: Interrupt | None,
    ) -> None:
        with self._step("write_static_role"):
            self._send(
                "update",
                f"static-roles/{name}",
                data={"username": user, "rotation_period": ROTATION_PERIOD},
                faults=faults,
                interrupt=interrupt,
            )

    @precondition(lambda self: self.ran["write_static_role"] > 0)
    @rule(
        index=st.integers(0, 3),
        faults=fault_rules(KEY_ACTIONS, KEY_PRIMARY),
        interrupt=interrupts(),
    )
    def rotate_static_role(
        self, index: int, faults: list[dict[str, Any]], interrupt: Interrupt | None
    ) -> None:
        with self._step("rotate_static_role"):
            names = self._static_roles()
            if not names:
                return self._noop("rotate_static_role")
            name = names[index % len(names)]
            self._send("update", f"rotate-role/{name}", faults=faults, interrupt=interrupt)

    @precondition(lambda self: self.ran["write_static_role"] > 0)
    @rule(index=st.integers(0, 3), faults=fault_rules(("DeleteAccessKey",)), interrupt=interrupts())
    def delete_static_role(
        self, index: int, faults: list[dict[str, Any]], interrupt: Interrupt | None
    ) -> None:
        with self._step("delete_static_role"):
            names = self._static_roles()
            if not names:
                return self._noop("delete_static_role")
            name = names[index % len(names)]
            self._send("delete", f"static-roles/{name}", faults=faults, interrupt=interrupt)

    # --- rules: Vault's background work, a new process, somebody else ----------------------

    def _rollback(
        self, later: bool, faults: list[dict[str, Any]], interrupt: Interrupt | None
    ) -> None:
        """Vault's periodic call: scheduled rotations, the sweep, then every WAL entry.
        ``later``: a rotation period has passed, so every key is due for rotation."""
        with self._step("rollback"):
            if later:
                assert self.mount.clock.fixed is not None
                self.mount.clock.fixed += ROTATION_PERIOD + 100
                STATS["rotation periods passed"] += 1
            self._send(
                logical.ROLLBACK, "", data={"immediate": True}, faults=faults, interrupt=interrupt
            )

    # The rules below are always possible: with the others switched off (Hypothesis enables a
    # random subset of the rules in each example) they would crowd them out, so they wait.
    @precondition(lambda self: self.since("rollback") >= 3)
    @rule(
        later=st.booleans(),
        faults=fault_rules(ROLLBACK_ACTIONS, ROLLBACK_PRIMARY),
        interrupt=interrupts(),
    )
    def rollback(
        self, later: bool, faults: list[dict[str, Any]], interrupt: Interrupt | None
    ) -> None:
        self._rollback(later, faults, interrupt)

    @precondition(lambda self: self.since("rollback") >= 2)
    @rule()
    def rollback_cleanly(self) -> None:
        self._rollback(False, [], None)

    @precondition(lambda self: self.since("restart") >= 4)
    @rule()
    def restart(self) -> None:
        with self._step("restart"):
            self._restart()

    def _take_a_name(self, index: int) -> None:
        with self._step("someone_takes_a_name"):
            names = self._free_names()
            if not names:
                return self._noop("someone_takes_a_name")
            name = names[index % len(names)]
            user = self.admin.cam.add_user(cm.AddUserRequest(name, remark="theirs"))
            self.foreign_users[user.uin] = name

    @precondition(lambda self: self.ran["issue"] > 0)
    @rule(index=st.integers(0, 7))
    def someone_takes_a_name(self, index: int) -> None:
        """Somebody else creates a user whose name a pending WAL entry or a lease names:
        the engine must not delete it (it is not the one it made)."""
        self._take_a_name(index)

    @precondition(lambda self: self.ran["issue"] > 0)
    @rule(index=st.integers(0, 7))
    def someone_else_takes_a_name(self, index: int) -> None:
        self._take_a_name(index)

    # --- invariants ---------------------------------------------------------------------

    def _problems(self) -> list[str]:
        state = account(self.emulator)
        storage = self.mount.storage
        problems = [f"unaccounted: {p}" for p in unaccounted(state, storage, self._known())]
        users = {u["Uin"] for u in state["Users"]}
        groups = {g["GroupId"] for g in state["Groups"]}
        problems += [
            f"deleted a user it did not make: {name} (uin {uin})"
            for uin, name in self.foreign_users.items()
            if uin not in users
        ]
        problems += [
            f"deleted a group it did not make: {name}"
            for gid, name in self.foreign_groups.items()
            if gid not in groups
        ]
        config = read_config(storage)
        keys = {k["AccessKeyId"] for k in state["AccessKeys"]}
        if config is None or config.secret_id not in keys:
            problems.append("the mount's own key is gone")
        user_ids = {(u["Name"], u["Uin"]) for u in state["Users"]}
        problems += [
            f"the user of a live lease is gone, never revoked: {lease.username}"
            for lease in self.leases
            if lease.username and not lease.revoking and (lease.username, lease.uin) not in user_ids
        ]
        policies = {p["PolicyId"] for p in state["Policies"]}
        for name in storage.list("role/"):
            role = read_role(storage, name)
            assert role is not None
            problems += [
                f"role {name}'s group {g.group_name} is gone"
                for g in role.managed_groups
                if g.group_id not in groups
            ]
            problems += [
                f"role {name}'s policy {p.policy_name} is gone"
                for p in role.inline_policies
                if p.policy_id and p.policy_id not in policies
            ]
        return problems

    def _describe(self) -> str:
        storage = self.mount.storage
        lines = [f"  wal: {e.get('type')} {e.get('data')}" for e in wal_entries(storage)]
        lines += [f"  retired/{k}" for k in storage.list("retired/")]
        lines += [f"  role/{k}" for k in storage.list("role/")]
        lines += [f"  static-role/{k}" for k in storage.list("static-role/")]
        lines += [f"  lease {lease.role} {lease.username} {lease.uin}" for lease in self.leases]
        return "\n".join(lines)

    @invariant()
    def everything_is_accounted_for(self) -> None:
        problems = self._problems()
        if problems:
            self.broken = True
            raise AssertionError("\n".join([*problems, "storage and leases:", self._describe()]))

    # --- the end of a sequence ----------------------------------------------------------

    def _must(self, what: str, outcome: Outcome) -> None:
        if not outcome.delivered:
            self.broken = True
            detail = outcome.failure or (outcome.response.data if outcome.response else None)
            raise AssertionError(f"without faults, {what} failed: {detail}")

    def teardown(self) -> None:
        try:
            if not self.broken:
                self._wind_down()
        finally:
            self.emulator.set_faults(NO_FAULTS)
            self.mount.backend.cleanup()

    def _wind_down(self) -> None:
        """Rollback, revoke every lease, delete every role, rollback: nothing may be left."""
        clean: dict[str, Any] = {"faults": [], "interrupt": None}
        self._must(
            "the rollback", self._send(logical.ROLLBACK, "", data={"immediate": True}, **clean)
        )
        for lease in list(self.leases):
            self._must(
                f"revoking {lease.username}",
                self._send(logical.REVOKE, "creds/x", secret=lease.issued.secret, **clean),
            )
            self.leases.remove(lease)
        storage = self.mount.storage
        for name in storage.list("role/"):
            self._must(f"deleting role {name}", self._send("delete", f"role/{name}", **clean))
        for name in storage.list("static-role/"):
            self._must(
                f"deleting static role {name}",
                self._send("delete", f"static-roles/{name}", **clean),
            )
        self._must(
            "the last rollback", self._send(logical.ROLLBACK, "", data={"immediate": True}, **clean)
        )
        state = account(self.emulator)
        config = read_config(storage)
        assert config is not None
        left = marked(state)
        left["keys"] = [k for k in left["keys"] if k != config.secret_id]
        engine_keys = sorted(
            k["AccessKeyId"] for k in state["AccessKeys"] if k["Uin"] == self.engine_uin
        )
        bot_keys = sorted(
            k["AccessKeyId"]
            for k in state["AccessKeys"]
            if k["Uin"] in self.foreign_users and k["Uin"] != self.engine_uin
        )
        problems = [f"left in the account: {kind} {names}" for kind, names in left.items() if names]
        if engine_keys != [config.secret_id]:
            problems.append(f"the engine's user holds {engine_keys}, not [{config.secret_id}]")
        if bot_keys:
            problems.append(f"static roles' users still hold keys {bot_keys}")
        problems += [f"left in storage: wal/{k}" for k in storage.list("wal/")]
        problems += [f"left in storage: retired/{k}" for k in storage.list("retired/")]
        problems += self._problems()
        if problems:
            self.broken = True
            raise AssertionError("\n".join([*problems, "storage:", self._describe()]))


def _model_settings() -> settings:
    return settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        # The explain phase reruns the failing sequence many times over; the shrunk
        # sequence and the invariant's message say enough.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    )


def test_every_engine_object_is_accounted_for(emulator: RunningEmulator) -> None:
    STATS.clear()
    started = time.monotonic()
    with client_as(emulator, emulator.secret_id, emulator.secret_key) as admin:
        admin.transport.pacer = _unpaced()

        class Model(EngineModel):
            """The machine on this test's emulator (Hypothesis makes one per example)."""

            def __init__(self) -> None:
                super().__init__(emulator, admin)

        try:
            run_state_machine_as_test(Model, settings=_model_settings())
        finally:
            elapsed = time.monotonic() - started
            print(f"\nengine model: {elapsed:.1f}s, settings {EXAMPLES} examples x {STEPS} steps")
            for key, count in sorted(STATS.items()):
                print(f"  {key}: {count}")
    assert STATS["steps"] >= 1
