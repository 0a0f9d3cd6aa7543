"""Cancelling an async call or stream at any point releases its connection and its routing
slot: no connection stays checked out, no model stays counted in flight, no task keeps
running, and the same client then serves the next call normally.

The cancel points are spread by delays (0 up to past the answer), by the two ways anyio
cancels (a timeout scope, a task group cancelled from outside) and by what the call is
doing at the time: connecting, waiting for headers, reading a trickled body, sleeping
before a retry, falling over to the next model, priming a stream, reading a stream.
"""

from __future__ import annotations

import asyncio
import json

import anyio
import pytest
from fault_server import (
    GOOD_PIECES,
    JSON_TYPE,
    SSE_TYPE,
    Behaviour,
    Conn,
    FaultServer,
    Received,
    chunk,
    chunk_json,
    completion,
    data_event,
    good,
    head,
    response,
    stream_events,
)
from reliability_kit import MSGS, ask, busy_connections, close, in_flight, make_client

import xroute

pytestmark = pytest.mark.anyio

DELAYS = (0.0, 0.005, 0.02, 0.05, 0.1)


def delayed(behaviour: Behaviour, seconds: float) -> Behaviour:
    """`behaviour` after `seconds` of silence (the request has been read)."""

    async def later(conn: Conn, request: Received) -> None:
        await asyncio.sleep(seconds)
        await behaviour(conn, request)

    return later


async def trickled_answer(conn: Conn, request: Received) -> None:
    """A plain answer whose body arrives over about 0.1 s."""
    body = json.dumps(completion("slow but fine", request.model or "m")).encode()
    await conn.send(head(200, [JSON_TYPE], length=len(body)))
    await conn.trickle(body, every=0.1 / len(body), size=4)


async def failing_slowly(conn: Conn, request: Received) -> None:
    """A 503 after 20 ms."""
    await asyncio.sleep(0.02)
    await conn.send(response(503, b'{"error": {"message": "down"}}'))


def rate_limited_once() -> Behaviour:
    """A 429 asking for a 50 ms wait, then good answers."""
    done: list[bool] = []

    async def behaviour(conn: Conn, request: Received) -> None:
        if done:
            await good(conn, request)
            return
        done.append(True)
        await conn.send(response(429, b"{}", [JSON_TYPE, ("retry-after-ms", "50")]))

    return behaviour


async def paced_stream(conn: Conn, request: Received) -> None:
    """The good stream, first token after 30 ms, then a chunk every 15 ms."""
    model = request.model or "m"
    await conn.send(head(200, [SSE_TYPE], chunked=True))
    await conn.send(chunk(data_event(chunk_json(model, role="assistant", content=""))))
    await asyncio.sleep(0.03)
    for event in stream_events(model, GOOD_PIECES)[1:]:
        await conn.send(chunk(event))
        await asyncio.sleep(0.015)
    await conn.send(chunk(b""))


SCENARIOS = {
    "waiting-for-headers": (delayed(good, 0.05), "faulty", False, {}),
    "reading-a-trickled-body": (trickled_answer, "faulty", False, {}),
    "sleeping-before-a-retry": (None, "faulty", False, {"max_retries": 1}),
    "falling-over": (failing_slowly, ["faulty", "good"], False, {}),
    "priming-a-stream": (delayed(good, 0.05), "faulty", True, {}),
    "reading-a-stream": (paced_stream, "faulty", True, {}),
    "stream-falling-over": (failing_slowly, ["faulty", "good"], True, {}),
}


async def _check_released(client: object, where: str) -> None:
    assert busy_connections(client) == 0, where
    assert in_flight(client, "faulty", "good") == {"faulty": 0, "good": 0}, where


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_cancel_anywhere(faults: FaultServer, scenario: str) -> None:
    behaviour, model, stream, options = SCENARIOS[scenario]
    faults.on("faulty", behaviour or rate_limited_once())
    client = make_client(
        "async",
        faults.url,
        shared_tls=True,
        timeout=xroute.Timeout(connect=2, read=2, deadline=5),
        **options,
    )
    tasks_before = {t.id for t in anyio.get_running_tasks()}
    cancelled = 0
    try:
        for delay in DELAYS:
            if behaviour is None:
                faults.on("faulty", rate_limited_once())  # the 429 again, for every round
            # 1. A timeout scope around the call (and the reading of the stream).
            with anyio.move_on_after(delay) as scope:
                await ask(client, model=model, stream=stream)
            cancelled += scope.cancelled_caught
            await _check_released(client, f"move_on_after({delay})")

            # 2. A task group cancelled from outside while the call runs in it.
            async with anyio.create_task_group() as tg:
                tg.start_soon(_ask_quietly, client, model, stream)
                await anyio.sleep(delay)
                tg.cancel_scope.cancel()
            await _check_released(client, f"task group cancelled after {delay}")

        # The client is whole: the next call goes through as if nothing happened.
        if behaviour is None:
            faults.on("faulty", good)
        with anyio.fail_after(10):
            outcome = await ask(client, model=model, stream=stream)
        assert outcome.error is None, repr(outcome.error)
        await _check_released(client, "after a normal call")
        assert {t.id for t in anyio.get_running_tasks()} == tasks_before
    finally:
        await close(client)
    assert cancelled >= 2  # the early delays did cut calls short


async def _ask_quietly(client: object, model: object, stream: bool) -> None:
    await ask(client, model=model, stream=stream)


async def test_cancel_while_many_calls_share_the_pool(faults: FaultServer) -> None:
    # Fifty calls and streams in flight on one pool, cancelled together mid-way.
    faults.on("faulty", paced_stream)
    faults.on("slow", delayed(good, 0.05))
    client = make_client("async", faults.url, shared_tls=True)
    try:
        for delay in (0.005, 0.04, 0.08):
            with anyio.move_on_after(delay):
                async with anyio.create_task_group() as tg:
                    for number in range(50):
                        model = "faulty" if number % 2 else ["slow", "good"]
                        tg.start_soon(_ask_quietly, client, model, number % 3 == 0)
            assert busy_connections(client) == 0
            assert in_flight(client, "faulty", "slow", "good") == {
                "faulty": 0,
                "slow": 0,
                "good": 0,
            }
        outcome = await ask(client, model="faulty", stream=True)
        assert outcome.error is None
    finally:
        await close(client)


async def test_the_checks_see_a_stream_left_open(faults: FaultServer) -> None:
    # The checks above can fail: a stream that is neither finished nor closed holds both.
    faults.on("faulty", paced_stream)
    client = make_client("async", faults.url, shared_tls=True)
    try:
        stream = await client.chat.completions.create(model="faulty", messages=MSGS, stream=True)
        assert busy_connections(client) == 1
        assert in_flight(client, "faulty") == {"faulty": 1}
        await stream.aclose()
        await _check_released(client, "after aclose()")
    finally:
        await close(client)
