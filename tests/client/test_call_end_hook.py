"""`on_call_end`: every routed call reports once when it is over, served or failed; streams
when they end. Both clients (async hooks awaited), over the in-process mock gateway."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import xroute
from xroute.testing import MockGateway

pytestmark = pytest.mark.anyio
MSGS = [{"role": "user", "content": "hello"}]
A, B = "openai/gpt-4o", "anthropic/claude-3-haiku"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Ends:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.seen: list[xroute.CallEnd] = []

    def hook(self) -> Any:
        if self.kind == "sync":
            return self.seen.append

        async def record(end: xroute.CallEnd) -> None:
            self.seen.append(end)

        return record


async def _client(kind: str, gateway: MockGateway, **options: Any) -> Any:
    if kind == "sync":
        http: Any = httpx.Client(transport=gateway.transport())
        return xroute.XRoute(
            api_key=gateway.api_key, base_url=gateway.base_url, http_client=http, **options
        )
    ahttp = httpx.AsyncClient(transport=gateway.async_transport())
    return xroute.AsyncXRoute(
        api_key=gateway.api_key, base_url=gateway.base_url, http_client=ahttp, **options
    )


async def _call(kind: str, result: Any) -> Any:
    return result if kind == "sync" else await result


async def test_a_served_call_reports_its_route_and_cost(kind: str) -> None:
    gateway = MockGateway(time_scale=0)
    gateway.script(A, failure="unavailable")
    ends = Ends(kind)
    client = await _client(kind, gateway, on_call_end=ends.hook())
    reply = await _call(kind, client.chat.completions.create(model=[A, B], messages=MSGS))
    [end] = ends.seen
    assert end.operation == "chat"
    assert end.candidates == (A, B)
    assert end.policy == "Fallback"
    assert end.result is reply
    assert end.error is None
    assert [a.model for a in end.attempts] == [A, B]
    assert end.cost_usd == reply.route.cost_usd
    assert end.usage is reply.usage
    assert end.body is not None
    assert end.body["messages"] == MSGS


async def test_a_failed_call_reports_its_error(kind: str) -> None:
    gateway = MockGateway(time_scale=0)
    gateway.script(A, failure="unavailable")
    gateway.script(B, failure="unavailable")
    ends = Ends(kind)
    client = await _client(kind, gateway, on_call_end=ends.hook(), max_retries=0)
    with pytest.raises(xroute.AllModelsFailedError) as info:
        await _call(kind, client.chat.completions.create(model=[A, B], messages=MSGS))
    [end] = ends.seen
    assert end.error is info.value
    assert end.result is None
    assert len(end.attempts) == 2


async def test_a_refused_budget_reports_before_any_attempt(kind: str) -> None:
    gateway = MockGateway(time_scale=0)
    ends = Ends(kind)
    client = await _client(kind, gateway, on_call_end=ends.hook(), budget=1e-9)
    with pytest.raises(xroute.BudgetExceededError):
        await _call(kind, client.chat.completions.create(model=A, messages=MSGS, max_tokens=500))
    [end] = ends.seen
    assert isinstance(end.error, xroute.BudgetExceededError)
    assert end.attempts == ()


async def test_a_stream_reports_when_it_ends(kind: str) -> None:
    gateway = MockGateway(time_scale=0)
    ends = Ends(kind)
    client = await _client(kind, gateway, on_call_end=ends.hook())
    stream = await _call(
        kind,
        client.chat.completions.create(
            model=A, messages=MSGS, stream=True, stream_options={"include_usage": True}
        ),
    )
    assert ends.seen == []  # the call is not over while the stream is open
    if kind == "sync":
        with stream:
            text = "".join(stream.text_stream)
    else:
        async with stream:
            text = "".join([t async for t in stream.text_stream])
    [end] = ends.seen
    assert end.stream
    assert end.result is stream
    assert end.usage is not None
    assert end.cost_usd == stream.route.cost_usd
    assert text
