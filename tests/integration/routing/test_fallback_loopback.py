"""Fallback chains over loopback HTTP: which failures move on, which end the call, and where a
stream stops being allowed to switch models (its first content chunk)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from routing_driver import Driver

import xroute
from xroute.testing import FailureKind, MockGateway

pytestmark = pytest.mark.anyio

A, B, C = "openai/gpt-4o", "anthropic/claude-3.5-sonnet", "google/gemini-2.0-flash-001"
# A short read timeout turns a scripted hang into a timeout quickly; a short scripted hang
# keeps the server from waiting long on a client that is gone.
TIMEOUT = xroute.Timeout(read=0.2)
HANG_S = 2.0

# What the first model's attempt records, per failure, when it strikes before any token:
# (status, error type) for a plain call and for a stream.
BEFORE_FIRST_TOKEN: dict[str, tuple[tuple[int | None, str], tuple[int | None, str]]] = {
    "rate_limit": ((429, "RateLimitError"), (429, "RateLimitError")),
    "server_error": ((500, "InternalServerError"), (500, "InternalServerError")),
    "unavailable": ((503, "InternalServerError"), (503, "InternalServerError")),
    "reset": ((None, "APIConnectionError"), (None, "StreamInterruptedError")),
    "hang": ((None, "APITimeoutError"), (None, "StreamTimeoutError")),
    "error_event": ((502, "InternalServerError"), (None, "StreamErrorEvent")),
    "truncate": ((None, "APIResponseValidationError"), (None, "StreamInterruptedError")),
}
# Faults a stream suffers mid-way (after half its tokens), and the error the caller gets then.
MID_STREAM: dict[str, type[xroute.StreamError]] = {
    "reset": xroute.StreamInterruptedError,
    "hang": xroute.StreamTimeoutError,
    "error_event": xroute.StreamErrorEvent,
    "truncate": xroute.StreamInterruptedError,
}


def _break(gateway: MockGateway, model: str, failure: FailureKind, *, one_token: bool) -> None:
    # A one-token reply makes the mid-stream faults strike before that token (half of one
    # token's chunks is none), i.e. before anything reached the caller.
    gateway.script(
        model, failure=failure, hang_seconds=HANG_S, reply="Paris" if one_token else None
    )


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("failure", list(BEFORE_FIRST_TOKEN))
async def test_chain_survives_a_failure_before_the_first_token(
    drive: Callable[..., Driver], gateway: MockGateway, failure: FailureKind, stream: bool
) -> None:
    _break(gateway, A, failure, one_token=True)
    d = drive(timeout=TIMEOUT, max_retries=0)
    if stream:
        reply = await d.chat(model=[A, B], stream=True, stream_options={"include_usage": True})
        text = await d.drain(reply)
    else:
        reply = await d.chat(model=[A, B])
        text = reply.choices[0].message.content
    route = reply.route
    assert route.model == B
    assert [(a.model, a.outcome) for a in route.attempts] == [(A, "error"), (B, "ok")]
    status, error_type = BEFORE_FIRST_TOKEN[failure][stream]
    assert (route.attempts[0].status_code, route.attempts[0].error_type) == (status, error_type)
    assert route.attempts[1].status_code == 200
    assert text and "Paris" not in text  # B's own answer, nothing of A's
    # No same-model retry while another candidate is healthy: straight to B.
    assert gateway.stats_for(A).requests == 1
    assert gateway.stats_for(B).requests == 1
    assert route.cost_usd == pytest.approx(gateway.stats_for(B).cost_usd, rel=1e-12)
    assert d.client.route_state.snapshot(A).consecutive_failures == 1
    assert d.in_flight(A, B) == [0, 0]
    assert d.busy_connections() == 0


@pytest.mark.parametrize("failure", list(MID_STREAM))
async def test_failure_after_the_first_token_is_a_stream_error_not_a_switch(
    drive: Callable[..., Driver], gateway: MockGateway, failure: FailureKind
) -> None:
    _break(gateway, A, failure, one_token=False)
    d = drive(timeout=TIMEOUT, max_retries=0)
    stream = await d.chat(model=[A, B], stream=True)  # primed: A's first token arrived
    text, error = await d.read_until_error(stream)
    assert isinstance(error, MID_STREAM[failure])
    assert text and error.partial_text == text  # the caller keeps what it was shown
    assert stream.completion_so_far.choices[0].message.content == text
    assert gateway.stats_for(B).requests == 0  # never silently switched mid-answer
    route = stream.route
    assert route.model == A
    [attempt] = route.attempts
    assert (attempt.outcome, attempt.status_code) == ("error", 200)
    assert attempt.error_type == MID_STREAM[failure].__name__
    assert attempt.ttft_s is not None
    assert attempt.elapsed_s >= attempt.ttft_s
    assert d.client.route_state.snapshot(A).consecutive_failures == 1
    assert d.in_flight(A, B) == [0, 0]
    assert d.busy_connections() == 0


async def test_first_token_timeout_falls_back(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.time_scale = 1.0
    gateway.script(A, time_to_first_token=5.0, jitter=0.0)  # the head comes, no token does
    gateway.script(B, latency=0.0, time_to_first_token=0.05, jitter=0.0)
    d = drive(max_retries=0)
    stream = await d.chat(model=[A, B], stream=True, first_token_timeout=0.2)
    text = await d.drain(stream)
    assert text
    route = stream.route
    assert route.model == B
    first, served = route.attempts
    assert (first.model, first.error_type) == (A, "StreamTimeoutError")
    assert "first_token_timeout" in (first.error_message or "")
    assert first.elapsed_s >= 0.2
    assert served.ttft_s is not None
    assert served.ttft_s >= 0.05  # the scripted wait: a lower bound, not a speed claim
    assert route.ttft_s == served.ttft_s
    assert d.in_flight(A, B) == [0, 0]
    assert d.busy_connections() == 0


async def test_a_model_the_gateway_does_not_know_falls_back(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive(max_retries=0)
    reply = await d.chat(model=["acme/not-a-model", B])
    assert reply.route.model == B
    first = reply.route.attempts[0]
    assert (first.model, first.status_code, first.error_type) == (
        "acme/not-a-model",
        404,
        "NotFoundError",
    )


async def test_a_bad_request_is_raised_at_once(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    # gpt-3.5-turbo refuses images with a 400: any model would refuse this request as badly
    # formed, so the chain stops there (Fallback takes the caller's models as given).
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}]
    d = drive(max_retries=2)
    for stream in (False, True):
        with pytest.raises(xroute.BadRequestError) as info:
            await d.chat(model=["openai/gpt-3.5-turbo", A], messages=messages, stream=stream)
        assert info.value.status_code == 400
    assert gateway.stats_for("openai/gpt-3.5-turbo").rejected == 2  # once each, no retry
    assert gateway.stats_for(A).requests == 0
    # The request's fault, not the model's: its health is untouched.
    assert d.client.route_state.snapshot("openai/gpt-3.5-turbo").samples == 0
    assert d.in_flight("openai/gpt-3.5-turbo", A) == [0, 0]


async def test_a_wrong_key_is_raised_at_once(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    key = "xr-wrong-key-0123456789abcdef"
    d = drive(api_key=key, max_retries=2)
    for stream in (False, True):
        with pytest.raises(xroute.AuthenticationError) as info:
            await d.chat(model=[A, B, C], stream=stream)
        assert key not in str(info.value)
    chats = [r for r in gateway.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2  # one per call: no second model, no retry
    assert d.in_flight(A, B, C) == [0, 0, 0]
    assert d.busy_connections() == 0


async def test_every_model_failing_raises_all_models_failed(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.script(A, failure="unavailable")
    gateway.script(B, failure="rate_limit")
    gateway.script(C, failure="reset")
    key = gateway.api_key
    d = drive(max_retries=0)
    with pytest.raises(xroute.AllModelsFailedError) as info:
        await d.chat(model=[A, B, C])
    error = info.value
    assert [(a.model, a.outcome, a.status_code, a.error_type) for a in error.attempts] == [
        (A, "error", 503, "InternalServerError"),
        (B, "error", 429, "RateLimitError"),
        (C, "error", None, "APIConnectionError"),
    ]
    lines = str(error).splitlines()
    assert lines[0] == "all 3 attempts failed:"
    assert lines[1].startswith(f"  1. {A}: 503 InternalServerError after ")
    assert lines[2].startswith(f"  2. {B}: 429 RateLimitError after ")
    assert lines[3].startswith(f"  3. {C}: APIConnectionError after ")
    assert all(len(line) < 250 for line in lines)  # one readable line per attempt
    assert key not in str(error)
    assert isinstance(error.__cause__, xroute.APIConnectionError)  # the last failure
    assert d.in_flight(A, B, C) == [0, 0, 0]
    assert d.busy_connections() == 0


async def test_the_last_candidate_gets_the_clients_retries(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.script(A, failure="unavailable")
    gateway.fail_next(B, "rate_limit")  # retry-after 0 s at time_scale 0
    d = drive(max_retries=1)
    reply = await d.chat(model=[A, B])
    assert [(a.model, a.status_code) for a in reply.route.attempts] == [
        (A, 503),
        (B, 429),
        (B, 200),
    ]
    assert gateway.stats_for(A).requests == 1  # not retried: B was there to take over
    assert gateway.stats_for(B).requests == 2


async def test_context_length_error_falls_back_to_a_larger_window_only(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    small, smaller, large = "openai/gpt-3.5-turbo", "meta-llama/llama-3-70b", "openai/gpt-4o"
    d = drive(max_retries=0)
    catalog = await d.catalog()  # 16385, 8192 and 128000 tokens: the client guard admits all
    assert catalog[smaller].context_length < catalog[small].context_length
    # The gateway now holds less than its catalog says (a stale catalog, or an estimate that
    # came out low): the server has the last word.
    gateway.script(small, context_length=20)
    reply = await d.chat(model=[small, smaller, large], max_tokens=16)
    assert reply.route.model == large
    first = reply.route.attempts[0]
    assert (first.model, first.error_type) == (small, "ContextLengthExceededError")
    assert [a.model for a in reply.route.attempts] == [small, large]
    assert gateway.stats_for(smaller).requests == 0  # not larger than the failed window
    # Nothing larger left: the context error itself, not "all models failed".
    with pytest.raises(xroute.ContextLengthExceededError):
        await d.chat(model=[small, smaller], max_tokens=16)
    assert gateway.stats_for(smaller).requests == 0
    # The request's fault: the model's health is untouched.
    assert d.client.route_state.snapshot(small).consecutive_failures == 0


async def test_the_context_guard_skips_a_model_too_small_for_the_prompt(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive(max_retries=0)
    await d.catalog()
    long_prompt = [{"role": "user", "content": "word " * 9000}]  # > llama-3-70b's 8192
    reply = await d.chat(model=["meta-llama/llama-3-70b", A], messages=long_prompt, max_tokens=8)
    assert reply.route.model == A
    assert [a.model for a in reply.route.attempts] == [A]
    assert gateway.stats_for("meta-llama/llama-3-70b").requests == 0
