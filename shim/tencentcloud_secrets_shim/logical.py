"""Plain Python values that cross the line between the shim and the engine.

The shim turns Vault's protobuf messages into these objects and back; engine code never
sees a protobuf message. Everything here is a value or a narrow interface, so the engine
and its unit tests can run without gRPC at all (see ``InmemStorage``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

# Operations as Vault names them on the wire (sdk/logical/request.go).
CREATE = "create"
READ = "read"
UPDATE = "update"
PATCH = "patch"
DELETE = "delete"
LIST = "list"
HELP = "help"
ALIAS_LOOKAHEAD = "alias-lookahead"
RESOLVE_ROLE = "resolve-role"
HEADER = "header"
ROLLBACK = "rollback"
RENEW = "renew"
REVOKE = "revoke"

# Backend types returned by Type (sdk/logical/logical.go BackendType).
TYPE_LOGICAL = 1
TYPE_CREDENTIAL = 2


@dataclasses.dataclass
class LeaseOptions:
    """Lease settings of a secret; durations in seconds (the wire carries nanoseconds)."""

    ttl: float = 0.0
    max_ttl: float = 0.0
    renewable: bool = True
    increment: float = 0.0
    issue_time: dt.datetime | None = None


@dataclasses.dataclass
class Secret:
    """A leased secret: Vault stores ``internal_data`` and hands it back on renew and revoke."""

    lease: LeaseOptions = dataclasses.field(default_factory=LeaseOptions)
    internal_data: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    lease_id: str = ""


@dataclasses.dataclass
class Connection:
    remote_addr: str = ""
    remote_port: int = 0


class Cancellation:
    """Whether Vault has given up on a request. Set once, on the event loop; read by the
    engine on whatever thread runs the request (a single attribute, so no lock is needed).
    Not a ``threading.Event``: nothing waits on it, and an Event's lock and condition cost
    every request a few microseconds."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


@dataclasses.dataclass
class Request:
    """One request from Vault, already decoded (``data`` is the parsed JSON body)."""

    operation: str
    path: str
    # Request and response data may carry secrets (keys written to config, issued
    # credentials), as may stored values: none of them appears in a repr.
    data: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    id: str = ""
    secret: Secret | None = None
    headers: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    display_name: str = ""
    mount_point: str = ""
    mount_type: str = ""
    mount_accessor: str = ""
    entity_id: str = ""
    client_token_accessor: str = ""
    unauthenticated: bool = False
    connection: Connection | None = None
    # Handed over by the shim for the duration of the request; the engine uses it instead
    # of any global. A request built without one fails on first use, with a StorageError.
    storage: Storage = dataclasses.field(default_factory=lambda: DetachedStorage())
    # time.monotonic() instant after which Vault no longer waits for the answer (its
    # request deadline, sent as gRPC's timeout); None when Vault set none.
    deadline: float | None = None
    # Set by the shim when Vault cancels the call (its client went away) or its deadline
    # passes: from then on nobody receives the answer, so the engine must not create
    # anything more for it, nor forget what it already created.
    cancelled: Cancellation = dataclasses.field(
        default_factory=Cancellation, repr=False, compare=False
    )

    def time_left(self) -> float | None:
        """Seconds until ``deadline`` (never negative), or None without a deadline."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def wanted(self, margin: float = 0.0) -> bool:
        """Whether Vault still waits for the answer, with ``margin`` seconds to deliver it."""
        if self.cancelled.is_set():
            return False
        left = self.time_left()
        return left is None or left >= margin


@dataclasses.dataclass
class Response:
    """What a handler returns; ``None`` instead of a Response means "nothing" (404/204)."""

    data: dict[str, Any] | None = dataclasses.field(default=None, repr=False)
    secret: Secret | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    redirect: str = ""
    headers: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def add_warning(self, warning: str) -> None:
        self.warnings.append(warning)

    @property
    def is_error(self) -> bool:
        return bool(self.data) and "error" in (self.data or {}) and len(self.data or {}) == 1


@dataclasses.dataclass(frozen=True)
class Awaiting:
    """A response still waiting on I/O its engine does without a thread (a call to a cloud
    API, say): what ``Prepared.run`` returns in its place. The shim awaits ``finish()`` on its
    event loop, where it must neither block nor call Vault, and answers with its result;
    ``finish`` raises what ``run`` may. Callers without an event loop run it to completion
    (``asyncio.run``)."""

    finish: Callable[[], Awaitable[Response | None]]


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A request the engine has routed (``Backend.prepare``), ready to be answered.

    ``run`` answers it and may be called again if it raised ``WouldBlock``. ``inline`` says
    that the shim may call ``run`` on its event loop: there, a call that would wait for Vault
    raises ``WouldBlock``, and the shim calls ``run`` again on a worker thread.
    """

    run: Callable[[], Response | Awaiting | None]
    inline: bool = False


def error_response(message: str) -> Response:
    """The response Vault renders as ``{"errors": [message]}`` with status 400."""
    return Response(data={"error": message})


@dataclasses.dataclass(frozen=True)
class SpecialPaths:
    """Paths with special handling in Vault's router (sdk/logical/logical.go Paths)."""

    root: tuple[str, ...] = ()
    unauthenticated: tuple[str, ...] = ()
    local_storage: tuple[str, ...] = ()
    seal_wrap_storage: tuple[str, ...] = ()
    write_forwarded_storage: tuple[str, ...] = ()
    binary: tuple[str, ...] = ()
    limited: tuple[str, ...] = ()
    allow_snapshot_read: tuple[str, ...] = ()


# --- errors -------------------------------------------------------------------------
# Each maps to one ProtoError type, so Vault reports the status its own engines would.


class LogicalError(Exception):
    """Base of the errors a handler may raise on purpose; the message reaches the user."""


class CodedError(LogicalError):
    """An error with an explicit HTTP status (logical.CodedError)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class InvalidRequest(LogicalError):
    """Vault's ErrInvalidRequest: 400."""


class UnsupportedOperation(LogicalError):
    """Vault's ErrUnsupportedOperation: 405."""

    def __init__(self, message: str = "unsupported operation") -> None:
        super().__init__(message)


class UnsupportedPath(LogicalError):
    """Vault's ErrUnsupportedPath: 404."""

    def __init__(self, message: str = "unsupported path") -> None:
        super().__init__(message)


class PermissionDenied(LogicalError):
    """Vault's ErrPermissionDenied: 403."""

    def __init__(self, message: str = "permission denied") -> None:
        super().__init__(message)


class Unrecoverable(LogicalError):
    """Vault's ErrUnrecoverable: the lease manager stops retrying at once."""


class StorageError(Exception):
    """A storage call failed inside Vault (the message is Vault's)."""


class WouldBlock(Exception):
    """A call to Vault was made on the thread of the shim's event loop, where waiting
    would stall every mount.

    Only an operation declared inline meets it, and only when it needs Vault (a cache miss):
    the shim then fetches what was asked (when it only reads) without blocking and runs the
    request again with the answer, or runs it again on a worker thread. ``pending`` is the
    shim's own record of the read; engines never look at it, and let the exception pass.
    """

    def __init__(self, pending: object = None) -> None:
        super().__init__()
        self.pending = pending


def on_event_loop() -> bool:
    """Whether the caller runs on an event loop's thread (the shim's: an inline request)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def leave_event_loop() -> None:
    """Raise ``WouldBlock`` when called on the shim's event loop: what the caller does next
    blocks (a cloud call made the blocking way), so the request must run on a worker thread.
    Called before the request has changed anything, it costs one run of what came before."""
    if on_event_loop():
        raise WouldBlock()


# --- storage and system view -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StorageEntry:
    key: str
    value: bytes = dataclasses.field(repr=False)
    seal_wrap: bool = False


class Storage(Protocol):
    """Vault's per-mount storage as the engine sees it (synchronous; safe from any thread)."""

    def list(self, prefix: str) -> list[str]: ...

    def get(self, key: str) -> StorageEntry | None: ...

    def put(self, entry: StorageEntry) -> None: ...

    def delete(self, key: str) -> None: ...


class DetachedStorage:
    """The storage of a request that was built without one: every call is an error."""

    def _fail(self) -> StorageError:
        return StorageError("this request has no storage attached")

    def list(self, prefix: str) -> list[str]:
        raise self._fail()

    def get(self, key: str) -> StorageEntry | None:
        raise self._fail()

    def put(self, entry: StorageEntry) -> None:
        raise self._fail()

    def delete(self, key: str) -> None:
        raise self._fail()


class InmemStorage:
    """Storage held in a dict, with Vault's list semantics; for unit tests and tools."""

    def __init__(self) -> None:
        self._data: dict[str, StorageEntry] = {}
        self._lock = threading.Lock()

    def list(self, prefix: str) -> list[str]:
        seen: set[str] = set()
        with self._lock:
            for key in self._data:
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix) :]
                head, sep, _ = rest.partition("/")
                seen.add(head + sep)
        return sorted(seen)

    def get(self, key: str) -> StorageEntry | None:
        with self._lock:
            return self._data.get(key)

    def put(self, entry: StorageEntry) -> None:
        if not entry.key:
            raise StorageError("missing key")
        with self._lock:
            self._data[entry.key] = entry

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


@dataclasses.dataclass(frozen=True)
class PluginEnvironment:
    vault_version: str = ""
    vault_version_prerelease: str = ""
    vault_version_metadata: str = ""


class SystemView(Protocol):
    """The parts of Vault's SystemView that engines use (durations in seconds)."""

    def default_lease_ttl(self) -> float: ...

    def max_lease_ttl(self) -> float: ...

    def tainted(self) -> bool: ...

    def local_mount(self) -> bool: ...

    def replication_state(self) -> int: ...

    def plugin_env(self) -> PluginEnvironment: ...


@dataclasses.dataclass
class StaticSystemView:
    """A SystemView with fixed answers; for unit tests and tools."""

    default_ttl: float = 768 * 3600.0
    max_ttl: float = 768 * 3600.0
    is_tainted: bool = False
    is_local: bool = False
    replication: int = 0
    env: PluginEnvironment = dataclasses.field(default_factory=PluginEnvironment)

    def default_lease_ttl(self) -> float:
        return self.default_ttl

    def max_lease_ttl(self) -> float:
        return self.max_ttl

    def tainted(self) -> bool:
        return self.is_tainted

    def local_mount(self) -> bool:
        return self.is_local

    def replication_state(self) -> int:
        return self.replication

    def plugin_env(self) -> PluginEnvironment:
        return self.env


@dataclasses.dataclass
class BackendConfig:
    """What Setup hands a backend: its storage, system view and Vault's config map."""

    storage: Storage
    system_view: SystemView
    config: dict[str, str] = dataclasses.field(default_factory=dict)
    backend_uuid: str = ""
    mount_id: str = ""


class Backend(Protocol):
    """The engine as the shim drives it. All methods are synchronous; all but ``prepare``
    and ``Prepared.run`` of an inline request run off the shim's event loop."""

    def setup(self, config: BackendConfig) -> None: ...

    def initialize(self) -> None: ...

    def prepare(self, request: Request) -> Prepared:
        """Route ``request``, once, on the shim's event loop: this must neither wait nor raise.

        ``Prepared.run`` raises only ``LogicalError`` (an unexpected failure has been logged
        and turned into one, such as a 500 that names the request id), ``StorageError`` from
        the storage the shim handed over, and ``WouldBlock`` when it runs inline.
        """
        ...

    def handle_existence_check(self, request: Request) -> tuple[bool, bool]:
        """Return (check_found, exists); raises what ``Prepared.run`` may, ``WouldBlock`` aside."""
        ...

    def special_paths(self) -> SpecialPaths: ...

    def backend_type(self) -> int: ...

    def invalidate(self, key: str) -> None: ...

    def cleanup(self) -> None: ...
