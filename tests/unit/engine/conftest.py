"""Fixtures for the engine's unit tests: a mount on in-memory storage, bare or configured
against the emulator (``emulator`` fixture). The helpers they and the tests use are in
``tests/unit/engine/support.py`` and ``tests/support/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tencentcloud_emulator.testing import RunningEmulator

# tests/integration/test_release.py still imports these two from here.
from tests.unit.engine.support import Mount, fast_retries


@pytest.fixture
def mount() -> Iterator[Mount]:
    m = Mount()
    yield m
    m.backend.cleanup()


@pytest.fixture
def engine(emulator: RunningEmulator) -> Iterator[Mount]:
    """A mount configured against the (freshly reset) shared emulator, with fast retries."""
    m = Mount(factory=fast_retries)
    m.configure(emulator, max_retries=2)
    yield m
    m.backend.cleanup()
