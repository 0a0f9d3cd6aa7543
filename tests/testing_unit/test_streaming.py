"""Streamed chat completions: SSE framing, chunk order, usage, tool calls, pacing."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from gateway_support import WEATHER_TOOL, async_client, chat, chunks, client, streamed_text

from xroute.testing import MockGateway, ModelScript


def test_stream_framing_and_text_match_the_plain_answer(http: httpx.Client) -> None:
    plain = http.post("/chat/completions", json=chat()).json()
    response = http.post("/chat/completions", json=chat(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "content-length" not in response.headers
    assert response.headers["x-request-id"].startswith("req_")
    parsed = chunks(response.content)
    first, *middle, last = parsed
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in parsed)
    assert len({chunk["id"] for chunk in parsed}) == 1
    assert all("usage" not in chunk for chunk in parsed)
    # One chunk per token: as many content chunks as the plain answer has completion tokens.
    assert len(middle) == plain["usage"]["completion_tokens"] > 10
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in middle)
    assert last["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert streamed_text(parsed) == plain["choices"][0]["message"]["content"]


def test_include_usage_adds_a_final_usage_chunk(http: httpx.Client) -> None:
    plain = http.post("/chat/completions", json=chat()).json()
    body = chat(stream=True, stream_options={"include_usage": True})
    parsed = chunks(http.post("/chat/completions", json=body).content)
    *content, usage_chunk = parsed
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == plain["usage"]
    assert all(chunk["usage"] is None for chunk in content)


def test_stream_max_tokens_finish_length(http: httpx.Client) -> None:
    parsed = chunks(http.post("/chat/completions", json=chat(stream=True, max_tokens=3)).content)
    assert len(parsed) == 1 + 3 + 1
    assert parsed[-1]["choices"][0]["finish_reason"] == "length"


def test_streamed_tool_call_fragments(http: httpx.Client) -> None:
    plain = http.post("/chat/completions", json=chat("weather?", tools=[WEATHER_TOOL])).json()
    body = chat("weather?", tools=[WEATHER_TOOL], stream=True)
    parsed = chunks(http.post("/chat/completions", json=body).content)
    deltas = [chunk["choices"][0]["delta"] for chunk in parsed]
    assert deltas[0] == {"role": "assistant", "content": None}
    header = deltas[1]["tool_calls"][0]
    expected_call = plain["choices"][0]["message"]["tool_calls"][0]
    assert header == {
        "index": 0,
        "id": expected_call["id"],
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    fragments = [delta["tool_calls"][0] for delta in deltas[2:-1]]
    assert len(fragments) > 5
    assert all(set(fragment) == {"index", "function"} for fragment in fragments)
    arguments = "".join(fragment["function"]["arguments"] for fragment in fragments)
    assert arguments == expected_call["function"]["arguments"]
    json.loads(arguments)
    assert parsed[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_n_choices_interleave_in_a_stream(http: httpx.Client) -> None:
    plain = http.post("/chat/completions", json=chat(n=2)).json()
    parsed = chunks(http.post("/chat/completions", json=chat(n=2, stream=True)).content)
    indexes = [chunk["choices"][0]["index"] for chunk in parsed]
    assert indexes[:4] == [0, 1, 0, 1]
    for index in (0, 1):
        assert streamed_text(parsed, index) == plain["choices"][index]["message"]["content"]
    finishes = [c["choices"][0] for c in parsed if c["choices"][0]["finish_reason"]]
    assert sorted(f["index"] for f in finishes) == [0, 1]


def test_stream_bytes_are_deterministic() -> None:
    def stream(seed: int) -> bytes:
        with client(MockGateway(seed=seed, time_scale=0)) as http:
            return http.post("/chat/completions", json=chat(stream=True)).content

    assert stream(3) == stream(3)
    assert stream(3) != stream(4)


def test_stream_is_paced_chunk_by_chunk() -> None:
    script = ModelScript(latency=0.0, jitter=0.0, time_to_first_token=0.06, tokens_per_second=400)
    gateway = MockGateway(time_scale=1.0, scripts={"acme/paced": script})
    arrivals: list[tuple[float, str]] = []
    with client(gateway) as http:
        start = time.monotonic()
        body = chat(model="acme/paced", stream=True, max_tokens=20)
        with http.stream("POST", "/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if line:
                    arrivals.append((time.monotonic() - start, line))
    role_at = arrivals[0][0]
    first_token_at = arrivals[1][0]
    last_token_at = arrivals[20][0]
    assert role_at < first_token_at - 0.05  # headers and the role chunk come first
    assert first_token_at >= 0.06 * 0.95  # time to first token
    assert last_token_at - first_token_at >= 19 / 400 * 0.9  # then one chunk per 2.5 ms
    assert arrivals[-1][1] == "data: [DONE]"


@pytest.mark.anyio
async def test_async_stream_matches_sync(gateway: MockGateway) -> None:
    with client(gateway) as http:
        expected = http.post("/chat/completions", json=chat(stream=True)).content
    gateway.reset()
    pieces: list[bytes] = []
    async with async_client(gateway) as http_async:
        body = chat(stream=True)
        async with http_async.stream("POST", "/chat/completions", json=body) as response:
            assert response.status_code == 200
            async for piece in response.aiter_raw():
                pieces.append(piece)
    assert b"".join(pieces) == expected
    assert len(pieces) > 10  # really chunk by chunk


@pytest.mark.anyio
async def test_async_stream_read_timeout_between_chunks() -> None:
    script = ModelScript(latency=0.0, time_to_first_token=5.0, jitter=0.0)
    gateway = MockGateway(scripts={"acme/slow": script})
    async with async_client(gateway, timeout=httpx.Timeout(5.0, read=0.05)) as http:
        body = chat(model="acme/slow", stream=True)
        async with http.stream("POST", "/chat/completions", json=body) as response:
            lines = response.aiter_lines()
            assert (await lines.__anext__()).startswith("data: ")
            start = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                async for _ in lines:
                    pass
            assert time.monotonic() - start < 1.0
