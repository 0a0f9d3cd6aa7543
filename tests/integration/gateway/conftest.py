"""A mock gateway served on loopback, shared by a module and reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xroute.testing import MockGateway


@pytest.fixture(scope="module")
def served() -> Iterator[MockGateway]:
    gateway = MockGateway(time_scale=0)
    with gateway.serve():
        yield gateway


@pytest.fixture
def gateway(served: MockGateway) -> MockGateway:
    served.reset()
    return served
