"""The engine's backend: wires the paths together and owns per-mount state.

One instance per mount. The Tencent Cloud client is built lazily from the stored
configuration and dropped whenever the configuration changes (here or, on a replicated
cluster, through ``invalidate``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets.clients import client_from_config
from tencentcloud_secrets.paths.config import CONFIG_KEY, ConfigPaths, MountConfig, read_config
from tencentcloud_secrets.paths.roles import RolePaths
from tencentcloud_secrets_shim import logical

if TYPE_CHECKING:
    from tencentcloud_secrets.tencentcloud.client import TencentCloudClient

BACKEND_HELP = """\
The Tencent Cloud secrets engine manages short-lived Tencent Cloud credentials: API keys of
CAM sub-users created for a lease and deleted when it ends, and STS temporary credentials
(AssumeRole, GetFederationToken).

Configure how the engine reaches Tencent Cloud with the "config" path, and describe what
clients may get with "roles/<name>".
"""


class TencentCloudBackend(fw.Backend):
    def __init__(self) -> None:
        self.locks = fw.KeyLocks()
        self._client: TencentCloudClient | None = None
        self._client_lock = threading.Lock()
        super().__init__(
            help_text=BACKEND_HELP,
            paths=fw.path_append(ConfigPaths(self).paths(), RolePaths(self).paths()),
            special_paths=logical.SpecialPaths(
                local_storage=(fw.WAL_PREFIX,), seal_wrap_storage=(CONFIG_KEY,)
            ),
            invalidate_func=self._invalidate,
            clean_func=self.reset_client,
        )

    def client(self, storage: logical.Storage) -> TencentCloudClient:
        """The mount's client, built from the stored configuration on first use."""
        with self._client_lock:
            if self._client is None:
                self._client = client_from_config(read_config(storage) or MountConfig())
            return self._client

    def reset_client(self) -> None:
        """Forget the cached client; the next call builds one from the stored config."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _invalidate(self, key: str) -> None:
        if key == CONFIG_KEY:
            self.reset_client()


def new_backend() -> logical.Backend:
    """The factory the shim calls once per mount."""
    return TencentCloudBackend()
