"""A small declarative framework for Vault backends, in the spirit of Vault's own.

An engine declares paths (patterns, fields, per-operation handlers), secret types, WAL
rollback functions and hooks; ``Backend`` routes Vault's requests to them, validates input,
answers help and OpenAPI requests, and replays the write-ahead log. Nothing here knows about
any particular cloud.
"""

from tencentcloud_secrets.framework.backend import (
    Backend,
    CleanupFunc,
    InvalidateFunc,
    PeriodicFunc,
)
from tencentcloud_secrets.framework.durations import (
    DurationError,
    format_duration,
    parse_duration_seconds,
)
from tencentcloud_secrets.framework.errors import InternalError
from tencentcloud_secrets.framework.field_data import FieldData, FieldProblem
from tencentcloud_secrets.framework.fields import (
    DisplayAttributes,
    Field,
    FieldType,
    FieldValueError,
)
from tencentcloud_secrets.framework.locks import KeyLocks
from tencentcloud_secrets.framework.path import (
    ExistenceCheck,
    Handler,
    Operation,
    Path,
    generic_name_regex,
    match_all_regex,
    optional_param_regex,
    optional_parts,
    path_append,
)
from tencentcloud_secrets.framework.responses import (
    error_response,
    help_response,
    list_response,
    list_response_with_info,
)
from tencentcloud_secrets.framework.secret import SECRET_TYPE_KEY, Secret
from tencentcloud_secrets.framework.storage_cache import CachedStorage, StorageCache
from tencentcloud_secrets.framework.ttl import (
    TTLResult,
    calculate_ttl,
    capped_ttl,
    renew_response,
)
from tencentcloud_secrets.framework.wal import (
    DEFAULT_ROLLBACK_MIN_AGE,
    WAL_PREFIX,
    RollbackFailure,
    WALEntry,
    WALRollbackFunc,
    delete_wal,
    get_wal,
    list_wal,
    put_wal,
    rollback_wal,
)

__all__ = [
    "DEFAULT_ROLLBACK_MIN_AGE",
    "SECRET_TYPE_KEY",
    "WAL_PREFIX",
    "Backend",
    "CachedStorage",
    "CleanupFunc",
    "DisplayAttributes",
    "DurationError",
    "ExistenceCheck",
    "Field",
    "FieldData",
    "FieldProblem",
    "FieldType",
    "FieldValueError",
    "Handler",
    "InternalError",
    "InvalidateFunc",
    "KeyLocks",
    "Operation",
    "Path",
    "PeriodicFunc",
    "RollbackFailure",
    "Secret",
    "StorageCache",
    "TTLResult",
    "WALEntry",
    "WALRollbackFunc",
    "calculate_ttl",
    "capped_ttl",
    "delete_wal",
    "error_response",
    "format_duration",
    "generic_name_regex",
    "get_wal",
    "help_response",
    "list_response",
    "list_response_with_info",
    "list_wal",
    "match_all_regex",
    "optional_param_regex",
    "optional_parts",
    "parse_duration_seconds",
    "path_append",
    "put_wal",
    "renew_response",
    "rollback_wal",
]
