"""The declarative backend: routes requests to paths, secrets, rollback and help.

One instance serves one mount. Everything declared at construction (paths, secrets, hooks)
is read-only afterwards, so requests may run concurrently on any thread; mutable per-mount
state belongs to the engine, guarded by its own locks. This module logs request paths and
operations but never request data, which may hold secrets.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from tencentcloud_secrets.framework.errors import InternalError
from tencentcloud_secrets.framework.field_data import FieldData
from tencentcloud_secrets.framework.help import path_help, root_help
from tencentcloud_secrets.framework.openapi import (
    DocumentContext,
    document_path,
    document_paths,
    new_document,
)
from tencentcloud_secrets.framework.path import Handler, Operation, Path
from tencentcloud_secrets.framework.responses import help_response
from tencentcloud_secrets.framework.secret import SECRET_TYPE_KEY, Secret
from tencentcloud_secrets.framework.storage_cache import CachedStorage, StorageCache
from tencentcloud_secrets.framework.wal import (
    DEFAULT_ROLLBACK_MIN_AGE,
    WALRollbackFunc,
    rollback_wal,
)
from tencentcloud_secrets_shim import logical

PeriodicFunc = Callable[[logical.Request], None]
InvalidateFunc = Callable[[str], None]
CleanupFunc = Callable[[], None]

_VALIDATED_OPERATIONS = frozenset({logical.CREATE, logical.UPDATE})
_ERRORS_TO_PASS_ON = (logical.LogicalError, logical.StorageError, logical.WouldBlock)

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


def _unsupported_path(request: logical.Request) -> logical.Response | None:
    raise logical.UnsupportedPath()


class Backend:
    """A Vault backend built from declarations; implements ``logical.Backend``.

    Engines either construct it directly or subclass it and call ``super().__init__`` with
    bound methods as handlers, keeping per-mount state on ``self``.
    """

    def __init__(
        self,
        *,
        help_text: str = "",
        paths: Sequence[Path] = (),
        secrets: Sequence[Secret] = (),
        special_paths: logical.SpecialPaths | None = None,
        wal_rollback: Mapping[str, WALRollbackFunc] | None = None,
        wal_rollback_min_age: float = DEFAULT_ROLLBACK_MIN_AGE,
        periodic_func: PeriodicFunc | None = None,
        invalidate_func: InvalidateFunc | None = None,
        clean_func: CleanupFunc | None = None,
        backend_type: int = logical.TYPE_LOGICAL,
        cached_storage: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.help_text = help_text
        self.paths: tuple[Path, ...] = tuple(paths)
        self.secrets: dict[str, Secret] = {}
        for secret in secrets:
            if secret.type in self.secrets:
                raise ValueError(f"secret type {secret.type!r} is declared twice")
            self.secrets[secret.type] = secret
        self._special_paths = special_paths or logical.SpecialPaths()
        self.wal_rollback: Mapping[str, WALRollbackFunc] = dict(wal_rollback or {})
        self.wal_rollback_min_age = wal_rollback_min_age or DEFAULT_ROLLBACK_MIN_AGE
        self.periodic_func = periodic_func
        self.invalidate_func = invalidate_func
        self.clean_func = clean_func
        self._backend_type = backend_type
        # Keys under these prefixes are read from memory after the first time (see
        # storage_cache): the engine's configuration and roles, read by nearly every request.
        self.storage_cache = StorageCache(cached_storage) if cached_storage else None
        self._clock = clock
        self._config: logical.BackendConfig | None = None

    # --- logical.Backend --------------------------------------------------------------

    def setup(self, config: logical.BackendConfig) -> None:
        self._config = config

    def initialize(self) -> None:
        """Vault's Initialize, once the mount is set up: nothing to do here."""

    def special_paths(self) -> logical.SpecialPaths:
        return self._special_paths

    def backend_type(self) -> int:
        return self._backend_type

    def invalidate(self, key: str) -> None:
        if self.storage_cache is not None:
            self.storage_cache.forget(key)
        if self.invalidate_func is not None:
            self.invalidate_func(key)

    def cleanup(self) -> None:
        if self.storage_cache is not None:
            self.storage_cache.clear()
        if self.clean_func is not None:
            self.clean_func()

    def handle_existence_check(self, request: logical.Request) -> tuple[bool, bool]:
        return self._guarded(request, lambda: self._check_existence(request))

    def prepare(self, request: logical.Request) -> logical.Prepared:
        """Route ``request`` once: what answers it, and whether the shim may run that on its
        event loop (``Operation.inline``).

        Only the route is resolved here, so nothing waits and nothing fails: a path that does
        not exist, like every other failure, is raised when the result runs.
        """
        operation = request.operation
        if operation == logical.REVOKE:
            return self._prepared(
                request, self._handle_renew_revoke, inline=self._revokes_inline(request)
            )
        if operation == logical.RENEW:
            return self._prepared(request, self._handle_renew_revoke)
        if operation == logical.ROLLBACK:
            return self._prepared(request, self._handle_rollback)
        if operation == logical.HELP and request.path == "":
            return self._prepared(request, self._handle_root_help)
        route = self._route(request.path)
        if route is None:
            return self._prepared(request, _unsupported_path)
        path, captures = route
        op = path.operations.get(operation)
        return self._prepared(
            request,
            functools.partial(self._handle_path, path, captures, op),
            inline=op is not None and op.inline,
        )

    def handle_request(self, request: logical.Request) -> logical.Response | None:
        """Route and answer ``request`` in one call, for callers without an event loop (what
        a handler awaits runs to completion on a loop of its own)."""
        response = self.prepare(request).run()
        if isinstance(response, logical.Awaiting):
            return asyncio.run(_completed(response))
        return response

    # --- accessors ----------------------------------------------------------------------

    @property
    def config(self) -> logical.BackendConfig:
        if self._config is None:
            raise RuntimeError("backend used before setup")
        return self._config

    @property
    def system_view(self) -> logical.SystemView | None:
        return None if self._config is None else self._config.system_view

    def secret(self, secret_type: str) -> Secret | None:
        return self.secrets.get(secret_type)

    # --- internals ----------------------------------------------------------------------

    def _route(self, request_path: str) -> tuple[Path, dict[str, str]] | None:
        """The first declared path that matches all of ``request_path``, with its captures."""
        for path in self.paths:
            captures = path.match(request_path)
            if captures is not None:
                return path, captures
        return None

    def _prepared(
        self,
        request: logical.Request,
        handle: Callable[[logical.Request], logical.Response | logical.Awaiting | None],
        *,
        inline: bool = False,
    ) -> logical.Prepared:
        return logical.Prepared(run=functools.partial(self._run, request, handle), inline=inline)

    def _run(
        self,
        request: logical.Request,
        handle: Callable[[logical.Request], logical.Response | logical.Awaiting | None],
    ) -> logical.Response | logical.Awaiting | None:
        request.storage = self._cached(request.storage)
        response = self._guarded(request, lambda: handle(request))
        if isinstance(response, logical.Awaiting):
            return logical.Awaiting(functools.partial(self._guarded_async, request, response))
        return response

    def _handle_path(
        self,
        path: Path,
        captures: Mapping[str, str],
        op: Operation | None,
        request: logical.Request,
    ) -> logical.Response | logical.Awaiting | None:
        operation = request.operation
        data, warnings = self._field_data(path, request, captures)
        if op is None:
            if operation != logical.HELP:
                raise logical.UnsupportedOperation()
            return self._handle_path_help(path, request)

        if operation == logical.HELP:
            return op.handler(request, data)
        problems = data.validate()
        if problems:
            text = "; ".join(problem.message for problem in problems)
            return logical.error_response(f"Field validation failed: {text}")
        if operation in _VALIDATED_OPERATIONS:
            missing = data.missing_required()
            if missing:
                names = ", ".join(f'"{name}"' for name in missing)
                return logical.error_response(
                    f"Field validation failed: missing required field {names}"
                )

        handler: Handler = op.handler
        response = handler(request, data)
        if isinstance(response, logical.Awaiting):
            if not warnings:
                return response
            return logical.Awaiting(functools.partial(_warned, response, warnings))
        return _with_warnings(response, warnings)

    def _check_existence(self, request: logical.Request) -> tuple[bool, bool]:
        if request.operation not in _VALIDATED_OPERATIONS:
            raise logical.CodedError(
                500, f"incorrect operation type {request.operation!r} for an existence check"
            )
        route = self._route(request.path)
        if route is None:
            raise logical.UnsupportedPath()
        path, captures = route
        request.storage = self._cached(request.storage)
        if path.existence_check is None:
            return False, False
        data, _ = self._field_data(path, request, captures)
        problems = data.validate()
        if problems:
            raise logical.InvalidRequest(problems[0].message)
        return True, bool(path.existence_check(request, data))

    @staticmethod
    def _field_data(
        path: Path, request: logical.Request, captures: Mapping[str, str]
    ) -> tuple[FieldData, list[str]]:
        body = dict(request.data or {})
        warnings: list[str] = []
        if request.operation != logical.HELP:
            ignored = [] if path.takes_arbitrary_input else sorted(set(body) - set(path.fields))
            if ignored:
                warnings.append(
                    f"Endpoint ignored these unrecognized parameters: [{' '.join(ignored)}]"
                )
            replaced = sorted(k for k in captures if body.get(k) is not None)
            if replaced:
                warnings.append(
                    "Endpoint replaced the value of these parameters with the values captured "
                    f"from the endpoint's path: [{' '.join(replaced)}]"
                )
        body.update(captures)
        return FieldData(body, path.fields), warnings

    @staticmethod
    async def _guarded_async(
        request: logical.Request, awaiting: logical.Awaiting
    ) -> logical.Response | None:
        """``_guarded`` for what a handler awaits: the same errors pass, the rest is a 500."""
        try:
            return await awaiting.finish()
        except _ERRORS_TO_PASS_ON:
            raise
        except Exception:
            raise Backend._unexpected(request) from None

    @staticmethod
    def _guarded(request: logical.Request, call: Callable[[], _T]) -> _T:
        """The one place where an unexpected exception becomes a 500: logged here with its
        traceback, it reaches Vault as ``InternalError``, which carries only the request id.

        Every request runs under it, from routing on, so nothing but the contract's errors
        leaves the backend; the rollback also runs its periodic function under it, so that a
        failing hook is reported without stopping the WAL replay.
        """
        try:
            return call()
        except _ERRORS_TO_PASS_ON:
            raise
        except Exception:
            raise Backend._unexpected(request) from None

    @staticmethod
    def _unexpected(request: logical.Request) -> InternalError:
        """Log the exception being handled, with its traceback; what Vault is told instead."""
        logger.exception(
            "%s on %r failed (request id %s)", request.operation, request.path, request.id
        )
        return InternalError(request.id)

    def _lease_secret(self, request: logical.Request) -> Secret | None:
        """The secret type named in the lease's internal data, if this backend has it."""
        if request.secret is None:
            return None
        secret_type = request.secret.internal_data.get(SECRET_TYPE_KEY)
        return self.secrets.get(secret_type) if isinstance(secret_type, str) else None

    def _revokes_inline(self, request: logical.Request) -> bool:
        """Whether the lease's secret type says this revocation may run on the event loop."""
        secret = self._lease_secret(request)
        if secret is None or secret.inline_revoke is None or request.secret is None:
            return False
        return secret.inline_revoke(request.secret.internal_data)

    def _handle_renew_revoke(self, request: logical.Request) -> logical.Response | None:
        if request.secret is None:
            raise logical.CodedError(500, "request has no secret")
        secret = self._lease_secret(request)
        if secret is None:
            raise logical.CodedError(500, "secret is unsupported by this backend")
        if request.operation == logical.RENEW:
            return secret.handle_renew(request)
        return secret.handle_revoke(request)

    def _handle_rollback(self, request: logical.Request) -> logical.Response | None:
        """Run the periodic hook, then replay stale WAL entries; report what failed.

        As in Vault, a failed periodic function is an error (Vault logs it), while WAL
        entries that could not be rolled back come back as an error response.
        """
        problems: list[str] = []
        periodic_error: logical.LogicalError | None = None
        if self.periodic_func is not None:
            periodic = self.periodic_func
            try:
                self._guarded(request, lambda: periodic(request))
            except logical.LogicalError as exc:
                periodic_error = exc
        if self.wal_rollback:
            storage = self._storage(request)
            failures = rollback_wal(
                request,
                storage,
                self.wal_rollback,
                min_age=self.wal_rollback_min_age,
                now=self._clock(),
            )
            problems.extend(failure.describe() for failure in failures)
        if periodic_error is not None:
            message = f"periodic function failed: {periodic_error}"
            raise logical.CodedError(500, "; ".join([message, *problems]))
        if problems:
            return logical.error_response("; ".join(problems))
        return None

    def _storage(self, request: logical.Request) -> logical.Storage:
        if isinstance(request.storage, logical.DetachedStorage):
            return self._cached(self.config.storage)
        return request.storage

    def _cached(self, storage: logical.Storage) -> logical.Storage:
        """``storage`` behind this mount's cache; a detached one stays as it is."""
        if self.storage_cache is None or isinstance(
            storage, (CachedStorage, logical.DetachedStorage)
        ):
            return storage
        return self.storage_cache.view(storage)

    def _vault_version(self) -> str:
        view = self.system_view
        if view is None:
            return "unknown"
        return view.plugin_env().vault_version

    def _document_context(self, request: logical.Request) -> DocumentContext:
        prefix = (request.data or {}).get("requestResponsePrefix")
        return DocumentContext(
            special_paths=self._special_paths,
            backend_type=self._backend_type,
            request_response_prefix=prefix if isinstance(prefix, str) else "",
        )

    def _handle_root_help(self, request: logical.Request) -> logical.Response:
        doc = new_document(self._vault_version())
        try:
            document_paths(doc, self.paths, self._document_context(request))
        except Exception:
            logger.exception("generating the OpenAPI document failed")
        return help_response(root_help(self.help_text, self.paths), doc)

    def _handle_path_help(self, path: Path, request: logical.Request) -> logical.Response:
        doc = new_document(self._vault_version())
        try:
            document_path(doc, path, self._document_context(request))
        except Exception:
            logger.exception("generating the OpenAPI document for %r failed", path.pattern)
        return help_response(path_help(path, request.path), doc)


def _with_warnings(
    response: logical.Response | None, warnings: list[str]
) -> logical.Response | None:
    if warnings and response is None:
        # Vault's framework drops these warnings when a handler returns nothing, so a
        # misspelt field on a write goes unnoticed; here the caller always hears of it.
        response = logical.Response()
    for warning in warnings:
        assert response is not None
        response.add_warning(warning)
    return response


async def _warned(awaiting: logical.Awaiting, warnings: list[str]) -> logical.Response | None:
    return _with_warnings(await awaiting.finish(), warnings)


async def _completed(awaiting: logical.Awaiting) -> logical.Response | None:
    return await awaiting.finish()
