"""Both clients over real loopback HTTP against the mock gateway (uvicorn), asyncio and trio."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import xroute
from xroute.testing import MockGateway

pytestmark = pytest.mark.anyio
MSGS = [{"role": "user", "content": "Tell me about loopback sockets"}]


@pytest.fixture(scope="module")
def gateway() -> Iterator[MockGateway]:
    gw = MockGateway(seed=11, time_scale=0.05)
    with gw.serve():
        yield gw


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _client(gateway: MockGateway, kind: str, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", gateway.api_key)
    kwargs.setdefault("base_url", gateway.base_url)
    return xroute.XRoute(**kwargs) if kind == "sync" else xroute.AsyncXRoute(**kwargs)


async def _call(kind: str, method: Any, /, *args: Any, **kwargs: Any) -> Any:
    result = method(*args, **kwargs)
    return (await result) if kind == "async" else result


async def _close(kind: str, client: Any) -> None:
    if kind == "sync":
        client.close()
    else:
        await client.aclose()


def busy_connections(client: Any) -> int:
    """Connections of the client's pool that are checked out (not idle, not closed)."""
    pool = client._http._transport._pool
    return sum(1 for c in pool.connections if not c.is_idle() and not c.is_closed())


async def test_chat_embeddings_and_catalog(gateway: MockGateway, kind: str) -> None:
    client = _client(gateway, kind)
    try:
        catalog = await _call(kind, client.models.list)
        assert len(catalog) >= 12
        assert "openai/gpt-4o" in catalog
        reply = await _call(
            kind, client.chat.completions.create, model="openai/gpt-4o", messages=MSGS
        )
        assert "loopback sockets" in reply.choices[0].message.content
        assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
        assert reply.route.model == "openai/gpt-4o"
        assert reply.route.cost_usd is not None
        assert reply.route.cost_usd > 0
        emb = await _call(
            kind, client.embeddings.create, model="openai/text-embedding-3-small", input=["a", "b"]
        )
        assert len(emb.data) == 2
        assert all(isinstance(x, float) for x in emb.data[0].embedding)
        assert busy_connections(client) == 0
    finally:
        await _close(kind, client)


async def test_stream_over_http_releases_the_connection(gateway: MockGateway, kind: str) -> None:
    client = _client(gateway, kind)
    try:
        stream = await _call(
            kind,
            client.chat.completions.create,
            model="openai/gpt-4o-mini",
            messages=MSGS,
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces: list[str] = []
        if kind == "sync":
            with stream:
                pieces.extend(stream.text_stream)
                final = stream.get_final_completion()
        else:
            async with stream:
                pieces.extend([t async for t in stream.text_stream])
                final = await stream.get_final_completion()
        assert len(pieces) > 5
        assert "".join(pieces) == final.choices[0].message.content
        assert final.usage is not None
        assert stream.route.model == "openai/gpt-4o-mini"
        assert stream.route.cost_usd is not None
        assert busy_connections(client) == 0
    finally:
        await _close(kind, client)


async def test_wrong_key_is_401_without_leaking_it(gateway: MockGateway, kind: str) -> None:
    client = _client(gateway, kind, api_key="xr-wrong-0123456789abcdef")
    try:
        with pytest.raises(xroute.AuthenticationError) as info:
            await _call(kind, client.chat.completions.create, model="openai/gpt-4o", messages=MSGS)
        assert "xr-wrong-0123456789abcdef" not in str(info.value)
        assert busy_connections(client) == 0
    finally:
        await _close(kind, client)


async def test_fallback_chain_survives_a_down_model(kind: str) -> None:
    gw = MockGateway(seed=3, time_scale=0.05)
    gw.script("openai/gpt-4o", failure="unavailable")
    with gw.serve():
        client = _client(gw, kind)
        try:
            reply = await _call(
                kind,
                client.chat.completions.create,
                model=["openai/gpt-4o", "anthropic/claude-3.5-sonnet"],
                messages=MSGS,
            )
            assert reply.route.model == "anthropic/claude-3.5-sonnet"
            assert [a.model for a in reply.route.attempts] == [
                "openai/gpt-4o",
                "anthropic/claude-3.5-sonnet",
            ]
            assert reply.route.attempts[0].status_code == 503
            assert busy_connections(client) == 0
        finally:
            await _close(kind, client)


async def test_connection_refused_is_typed(kind: str) -> None:
    with MockGateway().serve() as url:
        pass  # the port is free again once the server stopped
    client = _client(MockGateway(), kind, base_url=url, max_retries=0)
    try:
        with pytest.raises(xroute.APIConnectionError):
            await _call(kind, client.chat.completions.create, model="openai/gpt-4o", messages=MSGS)
    finally:
        await _close(kind, client)
