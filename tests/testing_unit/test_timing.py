"""Scripted delays: latency, jitter, time to first token, pace, time_scale, read timeouts."""

from __future__ import annotations

import time

import httpx
import pytest
from gateway_support import async_client, chat, client

from xroute.testing import MockGateway, ModelScript

STEADY = ModelScript(latency=0.04, jitter=0.0, time_to_first_token=0.02, tokens_per_second=1000)


def _elapsed(gateway: MockGateway, **body: object) -> tuple[float, httpx.Response]:
    with client(gateway) as http:
        start = time.monotonic()
        response = http.post("/chat/completions", json=chat(model="acme/steady", **body))
        return time.monotonic() - start, response


def test_plain_request_waits_latency_first_token_and_generation() -> None:
    gateway = MockGateway(scripts={"acme/steady": STEADY})
    elapsed, response = _elapsed(gateway)
    tokens = response.json()["usage"]["completion_tokens"]
    expected = 0.04 + 0.02 + tokens / 1000
    assert expected * 0.95 <= elapsed < expected + 0.5


def test_time_scale_scales_every_delay() -> None:
    gateway = MockGateway(time_scale=0.0, scripts={"acme/steady": STEADY})
    instant, _ = _elapsed(gateway)
    gateway.time_scale = 3.0
    slow, response = _elapsed(gateway)
    tokens = response.json()["usage"]["completion_tokens"]
    assert instant < 0.2
    assert slow >= 3.0 * (0.06 + tokens / 1000) * 0.95


def test_jitter_is_seeded_per_request() -> None:
    script = ModelScript(latency=0.01, jitter=1.0, time_to_first_token=0.0)

    def delays(seed: int) -> list[float]:
        # The engine's plan holds the drawn delays; compare plans rather than wall time.
        from xroute.testing._wire import Incoming, Pause

        gateway = MockGateway(seed=seed, scripts={"acme/j": script})
        engine = gateway._engine
        body = b'{"model": "acme/j", "messages": [{"role": "user", "content": "x"}]}'
        request = Incoming(
            "POST", "/v1/chat/completions", {"authorization": "Bearer test-key"}, body
        )
        plans = [engine.handle(request, 0.0) for _ in range(6)]
        return [step.seconds for plan in plans for step in plan if isinstance(step, Pause)]

    first = delays(1)
    assert len(first) == 6
    assert first == delays(1)
    assert first != delays(2)
    assert len(set(first)) == 6  # each request draws its own


def test_latency_beyond_the_read_timeout_raises_read_timeout() -> None:
    gateway = MockGateway(scripts={"acme/slow": ModelScript(latency=5.0, jitter=0.0)})
    with client(gateway, timeout=httpx.Timeout(5.0, read=0.05)) as http:
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.post("/chat/completions", json=chat(model="acme/slow"))
        assert time.monotonic() - start < 1.0


@pytest.mark.anyio
async def test_async_latency_and_timeout() -> None:
    gateway = MockGateway(scripts={"acme/steady": STEADY, "acme/slow": ModelScript(latency=5.0)})
    async with async_client(gateway, timeout=httpx.Timeout(5.0, read=0.2)) as http:
        start = time.monotonic()
        response = await http.post("/chat/completions", json=chat(model="acme/steady"))
        assert response.status_code == 200
        assert time.monotonic() - start >= 0.06
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/chat/completions", json=chat(model="acme/slow"))
