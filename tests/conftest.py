from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import FakeClock, FakeServer
from thinktank.models.guard import network_models


@pytest.fixture(autouse=True)
def _no_real_model_calls() -> Iterator[None]:
    """Tests never call a real provider: the process-wide switch is off for every test."""
    with network_models(False):
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()
