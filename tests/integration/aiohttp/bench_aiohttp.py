"""Requests/s of `AsyncXRoute` with 200 calls in flight: default httpx transport vs aiohttp.

The mock gateway runs in a separate process (``python -m xroute mock``, no delays), so the
client's event loop has the measuring process to itself. Also shown: the same load as plain
``httpx.AsyncClient.post`` calls on each transport, without xroute (``raw``). Run it directly::

    .venv/bin/python tests/integration/aiohttp/bench_aiohttp.py [--requests 4000] [--rounds 3]

`test_aiohttp_throughput.py` runs a scaled-down version and checks the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

import xroute
from xroute.transports import aiohttp_http_client

CONCURRENCY = 200
MSGS = [{"role": "user", "content": "hi"}]


@contextlib.contextmanager
def gateway_process() -> Iterator[str]:
    """The mock gateway in its own process; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "xroute", "mock", "--port", "0", "--time-scale", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/v1)", first)
        if found is None:
            raise RuntimeError(f"the mock gateway did not start: {first!r}")
        yield found.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


async def _rate(base_url: str, make_http: Callable[[], httpx.AsyncClient | None], n: int) -> float:
    http = make_http()
    client = xroute.AsyncXRoute(api_key="test-key", base_url=base_url, http_client=http)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with gate:
            await client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSGS)

    try:
        await asyncio.gather(*(one() for _ in range(CONCURRENCY)))  # warm: open the pool
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - started)
    finally:
        await client.aclose()
        if http is not None:
            await http.aclose()


async def _raw_rate(
    base_url: str, make_http: Callable[[], httpx.AsyncClient | None], n: int
) -> float:
    """The same load with plain `httpx.AsyncClient.post`: the transport without xroute."""
    http = make_http() or httpx.AsyncClient(limits=httpx.Limits(max_connections=1000))
    gate = asyncio.Semaphore(CONCURRENCY)
    body = {"model": "openai/gpt-4o-mini", "messages": MSGS}
    headers = {"Authorization": "Bearer test-key"}

    async def one() -> None:
        async with gate:
            response = await http.post(f"{base_url}/chat/completions", json=body, headers=headers)
            response.raise_for_status()

    try:
        await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - started)
    finally:
        await http.aclose()


TRANSPORTS: dict[str, Callable[[], Any]] = {
    "httpx": lambda: None,  # AsyncXRoute's own httpx.AsyncClient
    "aiohttp": aiohttp_http_client,
}


def measure(base_url: str, *, requests: int, rounds: int, raw: bool = False) -> dict[str, float]:
    """Best requests/s of each transport over `rounds` interleaved rounds (with `raw`,
    also plain httpx calls without xroute, as ``raw httpx`` / ``raw aiohttp``)."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, make in TRANSPORTS.items():
            rate = asyncio.run(_rate(base_url, make, requests))
            best[name] = max(best.get(name, 0.0), rate)
            if raw:
                rate = asyncio.run(_raw_rate(base_url, make, requests))
                best[f"raw {name}"] = max(best.get(f"raw {name}", 0.0), rate)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with gateway_process() as base_url:
        rates = measure(base_url, requests=args.requests, rounds=args.rounds, raw=True)
    for name, rate in rates.items():
        print(f"{name:12} {rate:7.0f} req/s  ({CONCURRENCY} in flight, best of {args.rounds})")
    print(f"AsyncXRoute, aiohttp / httpx: {rates['aiohttp'] / rates['httpx']:.1f}x")


if __name__ == "__main__":
    main()
