"""The mock gateway over real loopback HTTP (uvicorn): same answers, real faults."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import anyio
import httpx
import pytest

from xroute.testing import FailureKind, MockGateway

AUTH = {"Authorization": "Bearer test-key"}
MODEL = "openai/gpt-4o-mini"
QUICK = httpx.Timeout(5.0, read=0.2)


def _chat(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "Hi over TCP"}], **extra}


def _http(gateway: MockGateway, **kwargs: Any) -> httpx.Client:
    kwargs.setdefault("headers", AUTH)
    return httpx.Client(base_url=gateway.base_url, **kwargs)


def test_serves_on_a_free_loopback_port(gateway: MockGateway) -> None:
    assert gateway.base_url.startswith("http://127.0.0.1:")
    assert gateway.base_url.endswith("/v1")
    assert "127.0.0.1" in repr(gateway)
    with pytest.raises(RuntimeError, match="already serving"), gateway.serve():
        pass  # pragma: no cover
    with _http(gateway) as http:
        response = http.get("/models/openai/gpt-4o")
    assert response.status_code == 200
    assert response.json()["pricing"]["completion"] == "0.00001"


def test_wire_bytes_equal_in_process_bytes(gateway: MockGateway) -> None:
    twin = MockGateway(time_scale=0)
    tool = {"type": "function", "function": {"name": "f"}}
    bodies = [
        _chat(),
        _chat(stream=True, stream_options={"include_usage": True}),
        _chat(tools=[tool], stream=True),
    ]
    with (
        _http(gateway) as wire,
        httpx.Client(transport=twin.transport(), base_url=twin.base_url, headers=AUTH) as local,
    ):
        for body in bodies:
            over_tcp = wire.post("/chat/completions", json=body)
            in_process = local.post("/chat/completions", json=body)
            assert over_tcp.status_code == in_process.status_code == 200
            assert over_tcp.content == in_process.content
            assert over_tcp.headers["x-request-id"] == in_process.headers["x-request-id"]


def test_stream_arrives_chunked_and_paced(gateway: MockGateway) -> None:
    gateway.time_scale = 1.0
    gateway.script(MODEL, latency=0.0, jitter=0.0, time_to_first_token=0.05, tokens_per_second=500)
    with _http(gateway) as http:
        start = time.monotonic()
        stamps: list[float] = []
        with http.stream("POST", "/chat/completions", json=_chat(stream=True)) as response:
            assert response.headers["transfer-encoding"] == "chunked"
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = []
            for line in response.iter_lines():
                if line:
                    stamps.append(time.monotonic() - start)
                    lines.append(line)
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["choices"][0]["delta"]["role"] == "assistant"
    assert stamps[1] - stamps[0] >= 0.04  # time to first token, after the role chunk
    tokens = len(lines) - 3
    assert stamps[-2] - stamps[1] >= (tokens - 1) / 500 * 0.8


def test_auth_and_errors_over_the_wire(gateway: MockGateway) -> None:
    with _http(gateway, headers={"Authorization": "Bearer nope"}) as http:
        denied = http.get("/models")
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "invalid_api_key"
    assert denied.headers["x-request-id"].startswith("req_")
    with _http(gateway) as http:
        malformed = http.post("/chat/completions", content=b"{", headers={"x": "y"})
        unknown = http.post("/chat/completions", json=_chat(model="nobody/nothing"))
    assert malformed.status_code == 400
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"


STATUS = {"rate_limit": 429, "server_error": 500, "unavailable": 503, "error_event": 502}


@pytest.mark.parametrize(
    "kind",
    ["rate_limit", "server_error", "unavailable", "error_event", "truncate", "reset", "hang"],
)
def test_plain_faults_over_the_wire(gateway: MockGateway, kind: FailureKind) -> None:
    gateway.fail_next(MODEL, kind)
    with _http(gateway, timeout=QUICK) as http:
        if kind == "reset":
            with pytest.raises(httpx.ReadError):
                http.post("/chat/completions", json=_chat())
        elif kind == "hang":
            start = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                http.post("/chat/completions", json=_chat())
            assert time.monotonic() - start < 1.0
        elif kind == "truncate":
            cut = http.post("/chat/completions", json=_chat())
            assert cut.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                cut.json()
        else:
            response = http.post("/chat/completions", json=_chat())
            assert response.status_code == STATUS[kind]
            if kind == "rate_limit":
                assert response.headers["retry-after"] == "0"
                assert response.headers["retry-after-ms"] == "0"
        # The server is fine afterwards, on the same client (new or reused connection).
        assert http.post("/chat/completions", json=_chat()).status_code == 200
    assert gateway.stats_for(MODEL).failures == 1


@pytest.mark.parametrize("kind", ["error_event", "truncate", "reset", "hang"])
def test_mid_stream_faults_over_the_wire(gateway: MockGateway, kind: FailureKind) -> None:
    gateway.fail_next(MODEL, kind)
    lines: list[str] = []
    error: Exception | None = None
    with _http(gateway, timeout=QUICK) as http:
        with http.stream("POST", "/chat/completions", json=_chat(stream=True)) as response:
            assert response.status_code == 200
            try:
                lines.extend(line for line in response.iter_lines() if line)
            except httpx.TransportError as failure:
                error = failure
        assert http.post("/chat/completions", json=_chat()).status_code == 200
    assert "data: [DONE]" not in lines
    assert len(lines) >= 2  # the role chunk and some tokens made it
    expected = {"reset": httpx.ReadError, "hang": httpx.ReadTimeout}.get(kind)
    if expected is None:
        assert error is None
    else:
        assert isinstance(error, expected)
    if kind == "error_event":
        assert json.loads(lines[-1][6:])["error"]["code"] == "upstream_error"


@pytest.mark.anyio
async def test_async_client_over_loopback(gateway: MockGateway) -> None:
    gateway.fail_next(MODEL, "reset")
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=AUTH) as http:
        with pytest.raises(httpx.ReadError):
            await http.post("/chat/completions", json=_chat())
        results: list[int] = []

        async def one(index: int) -> None:
            response = await http.post("/chat/completions", json=_chat(n=1, seed=index))
            results.append(response.status_code)

        async with anyio.create_task_group() as group:
            for index in range(40):
                group.start_soon(one, index)
        async with http.stream("POST", "/chat/completions", json=_chat(stream=True)) as stream:
            text = "".join([line async for line in stream.aiter_lines()])
    assert results == [200] * 40
    assert text.endswith("data: [DONE]")
    assert gateway.stats_for(MODEL).requests == 42


def test_stopping_ends_a_hanging_request_promptly() -> None:
    gateway = MockGateway(time_scale=0)
    gateway.fail_next(MODEL, "hang")
    outcome: list[BaseException] = []

    def call(url: str) -> None:
        try:
            httpx.post(f"{url}/chat/completions", json=_chat(), headers=AUTH, timeout=30)
        except httpx.TransportError as error:
            outcome.append(error)

    with gateway.serve() as url:
        caller = threading.Thread(target=call, args=(url,))
        caller.start()
        while not gateway.requests:
            time.sleep(0.01)
        start = time.monotonic()
    assert time.monotonic() - start < 2.0
    caller.join(5)
    assert not caller.is_alive()
    assert len(outcome) == 1
    assert gateway.base_url == "https://xroute.mock/v1"  # back to in-process
