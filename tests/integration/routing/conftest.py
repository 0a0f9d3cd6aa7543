"""Routing over real loopback HTTP: one mock gateway server for the folder, reset per test.

`flavour` runs each test three ways: `XRoute` (sync), and `AsyncXRoute` on asyncio and on trio
(it picks the anyio backend, so a sync test is not run twice); `drive` makes `Driver`s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from routing_driver import Driver

from xroute.testing import MockGateway


@pytest.fixture(scope="package")
def served() -> Iterator[MockGateway]:
    gateway = MockGateway(seed=6, time_scale=0)
    with gateway.serve():
        yield gateway


@pytest.fixture
def gateway(served: MockGateway) -> MockGateway:
    served.reset()
    return served


@pytest.fixture(params=["sync", "asyncio", "trio"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def anyio_backend(flavour: str) -> str:
    return "asyncio" if flavour == "sync" else flavour


@pytest.fixture
async def drive(flavour: str, gateway: MockGateway) -> AsyncIterator[Callable[..., Driver]]:
    """Make `Driver`s (of this test's flavour) whose clients are closed after the test."""
    made: list[Driver] = []

    def make(**options: Any) -> Driver:
        driver = Driver(flavour, gateway, **options)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        await driver.close()
