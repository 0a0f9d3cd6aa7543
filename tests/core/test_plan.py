"""The attempt plan, driven by hand with a fake clock and a seeded RNG: no I/O at all."""

from __future__ import annotations

import logging
import random
from collections.abc import Generator
from typing import Any

import httpx
import pytest

import xroute
from xroute._core.config import ClientConfig
from xroute._core.plan import Discard, LoadCatalog, PlanContext, Send, Sleep, attempt_plan
from xroute._core.request import chat_call
from xroute._core.responses import parse_model
from xroute.routing import InMemoryRouteState, UsageSummary
from xroute.types import ChatCompletion

OK = b'{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]}'


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _context(clock: FakeClock, **config: Any) -> PlanContext:
    cfg = ClientConfig.resolve(
        api_key="k-test",
        base_url="https://gw.example/v1",
        timeout=config.pop("timeout", xroute.Timeout()),
        max_retries=config.pop("max_retries", 2),
        default_headers=None,
    )
    return PlanContext(
        cfg,
        clock,
        lambda: 1_700_000_000.0,
        random.Random(3),
        InMemoryRouteState(),
        UsageSummary(),
    )


class _Plan:
    """A plan under test that has answered its catalog question (no catalog)."""

    def __init__(self, plan: Generator[Any, Any, Any]) -> None:
        self._plan = plan

    def __next__(self) -> Any:
        ask = next(self._plan)
        assert ask == LoadCatalog(fetch=False)
        return self._plan.send(None)

    def send(self, value: Any) -> Any:
        return self._plan.send(value)


def _plan(clock: FakeClock, model: Any = "m", **config: Any) -> Any:
    call = chat_call({"model": model, "messages": [{"role": "user", "content": "x"}]}, stream=False)
    return _Plan(
        attempt_plan(
            call, _context(clock, **config), lambda r, c: parse_model(ChatCompletion, r, c)
        )
    )


def _reply(command: Send, status: int, body: bytes = OK, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers=headers, request=command.request)


def _finish(plan: Any, outcome: Any) -> Any:
    with pytest.raises(StopIteration) as done:
        plan.send(outcome)
    return done.value.value


def test_success_first_time() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    send = next(plan)
    assert isinstance(send, Send) and not send.stream
    result = _finish(plan, _reply(send, 200))
    assert result.choices[0].message.content == "hi"


def test_retries_with_backoff_then_succeeds() -> None:
    clock = FakeClock()
    plan = _plan(clock)
    send = next(plan)
    sleep = plan.send(_reply(send, 503, b"{}"))
    assert isinstance(sleep, Sleep) and 0.375 <= sleep.seconds <= 0.5
    clock.now += sleep.seconds
    send = plan.send(None)
    sleep = plan.send(_reply(send, 500, b"{}"))
    assert 0.75 <= sleep.seconds <= 1.0
    send = plan.send(None)
    assert _finish(plan, _reply(send, 200)).id == "c1"


def test_retry_after_header_is_honoured() -> None:
    plan = _plan(FakeClock())
    send = next(plan)
    sleep = plan.send(_reply(send, 429, b"{}", **{"retry-after-ms": "1234"}))
    assert sleep == Sleep(1.234)


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    plan = _plan(FakeClock(), max_retries=1)
    send = next(plan)
    assert isinstance(plan.send(_reply(send, 500, b"{}")), Sleep)
    send = plan.send(None)
    with pytest.raises(xroute.InternalServerError):
        plan.send(_reply(send, 502, b'{"error":{"message":"still down"}}'))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    plan = _plan(FakeClock())
    send = next(plan)
    with pytest.raises(xroute.APIStatusError) as info:
        plan.send(_reply(send, status, b'{"error":{"message":"no"}}'))
    assert info.value.status_code == status


def test_x_should_retry_false_stops_retries() -> None:
    plan = _plan(FakeClock())
    send = next(plan)
    with pytest.raises(xroute.InternalServerError):
        plan.send(_reply(send, 503, b"{}", **{"x-should-retry": "false"}))


def test_transport_errors_are_retried_then_raised_typed() -> None:
    plan = _plan(FakeClock(), max_retries=1)
    send = next(plan)
    assert isinstance(plan.send(httpx.ConnectError("refused", request=send.request)), Sleep)
    plan.send(None)
    with pytest.raises(xroute.APITimeoutError):
        plan.send(httpx.ReadTimeout("slow"))


def test_deadline_cuts_attempt_timeouts_and_skips_useless_sleeps() -> None:
    clock = FakeClock()
    plan = _plan(clock, timeout=xroute.Timeout(read=60, deadline=10))
    send = next(plan)
    assert send.request.extensions["timeout"]["read"] == 10
    clock.now += 9.8  # the attempt took almost the whole budget
    with pytest.raises(xroute.InternalServerError):
        plan.send(_reply(send, 503, b"{}"))  # sleeping 0.5 s would pass the deadline


def test_deadline_passed_before_an_attempt_is_a_timeout() -> None:
    clock = FakeClock()
    plan = _plan(clock, timeout=xroute.Timeout(deadline=5))
    send = next(plan)
    sleep = plan.send(_reply(send, 429, b"{}", **{"retry-after": "4"}))
    assert sleep == Sleep(4.0)
    clock.now += 6
    with pytest.raises(xroute.APITimeoutError, match="deadline of 5"):
        plan.send(None)


def test_bad_2xx_body_is_a_validation_error_not_retried() -> None:
    plan = _plan(FakeClock())
    send = next(plan)
    with pytest.raises(xroute.APIResponseValidationError, match="not valid JSON"):
        plan.send(_reply(send, 200, b"{oops"))
    plan = _plan(FakeClock())
    send = next(plan)
    with pytest.raises(xroute.APIResponseValidationError, match="choices"):
        plan.send(_reply(send, 200, b'{"id": "x"}'))


def test_streamed_error_response_is_discarded_before_mapping() -> None:
    call = chat_call({"model": "m", "messages": [{"role": "user", "content": "x"}]}, stream=True)
    plan = _Plan(attempt_plan(call, _context(FakeClock()), lambda r, c: None))
    send = next(plan)
    assert send.stream
    response = httpx.Response(401, request=send.request, stream=httpx.ByteStream(b"ignored"))
    discard = plan.send(response)
    assert isinstance(discard, Discard) and discard.response is response
    with pytest.raises(xroute.AuthenticationError, match="bad key"):
        plan.send(b'{"error":{"message":"bad key"}}')


def test_one_debug_line_per_attempt_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="xroute")
    plan = _plan(FakeClock())
    send = next(plan)
    plan.send(_reply(send, 503, b"{}"))
    send = plan.send(None)
    _finish(plan, _reply(send, 200))
    lines = [r.getMessage() for r in caplog.records if r.name == "xroute"]
    assert len(lines) == 2
    assert "POST /chat/completions model=m status=503 attempt=1" in lines[0]
    assert "status=200 attempt=2" in lines[1]
    assert all("k-test" not in line for line in lines)
