"""The client suite runs every test against both clients (see tests/harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from harness import Harness


@pytest.fixture(params=["sync", "async"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    h = Harness(str(request.param))
    yield h
    for client in h.clients:
        await h.close(client)
