"""Fixtures for the mock gateway's in-process tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gateway_support import client

from xroute.testing import MockGateway


@pytest.fixture
def gateway() -> MockGateway:
    return MockGateway(time_scale=0)


@pytest.fixture
def http(gateway: MockGateway) -> Iterator[httpx.Client]:
    with client(gateway) as http:
        yield http
