"""Fixtures for the client's unit tests: the local fake cloud and clients aimed at it."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tencentcloud_secrets.tencentcloud import (
    Credentials,
    Endpoint,
    EndpointResolver,
    RetryPolicy,
    TencentCloudClient,
)
from tests.unit.tencentcloud.tc_fake_server import (
    SECRET_ID,
    SECRET_KEY,
    ClientFactory,
    FakeCloud,
    running,
)


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    with running() as c:
        yield c


@pytest.fixture
def make_client(cloud: FakeCloud) -> Iterator[ClientFactory]:
    clients: list[TencentCloudClient] = []

    def factory(**kw: Any) -> TencentCloudClient:
        endpoint = Endpoint("http", "127.0.0.1", cloud.port)
        ticks = itertools.count(1_700_000_000)
        kw.setdefault("credentials", Credentials(SECRET_ID, SECRET_KEY))
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
