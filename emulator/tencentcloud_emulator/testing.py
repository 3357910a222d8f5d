"""In-process use from tests: ``running_emulator`` starts a server on 127.0.0.1 and a free port
and yields a ``RunningEmulator`` with the endpoint, the seeded root key pair and admin helpers
that call the emulator directly (no HTTP round trip). With ``proxy_port`` or ``https_port`` it
also serves ``*.tencentcloudapi.com`` over TLS, for clients left at their default endpoints."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .core import Emulator, Options
from .server import EmulatorServer


class RunningEmulator:
    """A started emulator: where to reach it, which keys open it, and how to steer it."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.emulator = server.emulator

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.endpoint

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``: the SDKs' ``HttpProfile(endpoint=..., scheme="http")``."""
        return self.server.host_port

    @property
    def proxy_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the CONNECT proxy: a client's ``HTTPS_PROXY``."""
        if self.server.proxy_url is None:
            raise RuntimeError("started without proxy_port")
        return self.server.proxy_url

    @property
    def https_port(self) -> int:
        """The port of the HTTPS listener (certificates chosen by SNI, routed by Host)."""
        if self.server.https_port is None:
            raise RuntimeError("started without https_port")
        return self.server.https_port

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) the TLS listeners' certificates chain to."""
        if self.server.ca_file is None:
            raise RuntimeError("started without ca_file")
        return self.server.ca_file

    def _root_key(self, account_index: int = 0) -> tuple[str, str]:
        with self.emulator.lock:
            account = list(self.emulator.world.accounts.values())[account_index]
            key = account.keys_of(account.owner_uin)[0]
            return key.key_id, key.secret

    @property
    def secret_id(self) -> str:
        """The first seeded account's root SecretId."""
        return self._root_key()[0]

    @property
    def secret_key(self) -> str:
        return self._root_key()[1]

    @property
    def owner_uin(self) -> int:
        with self.emulator.lock:
            return next(iter(self.emulator.world.accounts))

    def account_keys(self, account_index: int) -> tuple[str, str]:
        """Root key pair of another seeded account (the default seed has two)."""
        return self._root_key(account_index)

    @property
    def state(self) -> dict[str, Any]:
        return self.emulator.state()

    def reset(self) -> None:
        self.emulator.reset()

    def load_seed(self, seed: str | Path | Mapping[str, Any]) -> None:
        self.emulator.load_seed(seed)

    def set_faults(self, config: Mapping[str, Any]) -> None:
        self.emulator.set_faults(config)

    def set_quotas(self, **quotas: int) -> None:
        self.emulator.set_quotas(quotas)

    def advance_clock(self, seconds: float) -> None:
        self.emulator.advance_clock(seconds)

    def requests(self, action: str | None = None) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.emulator.requests.entries(action)]

    def counters(self) -> dict[str, dict[str, int]]:
        return self.emulator.requests.counters()


@contextlib.contextmanager
def running_emulator(
    seed: str | Path | Mapping[str, Any] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    https_port: int | None = None,
    proxy_port: int | None = None,
    ca_file: str | Path | None = None,
    **options: Any,
) -> Iterator[RunningEmulator]:
    """Start an emulator for the duration of the block; ``options`` are ``core.Options`` fields
    (faults, quotas, key_activation_delay, rng_seed, log_limit, require_sts_region,
    permissions: False turns CAM policy evaluation off, state_dir keeps the world across
    restarts).

    ``proxy_port=0`` adds a CONNECT proxy and ``https_port=0`` an HTTPS listener on free ports;
    their CA certificate is written to ``ca_file`` (required with either)."""
    if (https_port is not None or proxy_port is not None) and ca_file is None:
        raise ValueError("the TLS listeners need ca_file: clients must be able to trust them")
    emulator = Emulator(seed, Options(**options))
    server = EmulatorServer(
        emulator, host, port, https_port=https_port, proxy_port=proxy_port, ca_file=ca_file
    ).start()
    try:
        yield RunningEmulator(server)
    finally:
        server.stop()
        emulator.close()
