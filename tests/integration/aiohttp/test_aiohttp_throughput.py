"""The aiohttp transport's reason to exist, as a ratio: at least 2x httpx's requests/s with
200 calls in flight (scaled down; ``XROUTE_FULL=1`` for the full run)."""

from __future__ import annotations

import os

import pytest
from bench_aiohttp import gateway_process, measure


@pytest.mark.slow
def test_aiohttp_doubles_the_throughput_of_httpx() -> None:
    full = os.environ.get("XROUTE_FULL") == "1"
    with gateway_process() as base_url:
        rates = measure(base_url, requests=4000 if full else 300, rounds=3 if full else 1)
    assert rates["aiohttp"] >= 2 * rates["httpx"], rates
