"""pytest fixtures for the xroute mock gateway (loaded through the ``pytest11`` entry point).

- ``xroute_gateway``: a ``MockGateway`` served over loopback HTTP (``base_url`` and ``api_key``
  set), reset before each test; one server is shared by the whole session because starting and
  stopping uvicorn costs about 0.2 s.
- ``xroute_gateway_inprocess``: a fresh ``MockGateway(time_scale=0)`` for ``transport()``.

    def test_lists_models(xroute_gateway):
        response = httpx.get(f"{xroute_gateway.base_url}/models",
                             headers={"Authorization": f"Bearer {xroute_gateway.api_key}"})
        assert response.status_code == 200

This module is imported in every pytest run where xroute is installed, so it imports
``xroute.testing`` only when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from xroute.testing import MockGateway


@pytest.fixture(scope="session")
def _xroute_served_gateway() -> Iterator[MockGateway]:
    from xroute.testing import MockGateway

    gateway = MockGateway()
    with gateway.serve():
        yield gateway


@pytest.fixture
def xroute_gateway(_xroute_served_gateway: MockGateway) -> MockGateway:
    """A ``MockGateway`` served on a loopback port, freshly reset (session-wide server)."""
    _xroute_served_gateway.reset()
    return _xroute_served_gateway


@pytest.fixture
def xroute_gateway_inprocess() -> MockGateway:
    """A new ``MockGateway(time_scale=0)``: use ``transport()`` / ``async_transport()``."""
    from xroute.testing import MockGateway

    return MockGateway(time_scale=0)
