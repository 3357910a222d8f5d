"""Fixtures for the client's unit tests: clients aimed at the emulator (``emulator`` fixture)."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import (
    Credentials,
    Endpoint,
    EndpointResolver,
    RetryPolicy,
    TencentCloudClient,
)
from tests.unit.tencentcloud.support import ClientFactory


@pytest.fixture
def make_client(emulator: RunningEmulator) -> Iterator[ClientFactory]:
    """Clients with the demo root key, fast retries that never sleep, and a clock that moves
    one second per signature (so every attempt has its own timestamp, well inside the
    emulator's five-minute skew)."""
    clients: list[TencentCloudClient] = []

    def factory(**kw: Any) -> TencentCloudClient:
        endpoint = Endpoint.parse(emulator.endpoint)
        ticks = itertools.count(int(time.time()))
        kw.setdefault("credentials", Credentials(emulator.secret_id, emulator.secret_key))
        kw.setdefault("region", "ap-guangzhou")
        kw.setdefault("endpoints", EndpointResolver(overrides={"cam": endpoint, "sts": endpoint}))
        kw.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02))
        kw.setdefault("sleep", lambda _s: None)
        kw.setdefault("now", lambda: float(next(ticks)))
        kw.setdefault("rng", random.Random(7))
        client = TencentCloudClient(**kw)
        clients.append(client)
        return client

    yield factory
    for c in clients:
        c.close()
