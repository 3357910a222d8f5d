"""The emulator as a library: one object owning the world, faults and request log, answering
plain requests. The HTTP server and the test helpers are thin layers over it.

Pipeline per API call, in the gateway's order: route (version, action) -> authenticate ->
throttle and injected faults -> parameters -> handler under the world lock -> envelope. The
emulator's own log lines carry action, outcome and latency only; never parameters.

Injected faults that are not an error envelope leave ``handle`` as exceptions (``DropConnection``,
``BrokenAnswer``) for the HTTP layer to act out; each is in the request log first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import actions, auth, exceptions, ids, params, persistence, seed
from .authorization import authorize
from .exceptions import ApiError, BrokenAnswer, DropConnection
from .faults import FaultPlan
from .models import Env, Quotas
from .requestlog import RequestLog
from .world import Principal, World

log = logging.getLogger("tencentcloud_emulator")

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclasses.dataclass(frozen=True)
class Request:
    """An HTTP request as the emulator needs it (header names lowercased)."""

    method: str
    path: str
    query: str
    # Authorization and X-TC-Token live here, and secrets in the body: never in a repr.
    headers: Mapping[str, str] = dataclasses.field(repr=False)
    body: bytes = dataclasses.field(repr=False)
    # Where it came from and whether it arrived over TLS: CAM condition keys (qcs:ip,
    # qcs:secure_transport).
    client_ip: str = ""
    secure: bool = False
    # The service the Host names (``cam`` for ``cam.tencentcloudapi.com``) when the request came
    # through a listener that routes by host, as the gateway does; None on the plain port, which
    # routes by the credential scope and X-TC-Version.
    host_service: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclasses.dataclass(frozen=True)
class Options:
    """Start-time options; the fault part can be replaced later through the admin plane."""

    faults: Mapping[str, Any] | None = None
    quotas: Mapping[str, int] | None = None
    key_activation_delay: float = 0.0
    rng_seed: int | None = None
    log_limit: int = 10000
    require_sts_region: bool = True
    # Evaluate CAM policies for every call not made with a root key.
    permissions: bool = True
    # The role the metadata endpoint serves (a role name in the first account); None keeps
    # the seed's ``instance_role``.
    instance_role: str | None = None
    # Keep the world in this directory across restarts (see ``persistence``); a saved state,
    # when present, is loaded instead of the seed.
    state_dir: str | Path | None = None


class Emulator:
    def __init__(
        self,
        seed_source: str | Path | Mapping[str, Any] | None = None,
        options: Options | None = None,
    ) -> None:
        self.options = options or Options()
        self.lock = threading.RLock()
        self.requests = RequestLog(self.options.log_limit)
        self.faults = FaultPlan(self.options.faults, seed=self.options.rng_seed)
        self._initial_seed = self._seed = seed.load(seed_source)
        self._saver: persistence.Saver | None = None
        if self.options.state_dir is None:
            self.world = self._build(self._seed)
            return
        state_file = persistence.StateFile(self.options.state_dir)
        saved = state_file.load()
        self.world = self._build(self._seed) if saved is None else self._resume(saved)
        self._saver = persistence.Saver(state_file, self.state_for_saving)
        self._saver.save_now()

    def _resume(self, saved: dict[str, Any]) -> World:
        """The saved world; quotas and the instance role given as options still apply."""
        world = persistence.restore(saved)
        if self.options.quotas:
            world.env.quotas = Quotas(**{**world.env.quotas.to_dict(), **self.options.quotas})
        if self.options.instance_role is not None:
            seed.bind_instance_role(world, self.options.instance_role)
        return world

    def state_for_saving(self) -> dict[str, Any]:
        """The whole world, secrets included (``persistence.dump``); never for the admin plane."""
        with self.lock:
            return persistence.dump(self.world)

    def changed(self) -> None:
        """Something in the world may have changed: the saver, if any, writes it soon."""
        if self._saver is not None:
            self._saver.changed()

    def close(self) -> None:
        """Write the final state (with a state directory) and stop the saver; idempotent."""
        if self._saver is not None:
            self._saver.close()
            self._saver = None

    # ---- state management (admin plane) -------------------------------------------------

    def _build(self, seed_data: Mapping[str, Any]) -> World:
        quotas = {**(seed_data.get("quotas") or {}), **(self.options.quotas or {})}
        try:
            env = Env(rng_seed=self.options.rng_seed, quotas=Quotas(**quotas))
        except TypeError as err:
            raise seed.SeedError(f"invalid quotas: {err}") from None
        env.key_activation_delay = self.options.key_activation_delay
        world = seed.build(seed_data, env)
        if self.options.instance_role is not None:
            seed.bind_instance_role(world, self.options.instance_role)
        return world

    def reset(self, *, faults: bool = True) -> None:
        """Back to the seed: fresh state, empty log and counters, start-time faults."""
        world = self._build(self._seed)
        with self.lock:
            self.world = world
            self.requests.clear()
            if faults:
                self.faults.configure(self.options.faults or {})
            else:
                self.faults.reset_buckets()
        self.changed()

    def restore(self) -> None:
        """Back to the start: the original seed, start-time faults, empty log."""
        with self.lock:
            self._seed = self._initial_seed
        self.reset()

    def load_seed(self, seed_source: str | Path | Mapping[str, Any]) -> None:
        """Replace the seed (and the state built from it)."""
        data = seed.load(seed_source)
        world = self._build(data)
        with self.lock:
            self._seed, self.world = data, world
        self.changed()

    def state(self) -> dict[str, Any]:
        with self.lock:
            return self.world.snapshot()

    def set_faults(self, config: Mapping[str, Any]) -> None:
        extra = set(config) - {"faults", "throttle", "latency", "seed", "key_activation_delay"}
        if extra:
            raise ValueError(f"unknown fault configuration keys: {sorted(extra)}")
        self.faults.configure(config)
        if "key_activation_delay" in config:
            with self.lock:
                self.world.env.key_activation_delay = float(config["key_activation_delay"])
            self.changed()

    def fault_config(self) -> dict[str, Any]:
        return {
            **self.faults.to_dict(),
            "key_activation_delay": self.world.env.key_activation_delay,
        }

    def set_quotas(self, quotas: Mapping[str, int]) -> None:
        with self.lock:
            current = self.world.env.quotas.to_dict()
            current.update({k: int(v) for k, v in quotas.items()})
            self.world.env.quotas = Quotas(**current)
        self.changed()

    def advance_clock(self, seconds: float) -> float:
        """Move the clock used for expiry and key activation (not the signature skew check)."""
        with self.lock:
            self.world.env.clock_offset += seconds
            offset = self.world.env.clock_offset
        self.changed()
        return offset

    # ---- the public API -----------------------------------------------------------------

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        """Answer one Tencent Cloud API request.

        Raises ``DropConnection`` when the connection must close unanswered and ``BrokenAnswer``
        when the answer must not be an envelope (both injected faults).
        """
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        ctx: dict[str, Any] = {
            "service": "",
            "action": request.header("x-tc-action") or "",
            "secret_id": "",
            "params": {},
        }
        try:
            body = self._call(request, ctx)
            code = "Success"
            response: dict[str, Any] = {**body, "RequestId": request_id}
        except (DropConnection, BrokenAnswer) as fault:
            self._record(request_id, ctx, fault.code, started, request.headers)
            raise
        except ApiError as err:
            code = err.code
            response = {
                "Error": {"Code": err.code, "Message": err.message},
                "RequestId": request_id,
            }
        except Exception as bug:
            # Only the exception's type: its message or traceback could quote a secret.
            log.error("internal error in %s: %s", ctx["action"], type(bug).__name__)
            internal = exceptions.internal_error()
            code = internal.code
            response = {
                "Error": {"Code": internal.code, "Message": internal.message},
                "RequestId": request_id,
            }
        self._record(request_id, ctx, code, started, request.headers)
        return 200, {"Response": response}

    def _record(
        self,
        request_id: str,
        ctx: dict[str, Any],
        code: str,
        started: float,
        headers: Mapping[str, str],
    ) -> None:
        entry = self.requests.record(
            request_id=request_id,
            service=ctx["service"],
            action=ctx["action"],
            secret_id=ctx["secret_id"],
            params=ctx["params"],
            headers=headers,
            code=code,
            started=started,
            injected_delay_ms=ctx.get("injected_delay_ms", 0.0),
        )
        log.info("%s %s %s %.1fms", request_id, entry.action or "-", code, entry.latency_ms)

    def _call(self, request: Request, ctx: dict[str, Any]) -> dict[str, Any]:
        action_name = request.header("x-tc-action")
        if not action_name:
            raise exceptions.missing_parameter("Action")
        version = request.header("x-tc-version")
        if not version:
            raise exceptions.missing_parameter("Version")
        routed = request.host_service
        if routed is not None and routed not in actions.VERSIONS:
            raise exceptions.not_emulated(routed)
        authorization = (request.header("authorization") or "").strip()
        unsigned = authorization == "SKIP"
        if unsigned:
            service = routed or next((s for s, v in actions.VERSIONS.items() if v == version), "")
            if actions.VERSIONS.get(service) != version:
                raise exceptions.no_such_version(version)
        else:
            scope = auth.parse_authorization(authorization) if authorization else None
            if scope is None:
                raise exceptions.invalid_authorization("is missing")
            service = scope.service
            ctx["secret_id"] = scope.secret_id
            if routed is not None and service != routed:
                raise exceptions.invalid_authorization(
                    f"signs for the service `{service}`, but the request was sent to `{routed}`"
                )
            if actions.VERSIONS.get(service) != version:
                raise exceptions.no_such_version(version)
        ctx["service"] = service
        action = actions.lookup(service, action_name)
        if action is None:
            raise exceptions.invalid_action(action_name, version)
        if (
            service == "sts"
            and self.options.require_sts_region
            and not request.header("x-tc-region")
        ):
            raise exceptions.missing_parameter("Region")

        principal: Principal | None = None
        if unsigned:
            if not action.unsigned:
                raise exceptions.invalid_authorization("must be signed for this action")
        else:
            assert scope is not None
            signed = auth.SignedRequest(
                method=request.method,
                query=request.query,
                headers=request.headers,
                body=request.body,
            )
            with self.lock:
                principal = auth.verify(self.world, signed, scope)

        raw, typed = _raw_params(request)
        ctx["params"] = raw
        verdict = self.faults.decide(action.name)
        if verdict.delay > 0:
            ctx["injected_delay_ms"] = round(verdict.delay * 1000, 3)
            time.sleep(verdict.delay)
        if verdict.error is not None:
            raise ApiError(*verdict.error)
        if verdict.drop == "before":
            raise DropConnection(ran=False)
        if verdict.http_status is not None:
            raise exceptions.gateway_error_page(verdict.http_status)
        if verdict.garbage:
            raise exceptions.not_json()
        checked = params.check(raw, action.fields, typed=typed)
        ctx["params"] = checked.as_dict()
        with self.lock:
            if self.options.permissions and principal is not None:
                authorize(principal, service, action.name, checked, self._context(request))
            try:
                result = action.handler(actions.Call(self.world, principal), checked)
            finally:
                # Reads included: the saver writes only when the state really differs.
                self.changed()
        if verdict.drop == "after":
            raise DropConnection(ran=True)
        return result

    def _context(self, request: Request) -> dict[str, str]:
        """The CAM condition keys the emulator knows for a request."""
        context = {
            "qcs:current_time": ids.iso_utc(self.world.env.now()),
            "qcs:secure_transport": "true" if request.secure else "false",
        }
        if request.client_ip:
            context["qcs:ip"] = request.client_ip
        return context


def _raw_params(request: Request) -> tuple[dict[str, Any], bool]:
    """Parameters as sent: JSON keeps types; GET query and form bodies are flattened strings."""
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if request.method == "GET":
        return params.unflatten(
            urllib.parse.parse_qsl(request.query, keep_blank_values=True)
        ), False
    if content_type == FORM_CONTENT_TYPE:
        text = request.body.decode("utf-8", errors="replace")
        return params.unflatten(urllib.parse.parse_qsl(text, keep_blank_values=True)), False
    if content_type != JSON_CONTENT_TYPE:
        raise exceptions.ApiError(
            "InvalidParameter", f"The Content-Type `{content_type}` is not supported."
        )
    if not request.body.strip():
        return {}, True
    try:
        data = json.loads(request.body)
    except ValueError:
        raise exceptions.ApiError(
            "InvalidParameter", "The request body is not valid JSON."
        ) from None
    if not isinstance(data, dict):
        raise exceptions.ApiError("InvalidParameter", "The request body must be a JSON object.")
    return data, True
