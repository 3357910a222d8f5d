"""One plugin process serves every mount; a mount whose cloud calls hang must not stall the
others (each mount has its own worker threads)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tests.support.mount_config import write_config
from tests.support.seed import DEMO_ROLE_ARN
from tools.vaultserver import PLUGIN_NAME, VaultServer


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def test_a_hanging_mount_does_not_stall_another(
    vault: VaultServer, emulator: RunningEmulator, blackhole: str
) -> None:
    for path in ("tc-hung", "tc-live"):
        vault.cli("secrets", "enable", f"-path={path}", PLUGIN_NAME)
    try:
        endpoints = {"tc-hung": blackhole, "tc-live": emulator.endpoint}
        for path, endpoint in endpoints.items():
            write_config(
                vault, path, emulator, "max_retries=0", "request_timeout=20s", endpoint=endpoint
            )
            vault.cli("write", f"{path}/role/ar", f"role_arn={DEMO_ROLE_ARN}")
        finished: list[str] = []

        def hung(_: int) -> None:
            with contextlib.suppress(Exception):
                vault.client().read("tc-hung/creds/ar")
            finished.append("hung")

        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            futures = [pool.submit(hung, n) for n in range(40)]  # more than a mount's workers
            time.sleep(2.0)  # let them reach the plugin and fill the hung mount's workers
            live = vault.client().read("tc-live/creds/ar")
            finished.append("live")
            assert live["data"]["secret_id"]
            # The live mount answered while every hung request was still waiting.
            assert finished == ["live"]
            concurrent.futures.wait(futures)
        assert finished.count("hung") == 40
    finally:
        for path in ("tc-hung", "tc-live"):
            vault.cli("secrets", "disable", path, check=False)
