"""The catalog through both clients: one fetch for concurrent first callers, TTL, refresh,
stale-if-error, overrides and a pinned offline catalog."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import xroute
from harness import Harness

pytestmark = pytest.mark.anyio

MODELS = {
    "data": [
        {
            "id": "openai/gpt-4o",
            "context_length": 128000,
            "pricing": {"prompt": "0.0000025", "completion": "0.00001"},
        },
        {"id": "meta-llama/llama-3-70b", "context_length": 8192},
    ]
}


class Gateway:
    """A /models endpoint that counts fetches, answers slowly, and can be made to fail."""

    def __init__(self, delay: float = 0.0) -> None:
        self.fetches = 0
        self.delay = delay
        self.failing = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/models")
        self.fetches += 1
        if self.delay:
            time.sleep(self.delay)  # blocks the transport, as a slow network would
        if self.failing:
            return httpx.Response(503, json={"error": {"message": "catalog down"}})
        return httpx.Response(200, json=MODELS)


async def test_list_is_cached_and_refreshable(harness: Harness) -> None:
    gateway = Gateway()
    client = harness.client(gateway)
    first = await harness.call(client.models.list)
    again = await harness.call(client.models.list)
    assert first is again
    assert gateway.fetches == 1
    assert isinstance(first, xroute.ModelCatalog)
    assert first["openai/gpt-4o"].pricing.prompt_usd_per_mtok == pytest.approx(2.5)
    fresh = await harness.call(client.models.list, refresh=True)
    assert gateway.fetches == 2
    assert fresh is not first


async def test_retrieve_uses_the_catalog_and_suggests(harness: Harness) -> None:
    gateway = Gateway()
    client = harness.client(gateway)
    model = await harness.call(client.models.retrieve, "openai/gpt-4o")
    assert model.context_length == 128000
    with pytest.raises(xroute.UnknownModelError, match="did you mean 'openai/gpt-4o'"):
        await harness.call(client.models.retrieve, "openai/gpt4o")
    assert gateway.fetches == 1


async def test_zero_ttl_fetches_every_time(harness: Harness) -> None:
    gateway = Gateway()
    client = harness.client(gateway, catalog_ttl=0)
    await harness.call(client.models.list)
    await harness.call(client.models.list)
    assert gateway.fetches == 2


async def test_refresh_failure_serves_the_stale_copy_with_a_warning(harness: Harness) -> None:
    gateway = Gateway()
    client = harness.client(gateway, catalog_ttl=0, max_retries=0)
    first = await harness.call(client.models.list)
    gateway.failing = True
    with pytest.warns(xroute.CatalogWarning, match="could not refresh"):
        stale = await harness.call(client.models.list)
    assert stale is first


async def test_first_fetch_failure_is_raised(harness: Harness) -> None:
    gateway = Gateway()
    gateway.failing = True
    client = harness.client(gateway, max_retries=0)
    with pytest.raises(xroute.InternalServerError, match="catalog down"):
        await harness.call(client.models.list)


async def test_overrides_merge_over_the_server_and_add_models(
    harness: Harness, tmp_path: Path
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "meta-llama/llama-3-70b": {"pricing": {"input_per_1m": 0.3, "output_per_1m": 0.4}},
                "local/my-model": {"context_length": 4096},
            }
        )
    )
    client = harness.client(Gateway(), catalog_overrides=path)
    path.write_text("not json any more")  # read once, at construction
    catalog = await harness.call(client.models.list)
    assert catalog["meta-llama/llama-3-70b"].pricing.completion_usd_per_mtok == pytest.approx(0.4)
    assert catalog["local/my-model"].context_length == 4096
    assert catalog["openai/gpt-4o"].context_length == 128000


def test_bad_overrides_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(xroute.CatalogError, match="cannot read model overrides"):
        xroute.XRoute(api_key="k", catalog_overrides=tmp_path / "absent.json")


async def test_a_pinned_catalog_is_never_fetched(harness: Harness) -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request {request.url}")

    offline = xroute.ModelCatalog.from_response(MODELS)
    client = harness.client(no_network, catalog=offline)
    assert (await harness.call(client.models.list)) is offline


def test_sync_concurrent_first_callers_share_one_fetch() -> None:
    gateway = Gateway(delay=0.2)
    client = xroute.XRoute(
        api_key="k",
        base_url="https://gw.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(gateway)),
    )
    results: list[Any] = []

    def ask() -> None:
        results.append(client.models.list())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    assert gateway.fetches == 1
    assert len(results) == 8
    assert all(r is results[0] for r in results)


async def test_async_concurrent_first_callers_share_one_fetch() -> None:
    fetches = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal fetches
        fetches += 1
        await anyio.sleep(0.2)
        return httpx.Response(200, json=MODELS)

    async with xroute.AsyncXRoute(
        api_key="k",
        base_url="https://gw.test/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(slow)),
    ) as client:
        results: list[Any] = []

        async def ask() -> None:
            results.append(await client.models.list())

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(ask)
    assert fetches == 1
    assert len(results) == 8
    assert all(r is results[0] for r in results)
