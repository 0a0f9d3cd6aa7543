"""examples/web_backend.py: a Starlette app relaying a routed stream to the browser as SSE.

The app is tested the way its users would: with httpx in process (`ASGITransport`) for what
it answers, and over a real uvicorn server on loopback for a browser that hangs up mid-answer,
which must close the upstream stream at once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from xroute import AsyncXRoute
from xroute.testing import MockGateway

pytest.importorskip("starlette", reason="the web example needs starlette (the `web` extra)")
uvicorn = pytest.importorskip("uvicorn", reason="the web example needs uvicorn")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "web_backend.py"
FIRST, SECOND = "openai/gpt-4o-mini", "anthropic/claude-3-haiku"  # the app's chain


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_backend_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


web = _load_example()


def parse_events(body: str) -> list[tuple[str, Any]]:
    """(event name, decoded JSON data) for each server-sent event; the default name is
    ``message``."""
    events = []
    for block in body.strip().split("\n\n"):
        name, data = "message", ""
        for line in block.splitlines():
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data += value
        events.append((name, json.loads(data)))
    return events


# --------------------------------------------------------------------------- in process


@contextlib.asynccontextmanager
async def _app_client(gateway: MockGateway, **options: Any) -> Any:
    async with AsyncXRoute(base_url=gateway.base_url, api_key=gateway.api_key, **options) as xr:
        app = web.create_app(xr)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield http


@pytest.mark.anyio
async def test_streams_the_answer_then_the_route(xroute_gateway: MockGateway) -> None:
    async with _app_client(xroute_gateway) as http:
        response = await http.get("/chat", params={"q": "What is SSE?"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = parse_events(response.text)
        texts = [data["text"] for name, data in events if name == "message"]
        assert len(texts) > 5  # piece by piece, not one blob
        assert 'You said: "What is SSE?"' in "".join(texts)
        name, done = events[-1]
        assert name == "done"
        assert done["model"] == FIRST
        assert done["cost_usd"] == pytest.approx(xroute_gateway.stats_for(FIRST).cost_usd)
        assert done["latency_s"] > 0
        health = (await http.get("/health")).json()
        assert health == {"ok": True, "streams_open": 0}


@pytest.mark.anyio
async def test_a_model_failing_before_its_first_token_is_replaced(
    xroute_gateway: MockGateway,
) -> None:
    xroute_gateway.fail_next(FIRST, "unavailable")
    async with _app_client(xroute_gateway) as http:
        events = parse_events((await http.get("/chat", params={"q": "hi"})).text)
    name, done = events[-1]
    assert name == "done"
    assert done["model"] == SECOND


@pytest.mark.anyio
async def test_a_stream_breaking_after_its_first_token_ends_with_a_failed_event(
    xroute_gateway: MockGateway,
) -> None:
    xroute_gateway.fail_next(FIRST, "error_event")
    async with _app_client(xroute_gateway) as http:
        events = parse_events((await http.get("/chat", params={"q": "hi"})).text)
    name, data = events[-1]
    assert name == "failed"
    assert data["error"] == "StreamErrorEvent"
    assert data["received"] == len("".join(d["text"] for n, d in events if n == "message")) > 0


@pytest.mark.anyio
async def test_a_route_that_fails_outright_is_a_502(xroute_gateway: MockGateway) -> None:
    for model in (FIRST, SECOND):
        xroute_gateway.script(model, failure="unavailable")
    async with _app_client(xroute_gateway, max_retries=0) as http:
        response = await http.get("/chat", params={"q": "hi"})
    assert response.status_code == 502
    assert response.json() == {"error": "AllModelsFailedError"}


@pytest.mark.anyio
async def test_a_missing_question_is_a_400_and_calls_nothing(xroute_gateway: MockGateway) -> None:
    async with _app_client(xroute_gateway) as http:
        response = await http.get("/chat", params={"q": "  "})
        page = await http.get("/")
    assert response.status_code == 400
    assert xroute_gateway.requests == []
    assert "new EventSource" in page.text


# --------------------------------------------------------------------------- over loopback


@pytest.fixture(scope="module")
def slow_gateway() -> Iterator[MockGateway]:
    """A gateway of this module's own: the slow stream below outlives its test."""
    gateway = MockGateway(seed=3)
    with gateway.serve():
        yield gateway


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run the app under uvicorn (lifespan included) on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", ws="none", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_client_that_hangs_up_closes_the_upstream_stream(
    slow_gateway: MockGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 tokens at 10 a second: the whole answer would take 20 s.
    slow_gateway.script(FIRST, tokens_per_second=10.0, reply=" ".join(["lighthouse"] * 200))
    monkeypatch.setenv("XROUTE_BASE_URL", slow_gateway.base_url)
    monkeypatch.setenv("XROUTE_API_KEY", slow_gateway.api_key)
    app = web.create_app()  # the client comes from the environment, made by the lifespan
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        with http.stream("GET", "/chat", params={"q": "a long story"}) as response:
            assert response.status_code == 200
            lines = response.iter_lines()  # kept: dropping it would close the response
            first = next(line for line in lines if line.startswith("data: "))
            assert json.loads(first.removeprefix("data: "))["text"]
            xroute: AsyncXRoute = app.state.xroute
            assert http.get("/health").json()["streams_open"] == 1
            assert xroute.route_state.snapshot(FIRST).in_flight == 1
        # Leaving the block closed the connection mid-answer: the browser went away.

        def released() -> bool:
            return (
                http.get("/health").json()["streams_open"] == 0
                and xroute.route_state.snapshot(FIRST).in_flight == 0
            )

        # The full answer would take 20 s; the upstream stream must be closed long before.
        assert wait_for(released, seconds=10.0), "the upstream stream was left open"
        health = xroute.route_state.snapshot(FIRST)
        assert health.samples == 0  # abandoned, not completed: no verdict on the model
        assert health.breaker == "closed"
        assert xroute.usage.by_model()[FIRST].requests == 1  # accounted when it was closed
        assert slow_gateway.stats_for(FIRST).streams == 1
