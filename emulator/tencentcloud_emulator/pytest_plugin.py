"""pytest fixtures for the emulator.

Enable with ``pytest_plugins = ["tencentcloud_emulator.pytest_plugin"]`` in a conftest.py.

- ``emulator``: function scoped; the shared server reset to the default seed (fresh state, empty
  log and counters, no faults) before each test.
- ``emulator_session``: the session-wide server itself, not reset.
- ``emulator_factory``: start dedicated servers with their own seed and options, stopped at the
  end of the test: ``emulator_factory(seed=..., faults=..., quotas=...)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .testing import RunningEmulator, running_emulator


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[RunningEmulator]:
    with running_emulator() as running:
        yield running


@pytest.fixture
def emulator(emulator_session: RunningEmulator) -> RunningEmulator:
    emulator_session.emulator.restore()
    return emulator_session


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., RunningEmulator]]:
    with contextlib.ExitStack() as stack:

        def start(seed: Any = None, **options: Any) -> RunningEmulator:
            return stack.enter_context(running_emulator(seed, **options))

        yield start
