"""What the aiohttp transport adds to the suite: errors, early close, cancellation, load, trio."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import anyio
import httpx
import pytest

import xroute
from xroute.testing import MockGateway
from xroute.transports import AiohttpTransport, aiohttp_http_client

MSGS = [{"role": "user", "content": "Count slowly to a hundred, please, one word at a time"}]
SLOW = "openai/gpt-4o"  # scripted below: slow to answer, slow to stream


@pytest.fixture(scope="module")
def gateway() -> Iterator[MockGateway]:
    gw = MockGateway(seed=5, time_scale=1.0)
    gw.script("openai/gpt-4o-mini", latency=0.0, jitter=0.0, time_to_first_token=0.0)
    gw.script(SLOW, latency=0.0, jitter=0.0, time_to_first_token=0.0, tokens_per_second=20)
    gw.add_model("test/slow-start", xroute.testing.ModelScript(latency=30.0, jitter=0.0))
    with gw.serve():
        yield gw


class Rig:
    """An AsyncXRoute over a fresh aiohttp transport, and a look at its pool."""

    def __init__(self, gateway: MockGateway, **kwargs: object) -> None:
        self.http = aiohttp_http_client()
        transport = self.http._transport
        assert isinstance(transport, AiohttpTransport)
        self.transport = transport
        self.client = gateway.async_client(http_client=self.http, **kwargs)

    async def __aenter__(self) -> Rig:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.http.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_failures_map_to_the_errors_httpx_would_raise(gateway: MockGateway) -> None:
    async with Rig(gateway, max_retries=0, timeout=xroute.Timeout(read=0.3)) as rig:
        gateway.fail_next("openai/gpt-4o-mini", "reset")
        with pytest.raises(xroute.APIConnectionError) as reset:
            await rig.client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSGS)
        assert not isinstance(reset.value, xroute.APITimeoutError)  # a dead host is not slow
        gateway.fail_next("openai/gpt-4o-mini", "hang")
        with pytest.raises(xroute.APITimeoutError):
            await rig.client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSGS)
        gateway.fail_next("openai/gpt-4o-mini", "reset")
        stream = await rig.client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=MSGS, stream=True
        )
        async with stream:
            with pytest.raises(xroute.StreamInterruptedError):
                await stream.get_final_completion()
        assert rig.transport.in_use() == 0
        reply = await rig.client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSGS)
        assert reply.choices[0].message.content


@pytest.mark.anyio
async def test_a_stream_closed_early_releases_its_connection(gateway: MockGateway) -> None:
    async with Rig(gateway) as rig:
        stream = await rig.client.chat.completions.create(model=SLOW, messages=MSGS, stream=True)
        async with stream:
            pieces = []
            async for text in stream.text_stream:
                pieces.append(text)
                if len(pieces) == 2:
                    break
            assert rig.transport.in_use() == 1
        assert rig.transport.in_use() == 0
        with pytest.raises(xroute.StreamInterruptedError):
            await stream.get_final_completion()
        reply = await rig.client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSGS)
        assert reply.choices[0].message.content


@pytest.mark.anyio
async def test_cancellation_leaves_no_connection_and_no_task(gateway: MockGateway) -> None:
    async with Rig(gateway, max_retries=0) as rig:
        before = len(asyncio.all_tasks())
        with anyio.move_on_after(0.2) as waiting:  # cancelled while waiting for headers
            await rig.client.chat.completions.create(model="test/slow-start", messages=MSGS)
        assert waiting.cancelled_caught
        stream = await rig.client.chat.completions.create(model=SLOW, messages=MSGS, stream=True)
        with anyio.move_on_after(0.2) as reading:  # cancelled mid-stream
            async with stream:
                async for _ in stream:
                    pass
        assert reading.cancelled_caught
        await anyio.sleep(0.05)  # let aiohttp finish closing what was cancelled
        assert rig.transport.in_use() == 0
        assert len(asyncio.all_tasks()) == before
        reply = await rig.client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSGS)
        assert reply.choices[0].message.content


@pytest.mark.anyio
async def test_two_hundred_concurrent_calls(gateway: MockGateway) -> None:
    async with Rig(gateway) as rig:
        results: list[str] = []

        async def one(i: int) -> None:
            reply = await rig.client.chat.completions.create(
                model="openai/gpt-4o-mini", messages=[{"role": "user", "content": f"call{i}x"}]
            )
            results.append(reply.choices[0].message.content or "")

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(one, i)
        assert len(results) == 200
        assert all(any(f"call{i}x" in text for text in results) for i in range(200))
        assert rig.transport.in_use() == 0


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_gets_a_clear_error(anyio_backend: str) -> None:
    with pytest.raises(RuntimeError, match="asyncio only"):
        aiohttp_http_client()
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        with pytest.raises(RuntimeError, match="trio"):
            await http.get("http://127.0.0.1:9/")


def test_a_transport_belongs_to_one_event_loop(gateway: MockGateway) -> None:
    transport = AiohttpTransport()
    http = httpx.AsyncClient(transport=transport)

    async def call() -> int:
        response = await http.get(f"{gateway.base_url}/models")
        return response.status_code

    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(call()) == 401  # no key: the gateway answered
        with pytest.raises(RuntimeError, match="another event loop"):
            second.run_until_complete(call())
        first.run_until_complete(http.aclose())
    finally:
        first.close()
        second.close()


def test_importing_xroute_imports_no_optional_dependency() -> None:
    code = (
        "import sys, xroute, xroute.transports, xroute.routing, xroute.routing._redis\n"
        "import xroute.tracing\n"
        "loaded = sorted({'aiohttp', 'redis', 'opentelemetry'} & {m.split('.')[0] "
        "for m in sys.modules})\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
