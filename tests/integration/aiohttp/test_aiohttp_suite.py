"""The loopback client suite (tests/integration/test_loopback_clients.py), run again with
`AsyncXRoute` over the aiohttp transport. asyncio only: aiohttp does not run on trio.

Every ``test_*`` of that module is collected here too, with its ``kind`` fixed to "async",
its client factory swapped for one over `aiohttp_http_client()`, and its pool probe
(`busy_connections`) reading aiohttp's connector instead of httpcore's pool.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import xroute
from xroute.testing import MockGateway
from xroute.transports import AiohttpTransport, aiohttp_http_client

pytestmark = pytest.mark.anyio

_PATH = Path(__file__).resolve().parents[1] / "test_loopback_clients.py"
_spec = importlib.util.spec_from_file_location("_loopback_suite_over_aiohttp", _PATH)
assert _spec is not None and _spec.loader is not None
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)

SUITE_TESTS = sorted(name for name in vars(suite) if name.startswith("test_"))
globals().update({name: getattr(suite, name) for name in SUITE_TESTS})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def kind() -> str:
    return "async"


@pytest.fixture(scope="module")
def gateway() -> Iterator[MockGateway]:
    gw = MockGateway(seed=11, time_scale=0.05)
    with gw.serve():
        yield gw


@pytest.fixture(autouse=True)
def over_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    transports: dict[int, tuple[Any, AiohttpTransport]] = {}

    def client(gateway: MockGateway, kind: str, **kwargs: Any) -> Any:
        assert kind == "async"
        http = aiohttp_http_client()
        kwargs.setdefault("api_key", gateway.api_key)
        kwargs.setdefault("base_url", gateway.base_url)
        made = xroute.AsyncXRoute(http_client=http, **kwargs)
        transport = http._transport
        assert isinstance(transport, AiohttpTransport)
        transports[id(made)] = (http, transport)
        return made

    async def close(kind: str, client: Any) -> None:
        await client.aclose()
        http, _ = transports[id(client)]
        await http.aclose()

    def busy_connections(client: Any) -> int:
        return transports[id(client)][1].in_use()

    monkeypatch.setattr(suite, "_client", client)
    monkeypatch.setattr(suite, "_close", close)
    monkeypatch.setattr(suite, "busy_connections", busy_connections)


def test_the_whole_suite_is_collected() -> None:
    assert len(SUITE_TESTS) >= 5
