"""Load, leaks and memory: thousands of calls with scripted faults, then count what is left.

The mock gateway draws each request's fault itself (seeded, 10 % per faulty model), so the
test cannot know in advance which calls fail; it checks the client against the gateway's own
log instead. Every call carries its number in the prompt, so the log says exactly which
attempts each call made and how each was answered. A call must succeed exactly when one of
its attempts was answered well, its route (or its `AllModelsFailedError.attempts`) must list
exactly the attempts the gateway saw, and nothing may stay checked out, in flight or running.

Sizes come from the conftest (`XROUTE_FULL=1` for the full ones).
"""

from __future__ import annotations

import gc
import os
import re
import threading
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from reliability_kit import (
    FULL,
    Outcome,
    Sizes,
    ask,
    ask_now,
    busy_connections,
    close,
    in_flight,
    make_client,
)

import xroute
from xroute.testing import MockGateway, ReceivedRequest
from xroute.types.chat import ChatCompletion

pytestmark = pytest.mark.anyio

# Model -> the fault it gets on 10 % of its requests. Two models are never faulty.
FAULTY = {
    "openai/gpt-4o": "rate_limit",
    "anthropic/claude-3.5-sonnet": "server_error",
    "google/gemini-2.0-flash-001": "unavailable",
    "mistralai/mistral-large": "reset",
    "deepseek/deepseek-chat": "truncate",
    "meta-llama/llama-3-70b": "error_event",
    "qwen/qwen3-235b-a22b": "hang",
}
CHAINS: list[list[str]] = [
    ["openai/gpt-4o", "anthropic/claude-3.5-sonnet"],
    ["google/gemini-2.0-flash-001", "mistralai/mistral-large", "openai/gpt-4o-mini"],
    ["deepseek/deepseek-chat", "meta-llama/llama-3-70b"],
    ["qwen/qwen3-235b-a22b", "openai/gpt-4o"],
    ["mistralai/mistral-large", "deepseek/deepseek-chat", "meta-llama/llama-3-70b"],
    ["anthropic/claude-3-haiku"],
]
MODELS = sorted({m for chain in CHAINS for m in chain})
# Faults that strike a stream after its first tokens: no fallback is possible any more.
MID_STREAM = {"reset", "hang", "error_event", "truncate"}
# Generous: under load a healthy answer must never look like a hang (at concurrency 200 on
# two cores a healthy answer can take a second); a scripted hang costs this much.
READ = 5.0 if FULL else 1.5
DEADLINE = 30.0
WATCHDOG = DEADLINE + 10.0
TAG = re.compile(r"\bcall (\d+)\b")


@pytest.fixture(scope="module")
def gateway() -> Iterator[MockGateway]:
    gw = MockGateway(seed=2024, time_scale=0.01, max_logged_requests=10**6)
    with gw.serve():
        yield gw


def _script(gw: MockGateway) -> None:
    gw.reset()
    gw.time_scale = 0.01
    for model, failure in FAULTY.items():
        gw.script(model, failure=failure, failure_rate=0.1, retry_after=1.0, hang_seconds=30.0)


def _client(kind: str, gw: MockGateway) -> Any:
    return make_client(
        kind,
        gw.base_url,
        api_key=gw.api_key,
        max_retries=1,
        timeout=xroute.Timeout(connect=10, read=READ, pool=DEADLINE, deadline=DEADLINE),
        stream_idle_timeout=READ,
    )


def _call_args(number: int) -> dict[str, Any]:
    return {
        "model": CHAINS[number % len(CHAINS)],
        "stream": number % 4 == 3,
        "messages": [{"role": "user", "content": f"call {number}: tell me a story"}],
    }


@dataclass
class Tally:
    """What the load run saw, for the assertions and the report."""

    calls: int = 0
    ok: int = 0
    failed: int = 0
    attempts: int = 0
    faults: int = 0
    unseen: int = 0
    hangs: int = 0
    untyped: int = 0


def _match(attempts: Any, seen: list[ReceivedRequest], tally: Tally) -> bool:
    """Whether the attempts a call recorded are the requests the gateway saw, in order.

    An attempt that failed with a connection error may be missing from the gateway's log:
    the request never got there (a pooled keep-alive connection the server had just
    closed). Skipped attempts were never sent.
    """
    index = 0
    for attempt in attempts:
        if attempt.outcome == "skipped":
            continue
        if index < len(seen) and attempt.model == seen[index].model:
            index += 1
        elif attempt.error_type == "APIConnectionError":
            tally.unseen += 1
        else:
            return False
    return index == len(seen)


def _good(request: ReceivedRequest) -> bool:
    return request.status == 200 and request.failure is None


def verify(outcomes: dict[int, Outcome], log: list[ReceivedRequest]) -> Tally:
    """Check every call against the gateway's log of its attempts; return the tally."""
    by_call: dict[int, list[ReceivedRequest]] = defaultdict(list)
    for request in log:
        if request.json and request.model:
            found = TAG.search(request.json["messages"][0]["content"])
            assert found is not None
            by_call[int(found.group(1))].append(request)
    tally = Tally(calls=len(outcomes))
    for number, outcome in outcomes.items():
        seen = by_call[number]
        tally.attempts += len(seen)
        tally.faults += sum(1 for r in seen if r.failure is not None)
        assert all(not _good(r) for r in seen[:-1]), f"call {number} went on after a success"
        served_well = bool(seen) and _good(seen[-1])
        error = outcome.error
        if error is None:
            tally.ok += 1
            assert served_well, f"call {number} succeeded but the gateway saw {seen}"
            assert _match(outcome.route.attempts, seen, tally), (outcome.route.attempts, seen)
            assert outcome.route.model == seen[-1].model
            continue
        tally.failed += 1
        assert not served_well, f"call {number} failed ({error!r}) though the gateway served it"
        if outcome.phase == "iterate":
            # Broke after its first token: the route is the stream's, the fault a mid-stream one.
            assert isinstance(error, xroute.StreamError)
            assert seen[-1].failure in MID_STREAM
            assert _match(outcome.stream.route.attempts, seen, tally)
        elif isinstance(error, xroute.AllModelsFailedError):
            # Every attempt the gateway saw is in the error, in order, each with its reason.
            assert _match(error.attempts, seen, tally), (error.attempts, seen)
            assert all(a.outcome in ("error", "skipped") for a in error.attempts)
            assert all(a.error_type for a in error.attempts if a.outcome == "error")
        else:
            # Only one model was tried (the others skipped by an open breaker): its own error.
            assert isinstance(error, xroute.APIError), repr(error)
            assert len({r.model for r in seen}) <= 1
    return tally


async def test_async_load_with_faults(gateway: MockGateway, sizes: Sizes) -> None:
    _script(gateway)
    client = _client("async", gateway)
    outcomes: dict[int, Outcome] = {}
    hangs: list[int] = []
    untyped: list[BaseException] = []
    limiter = anyio.Semaphore(sizes.concurrency)
    tasks_before = {t.id for t in anyio.get_running_tasks()}

    async def one(number: int) -> None:
        async with limiter:
            try:
                with anyio.fail_after(WATCHDOG):
                    outcomes[number] = await ask(client, **_call_args(number))
            except TimeoutError:
                hangs.append(number)
            except Exception as err:  # anything not an XRouteError is a bug
                untyped.append(err)

    try:
        async with anyio.create_task_group() as tg:
            for number in range(sizes.requests):
                tg.start_soon(one, number)
        assert hangs == []
        assert untyped == []
        assert busy_connections(client) == 0
        assert set(in_flight(client, *MODELS).values()) == {0}
        assert {t.id for t in anyio.get_running_tasks()} == tasks_before
        tally = verify(outcomes, gateway.requests)
    finally:
        await close(client)
    assert tally.calls == sizes.requests
    assert tally.faults > 0
    assert tally.ok > tally.failed
    print(f"\nasync load: {tally}")


def test_sync_load_from_threads(gateway: MockGateway, sizes: Sizes) -> None:
    _script(gateway)
    client = _client("sync", gateway)
    outcomes: dict[int, Outcome] = {}
    lock = threading.Lock()

    def one(number: int) -> None:
        outcome = ask_now(client, **_call_args(number))
        with lock:
            outcomes[number] = outcome

    try:
        with ThreadPoolExecutor(max_workers=sizes.threads) as pool:
            for future in [pool.submit(one, n) for n in range(sizes.thread_requests)]:
                future.result(timeout=WATCHDOG)  # raises an untyped error as it is
        assert busy_connections(client) == 0
        assert set(in_flight(client, *MODELS).values()) == {0}
        tally = verify(outcomes, gateway.requests)
    finally:
        client.close()
    assert tally.calls == sizes.thread_requests
    assert tally.faults > 0
    print(f"\nsync load from {sizes.threads} threads: {tally}")


# --------------------------------------------------------------------------- memory


def _fill_string_cache() -> None:
    # pydantic-core keeps short strings it parses from JSON (up to 64 characters) in a
    # bounded global cache of about 16k entries, replacing old ones as new ones come. Filled
    # while tracing, with strings as long as it keeps, every later replacement frees at least
    # what it takes; filled before tracing (or not at all), replacements look like growth.
    for number in range(20_000):
        ChatCompletion.model_validate_json(f'{{"id": "fill-{number:058d}", "choices": []}}')


def _traced_growth(run: Any, count: int, warm_up: int) -> int:
    """Bytes of traced memory still held after `count` runs, measured after `warm_up`.

    Tracing starts before the warm-up, so that what the warm-up caches (and later
    replaces) is traced both ways."""
    gc.collect()
    tracemalloc.start()
    try:
        _fill_string_cache()
        for number in range(warm_up):
            run(-1 - number)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for number in range(count):
            run(number)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before


MEMORY_BOUND = 64 * 1024  # bytes, whatever the number of calls: nothing per call is kept


@pytest.fixture(scope="module")
def quiet_gateway() -> Iterator[MockGateway]:
    # No request log: it is the gateway's memory, not the client's, that would grow.
    gw = MockGateway(seed=5, time_scale=0, max_logged_requests=1)
    with gw.serve():
        yield gw


def test_sequential_calls_keep_memory_flat(quiet_gateway: MockGateway, sizes: Sizes) -> None:
    client = make_client("sync", quiet_gateway.base_url, api_key=quiet_gateway.api_key)

    def run(number: int) -> None:
        reply = client.chat.completions.create(
            model=["openai/gpt-4o-mini", "openai/gpt-4o"],
            messages=[{"role": "user", "content": f"call {number}"}],
        )
        assert reply.choices[0].message.content

    try:
        growth = _traced_growth(run, sizes.sequential, warm_up=100)
        assert busy_connections(client) == 0
    finally:
        client.close()
    print(f"\n{sizes.sequential} sequential calls: traced memory grew {growth} bytes")
    assert growth < MEMORY_BOUND


def test_streams_keep_memory_flat(quiet_gateway: MockGateway, sizes: Sizes) -> None:
    client = make_client("sync", quiet_gateway.base_url, api_key=quiet_gateway.api_key)

    def run(number: int) -> None:
        with client.chat.completions.create(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": f"stream {number}"}],
            stream=True,
            stream_options={"include_usage": True},
        ) as stream:
            assert "".join(stream.text_stream)

    try:
        growth = _traced_growth(run, sizes.streams, warm_up=30)
        assert busy_connections(client) == 0
    finally:
        client.close()
    print(f"\n{sizes.streams} streams: traced memory grew {growth} bytes")
    assert growth < MEMORY_BOUND


# --------------------------------------------------------------------------- file descriptors


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _settled_fds(limit: int) -> int:
    # The server closes its end of each connection on its own schedule: give it a moment.
    for _ in range(100):
        gc.collect()
        count = _open_fds()
        if count <= limit:
            return count
        await anyio.sleep(0.02)
    return _open_fds()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
async def test_clients_do_not_leak_file_descriptors(
    quiet_gateway: MockGateway, sizes: Sizes, anyio_backend: str
) -> None:
    # Half the clients are sync (created in the asyncio run), the rest async on this loop.
    kinds = (["sync"] if anyio_backend == "asyncio" else []) + ["async"]
    count = sizes.clients // 2 if anyio_backend == "asyncio" else sizes.clients // 4
    url, key = quiet_gateway.base_url, quiet_gateway.api_key

    async def one(kind: str) -> None:
        client = make_client(kind, url, api_key=key)
        try:
            outcome = await ask(client, model="openai/gpt-4o-mini", stream=False)
            assert outcome.error is None
        finally:
            await close(client)

    for kind in kinds:
        await one(kind)  # warm up: imports, certificate store, the server's first accept
        await anyio.sleep(0.1)
        gc.collect()
        before = _open_fds()
        for _ in range(count):
            await one(kind)
        after = await _settled_fds(before)
        print(f"\n{count} {kind} clients on {anyio_backend}: fds {before} -> {after}")
        assert after <= before
