"""Shared test configuration: markers by folder, anyio on asyncio and trio."""

from __future__ import annotations

from pathlib import Path

import pytest

_UNIT_DIRS = {"core", "client", "catalog", "routing", "testing_unit"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif _UNIT_DIRS.intersection(parts):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
