"""A small engine built on the framework alone, run as a real plugin inside a real Vault.

It lets the tests watch what Vault itself does with the framework's leases and write-ahead
log: every renew, revoke and rollback leaves a mark in storage that a read path reports; the
benchmark mounts it as a plugin with no engine behind it. It lives in tools/ because tools
never import tests.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets_shim import logical, serve

PROBE_VERSION = "v0.0.1"


def _mark(request: logical.Request, key: str, value: bytes = b"1") -> None:
    assert request.storage is not None
    request.storage.put(logical.StorageEntry(f"marks/{key}", value))


class ProbeBackend(fw.Backend):
    def __init__(self) -> None:
        self.lease_secret = fw.Secret(type="probe_lease", revoke=self.revoke, renew=self.renew)
        super().__init__(
            help_text="Framework probe.",
            paths=[
                fw.Path(
                    "lease/" + fw.generic_name_regex("name"),
                    fields={
                        "name": fw.Field(fw.FieldType.STRING, "Lease name."),
                        "ttl": fw.Field(fw.FieldType.DURATION_SECOND, "TTL.", default=3600),
                        "max_ttl": fw.Field(fw.FieldType.DURATION_SECOND, "Max TTL."),
                    },
                    operations={logical.UPDATE: fw.Operation(self.issue, summary="Issue.")},
                ),
                fw.Path(
                    "wal/" + fw.generic_name_regex("name"),
                    fields={"name": fw.Field(fw.FieldType.STRING, "Entry name.")},
                    operations={logical.UPDATE: fw.Operation(self.write_wal, summary="WAL.")},
                ),
                fw.Path(
                    "marks/(?P<key>.+)",
                    fields={"key": fw.Field(fw.FieldType.STRING, "Mark key.")},
                    # Inline, as the engine's own reads are: one storage get, fetched on the
                    # shim's loop when it is not cached (marks never are).
                    operations={
                        logical.READ: fw.Operation(self.read_mark, summary="Mark.", inline=True)
                    },
                ),
                fw.Path(
                    "fail",
                    operations={logical.READ: fw.Operation(self.fail, summary="Fail.")},
                ),
                fw.Path(
                    "wal-entries/?",
                    operations={logical.LIST: fw.Operation(self.list_wal, summary="WAL list.")},
                ),
            ],
            secrets=[self.lease_secret],
            wal_rollback={"probe": self.rollback},
            wal_rollback_min_age=1,  # 0 would mean the default, as in Vault
        )

    def issue(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        name = data.get_str("name")
        return self.lease_secret.response(
            {"name": name},
            {"name": name, "ttl": data.get_int("ttl"), "max_ttl": data.get_int("max_ttl")},
            ttl=data.get_int("ttl"),
            max_ttl=data.get_int("max_ttl"),
        )

    def renew(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.secret is not None
        internal = request.secret.internal_data
        _mark(request, f"renewed/{internal['name']}")
        ttl = request.secret.lease.increment or internal["ttl"]
        return fw.renew_response(request, ttl, internal["max_ttl"])

    def revoke(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.secret is not None
        _mark(request, f"revoked/{request.secret.internal_data['name']}")
        return None

    def write_wal(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.storage is not None
        wal_id = fw.put_wal(request.storage, "probe", {"name": data.get_str("name")})
        return logical.Response(data={"wal_id": wal_id})

    def rollback(self, request: logical.Request, data: Any) -> None:
        # Writing the same mark twice is harmless, so a replay is safe.
        _mark(request, f"rolled-back/{data['name']}")

    def read_mark(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.storage is not None
        entry = request.storage.get(f"marks/{data.get_str('key')}")
        return None if entry is None else logical.Response(data={"value": entry.value.decode()})

    def fail(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        raise RuntimeError("secret-probe-value in an unexpected failure")

    def list_wal(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.storage is not None
        return fw.list_response(fw.list_wal(request.storage))


def launcher_script(root: Path, log_level: int = logging.DEBUG) -> str:
    """An executable plugin file for Vault's plugin directory, running this module. The tests
    want a line per request (debug); the benchmark measures without it (info)."""
    return (
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "from tools.probe_backend import main\n"
        f"sys.exit(main({log_level}))\n"
    )


def main(log_level: int = logging.DEBUG) -> int:
    return serve(ProbeBackend, PROBE_VERSION, log_level=log_level)
