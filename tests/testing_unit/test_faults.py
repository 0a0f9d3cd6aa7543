"""Scripted faults in process: each kind, plain and streamed, sync and async; rates; outages."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from gateway_support import MODEL, async_client, chat, chunks, client, sse_payloads

from xroute.testing import FailureKind, MockGateway, ModelScript, Outage

STATUS = {"rate_limit": 429, "server_error": 500, "unavailable": 503, "error_event": 502}
CODE = {
    "rate_limit": "rate_limit_exceeded",
    "server_error": None,
    "unavailable": "service_unavailable",
    "error_event": "upstream_error",
}
KINDS: list[FailureKind] = [
    "rate_limit",
    "server_error",
    "unavailable",
    "error_event",
    "truncate",
    "reset",
    "hang",
]
QUICK_TIMEOUT = httpx.Timeout(5.0, read=0.05)


def _check_plain(kind: str, outcome: httpx.Response | Exception) -> None:
    if kind in STATUS:
        assert isinstance(outcome, httpx.Response)
        assert outcome.status_code == STATUS[kind]
        assert outcome.headers["x-request-id"].startswith("req_")
        error = outcome.json()["error"]
        assert error["code"] == CODE[kind]
        assert "scripted" in error["message"]
    elif kind == "truncate":
        assert isinstance(outcome, httpx.Response)
        assert outcome.status_code == 200
        assert int(outcome.headers["content-length"]) == len(outcome.content)
        with pytest.raises(json.JSONDecodeError):
            json.loads(outcome.content)
        assert outcome.content.startswith(b'{"id":"chatcmpl-')
    elif kind == "reset":
        assert isinstance(outcome, httpx.ReadError)
        assert "Connection reset by peer" in str(outcome)
    else:
        assert isinstance(outcome, httpx.ReadTimeout)


def _after(gateway: MockGateway, kind: str) -> None:
    stats = gateway.stats_for(MODEL)
    assert (stats.requests, stats.failures) == (2, 1)
    first, second = gateway.requests_for(MODEL)
    assert first.failure == kind
    assert second.failure is None and second.status == 200


@pytest.mark.parametrize("kind", KINDS)
def test_plain_fault_sync(gateway: MockGateway, kind: FailureKind) -> None:
    gateway.fail_next(MODEL, kind)
    with client(gateway, timeout=QUICK_TIMEOUT) as http:
        outcome: httpx.Response | Exception
        try:
            outcome = http.post("/chat/completions", json=chat())
        except httpx.TransportError as error:
            outcome = error
        _check_plain(kind, outcome)
        assert http.post("/chat/completions", json=chat()).status_code == 200
    _after(gateway, kind)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_plain_fault_async(gateway: MockGateway, kind: FailureKind) -> None:
    gateway.fail_next(MODEL, kind)
    async with async_client(gateway, timeout=QUICK_TIMEOUT) as http:
        outcome: httpx.Response | Exception
        try:
            outcome = await http.post("/chat/completions", json=chat())
        except httpx.TransportError as error:
            outcome = error
        _check_plain(kind, outcome)
        assert (await http.post("/chat/completions", json=chat())).status_code == 200
    _after(gateway, kind)


def _check_stream(
    kind: str, status: int, received: bytes, error: Exception | None, full: list[dict[str, Any]]
) -> None:
    if kind in ("rate_limit", "server_error", "unavailable"):
        assert status == STATUS[kind]
        assert json.loads(received)["error"]["code"] == CODE[kind]
        return
    assert status == 200
    payloads = sse_payloads(received)
    assert "[DONE]" not in payloads
    content = [json.loads(p) for p in payloads if p.startswith('{"id"')]
    tokens = len(full) - 2  # the role chunk and the finish chunk
    assert len(content) == 1 + tokens // 2  # the role chunk, then half the tokens
    assert [c["choices"] for c in content] == [c["choices"] for c in full[: len(content)]]
    if kind == "error_event":
        assert json.loads(payloads[-1])["error"]["code"] == "upstream_error"
    if kind in ("error_event", "truncate"):
        assert error is None
    elif kind == "reset":
        assert isinstance(error, httpx.ReadError)
    else:
        assert isinstance(error, httpx.ReadTimeout)


@pytest.mark.parametrize("kind", KINDS)
def test_stream_fault_sync(gateway: MockGateway, kind: FailureKind) -> None:
    with client(gateway, timeout=QUICK_TIMEOUT) as http:
        full = chunks(http.post("/chat/completions", json=chat(stream=True)).content)
        gateway.fail_next(MODEL, kind)
        received = bytearray()
        error: Exception | None = None
        with http.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            try:
                for piece in response.iter_raw():
                    received += piece
            except httpx.TransportError as failure:
                error = failure
        _check_stream(kind, response.status_code, bytes(received), error, full)
    stats = gateway.stats_for(MODEL)
    assert (stats.streams, stats.failures) == (2, 1)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_stream_fault_async(gateway: MockGateway, kind: FailureKind) -> None:
    async with async_client(gateway, timeout=QUICK_TIMEOUT) as http:
        full = chunks((await http.post("/chat/completions", json=chat(stream=True))).content)
        gateway.fail_next(MODEL, kind)
        received = bytearray()
        error: Exception | None = None
        async with http.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            try:
                async for piece in response.aiter_raw():
                    received += piece
            except httpx.TransportError as failure:
                error = failure
        _check_stream(kind, response.status_code, bytes(received), error, full)


def test_mid_stream_fault_counts_only_the_tokens_sent(gateway: MockGateway) -> None:
    with client(gateway) as http:
        plain = http.post("/chat/completions", json=chat()).json()["usage"]
        gateway.reset()
        gateway.fail_next(MODEL, "truncate")
        http.post("/chat/completions", json=chat(stream=True))
    stats = gateway.stats_for(MODEL)
    assert stats.prompt_tokens == plain["prompt_tokens"]
    assert stats.completion_tokens == plain["completion_tokens"] // 2


def test_rate_limit_headers_scale_with_time(gateway: MockGateway) -> None:
    script = ModelScript(failure="rate_limit", retry_after=2.5, latency=0.0)
    gateway.set_script(MODEL, script)
    with client(gateway) as http:
        instant = http.post("/chat/completions", json=chat())
        gateway.time_scale = 1.0
        real = http.post("/chat/completions", json=chat())
    assert (instant.headers["retry-after"], instant.headers["retry-after-ms"]) == ("0", "0")
    assert (real.headers["retry-after"], real.headers["retry-after-ms"]) == ("3", "2500")
    assert "try again in 2.5s" in real.json()["error"]["message"]


def test_hang_answers_504_once_its_time_is_up() -> None:
    gateway = MockGateway(time_scale=0, scripts={MODEL: ModelScript(hang_seconds=0.01)})
    gateway.fail_next(MODEL, "hang")
    with client(gateway, timeout=None) as http:
        response = http.post("/chat/completions", json=chat())
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"


def test_hang_waits_for_the_read_timeout(gateway: MockGateway) -> None:
    gateway.fail_next(MODEL, "hang")
    with client(gateway, timeout=httpx.Timeout(5.0, read=0.2)) as http:
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.post("/chat/completions", json=chat())
        assert 0.18 <= time.monotonic() - start < 1.0


def test_fail_next_queues_in_order_then_recovers(gateway: MockGateway) -> None:
    gateway.fail_next(MODEL, "unavailable", count=2)
    gateway.fail_next(MODEL, "rate_limit")
    with client(gateway) as http:
        statuses = [http.post("/chat/completions", json=chat()).status_code for _ in range(5)]
        other = http.post("/chat/completions", json=chat(model="openai/gpt-4o"))
    assert statuses == [503, 503, 429, 200, 200]
    assert other.status_code == 200
    assert gateway.stats_for(MODEL).failures == 3


def test_fail_next_on_embeddings(gateway: MockGateway) -> None:
    model = "openai/text-embedding-3-small"
    gateway.fail_next(model, "server_error")
    gateway.fail_next(model, "truncate")
    with client(gateway) as http:
        body = {"model": model, "input": "hello"}
        assert http.post("/embeddings", json=body).status_code == 500
        cut = http.post("/embeddings", json=body)
        assert cut.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            cut.json()
        assert http.post("/embeddings", json=body).json()["data"][0]["index"] == 0
    assert gateway.stats_for(model).failures == 2


def _statuses(seed: int, count: int = 200) -> list[int]:
    script = ModelScript(failure="server_error", failure_rate=0.25)
    gateway = MockGateway(seed=seed, time_scale=0, scripts={MODEL: script})
    with client(gateway) as http:
        return [http.post("/chat/completions", json=chat()).status_code for _ in range(count)]


def test_failure_rate_is_seeded_and_about_right() -> None:
    first = _statuses(seed=1)
    assert first == _statuses(seed=1)
    assert first != _statuses(seed=2)
    failures = first.count(500)
    assert 30 <= failures <= 70
    assert set(first) == {200, 500}


def test_always_failing_script_and_recovery(gateway: MockGateway) -> None:
    gateway.script(MODEL, failure="unavailable")
    with client(gateway) as http:
        assert http.post("/chat/completions", json=chat()).status_code == 503
        assert http.post("/chat/completions", json=chat(stream=True)).status_code == 503
        gateway.script(MODEL, failure=None)
        assert http.post("/chat/completions", json=chat()).status_code == 200


def test_outage_by_request_number(gateway: MockGateway) -> None:
    outage = Outage(from_request=3, until_request=5)
    gateway.script(MODEL, outages=(outage,))
    with client(gateway) as http:
        statuses = [http.post("/chat/completions", json=chat()).status_code for _ in range(6)]
        # The counter is per model: another model is unaffected by MODEL's numbering.
        other = [
            http.post("/chat/completions", json=chat(model="openai/gpt-4o")).status_code
            for _ in range(4)
        ]
    assert statuses == [200, 200, 503, 503, 200, 200]
    assert other == [200, 200, 200, 200]


def test_outage_by_time_uses_the_gateway_clock() -> None:
    now = [100.0]
    outage = Outage(from_second=10.0, until_second=20.0, failure="rate_limit")
    gateway = MockGateway(
        time_scale=0, scripts={MODEL: ModelScript(outages=(outage,))}, clock=lambda: now[0]
    )
    with client(gateway) as http:

        def status_at(elapsed: float) -> int:
            now[0] = 100.0 + elapsed
            return http.post("/chat/completions", json=chat()).status_code

        assert [status_at(t) for t in (5.0, 10.0, 19.9, 20.0)] == [200, 429, 429, 200]
        now[0] = 200.0
        gateway.reset()  # the outage clock restarts at reset
        assert status_at(100.0 + 15.0) == 429


def test_outage_with_both_bounds_needs_both() -> None:
    now = [0.0]
    outage = Outage(from_request=2, from_second=5.0)
    gateway = MockGateway(
        time_scale=0, scripts={MODEL: ModelScript(outages=(outage,))}, clock=lambda: now[0]
    )
    with client(gateway) as http:
        assert http.post("/chat/completions", json=chat()).status_code == 200  # request 1
        assert http.post("/chat/completions", json=chat()).status_code == 200  # too early
        now[0] = 6.0
        assert http.post("/chat/completions", json=chat()).status_code == 503
