"""What the reliability tests share: the key, client builders, one way to ask, pool checks.

`ask` drives either client (`kind` is "sync", "asyncio" or "trio"; the two async kinds
are the same `AsyncXRoute` on different event loops) through one call, reading a stream
to its end, and returns an `Outcome` instead of raising, so a test states the expected
result as data. Only `XRouteError`s are caught: anything else is a bug and fails the test.
"""

from __future__ import annotations

import os
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

import xroute
from xroute._client_base import DEFAULT_LIMITS

KEY = "xr-reliability-0123456789abcdefSECRET"
MSGS = [{"role": "user", "content": "hi"}]
KINDS = ("sync", "asyncio", "trio")
FULL = os.environ.get("XROUTE_FULL") == "1"


@dataclass(frozen=True)
class Sizes:
    """How big the load and leak runs are (see the conftest docstring)."""

    requests: int
    concurrency: int
    thread_requests: int
    threads: int
    sequential: int
    streams: int
    clients: int


SIZES = (
    Sizes(
        requests=5000,
        concurrency=200,
        thread_requests=500,
        threads=20,
        sequential=10_000,
        streams=1000,
        clients=1000,
    )
    if FULL
    else Sizes(
        requests=500,
        concurrency=50,
        thread_requests=200,
        threads=20,
        sequential=1000,
        streams=100,
        clients=100,
    )
)

_shared_tls: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    # Loading the CA bundle is most of the 30 ms a new httpx client costs; the fault matrix
    # makes hundreds of clients for plain-http loopback and does not need a fresh one each.
    global _shared_tls
    if _shared_tls is None:
        _shared_tls = ssl.create_default_context()
    return _shared_tls


def make_client(kind: str, base_url: str, *, shared_tls: bool = False, **kwargs: Any) -> Any:
    """An `XRoute` ("sync") or `AsyncXRoute` (the two async kinds) with its own pool.

    `shared_tls`: build the pool (with the SDK's own limits) around one TLS context shared by
    every such client, instead of letting the client load the CA bundle again.
    """
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("max_retries", 0)
    if kind == "sync":
        if shared_tls:
            kwargs["http_client"] = httpx.Client(verify=_tls(), limits=DEFAULT_LIMITS)
        return xroute.XRoute(base_url=base_url, **kwargs)
    if shared_tls:
        kwargs["http_client"] = httpx.AsyncClient(verify=_tls(), limits=DEFAULT_LIMITS)
    return xroute.AsyncXRoute(base_url=base_url, **kwargs)


async def close(client: Any) -> None:
    """Close either client, and its pool when it was passed in (`shared_tls`)."""
    if isinstance(client, xroute.AsyncXRoute):
        await client.aclose()
        await client._http.aclose()
    else:
        client.close()
        client._http.close()


def busy_connections(client: Any) -> int:
    """Connections of the client's pool that are checked out (neither idle nor closed)."""
    pool = client._http._transport._pool
    return sum(1 for c in pool.connections if not c.is_idle() and not c.is_closed())


def in_flight(client: Any, *models: str) -> dict[str, int]:
    """The routing state's in-flight count per model (all 0 when nothing is stuck)."""
    state = client.route_state
    return {m: state.snapshot(m).in_flight for m in models}


@dataclass
class Outcome:
    """How one call ended: `text` and `route` on success, else `error` and the `phase` it
    was raised in ("create": before the call returned; "iterate": while reading the stream)."""

    text: str | None = None
    route: Any = None
    error: xroute.XRouteError | None = None
    phase: str = "create"
    stream: Any = None
    elapsed: float = 0.0


async def ask(client: Any, *, model: Any, stream: bool, **params: Any) -> Outcome:
    """One chat call with either client, streams read to the end inside their `with`."""
    params.setdefault("messages", MSGS)
    outcome = Outcome()
    started = time.monotonic()
    try:
        if isinstance(client, xroute.AsyncXRoute):
            result = await client.chat.completions.create(model=model, stream=stream, **params)
            if stream:
                outcome.stream, outcome.phase = result, "iterate"
                async with result:
                    outcome.text = "".join([t async for t in result.text_stream])
        else:
            result = client.chat.completions.create(model=model, stream=stream, **params)
            if stream:
                outcome.stream, outcome.phase = result, "iterate"
                with result:
                    outcome.text = "".join(result.text_stream)
        if not stream:
            outcome.text = result.choices[0].message.content
        outcome.route = result.route
        outcome.phase = "done"
    except xroute.XRouteError as err:
        outcome.error = err
    outcome.elapsed = time.monotonic() - started
    return outcome


def ask_now(client: xroute.XRoute, **params: Any) -> Outcome:
    """`ask` for the sync client, without an event loop (it never awaits anything)."""
    coroutine = ask(client, **params)
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: Outcome = done.value
        return result
    coroutine.close()
    raise RuntimeError("ask() awaited something with a sync client")
