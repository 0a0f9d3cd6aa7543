"""Hedged requests over loopback: both clients (sync on a thread pool, async on asyncio and
trio), plain and streamed. A slow first model is overtaken by the next one, the loser is
cancelled and released, and the extra-attempt cap holds."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest
from routing_driver import MESSAGES, Driver

import xroute
from xroute.routing import estimate_prompt_tokens, worst_case_usd
from xroute.testing import MockGateway

pytestmark = pytest.mark.anyio

SLOW, FAST, THIRD = "openai/gpt-4o", "anthropic/claude-3-haiku", "openai/gpt-4o-mini"


def _slow_first(gateway: MockGateway, slow_s: float = 1.5) -> None:
    gateway.time_scale = 1.0
    gateway.script(SLOW, latency=slow_s, jitter=0.0, time_to_first_token=slow_s)
    for model in (FAST, THIRD):
        gateway.script(model, latency=0.02, jitter=0.0, time_to_first_token=0.02)


async def _settled(d: Driver, *models: str, within: float = 5.0) -> list[int]:
    """In-flight counts once background clean-up had `within` seconds to finish."""
    # Polling: the counters are changed by other threads, which cannot set an anyio.Event.
    for _ in range(int(within / 0.02)):
        if not any(d.in_flight(*models)):
            break
        await anyio.sleep(0.02)
    return d.in_flight(*models)


@pytest.mark.parametrize("stream", [False, True])
async def test_the_second_model_wins_when_the_first_is_slow(
    drive: Callable[..., Driver], gateway: MockGateway, stream: bool
) -> None:
    _slow_first(gateway)
    d = drive()
    started = time.monotonic()
    reply = await d.chat(model=xroute.Hedge([SLOW, FAST], after=0.2), stream=stream)
    if stream:
        text = await d.drain(reply)
        assert text
    took = time.monotonic() - started
    route = reply.route
    assert route.model == FAST
    assert [(a.model, a.outcome) for a in route.attempts] == [(SLOW, "cancelled"), (FAST, "ok")]
    assert route.attempts[0].billed is True
    assert took < 1.2  # the slow model would need 1.5 s
    # Both models really received the request.
    assert gateway.stats_for(SLOW).requests == 1
    assert gateway.stats_for(FAST).requests == 1
    assert await _settled(d, SLOW, FAST) == [0, 0]
    assert d.busy_connections() == 0


async def test_a_fast_first_model_is_never_hedged(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    _slow_first(gateway)
    d = drive()
    reply = await d.chat(model=xroute.Hedge([FAST, SLOW], after=0.5))
    assert reply.route.model == FAST
    assert [a.outcome for a in reply.route.attempts] == ["ok"]
    assert gateway.stats_for(SLOW).requests == 0


async def test_never_more_extra_attempts_than_the_cap(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.time_scale = 1.0
    for model in (SLOW, FAST, THIRD):
        gateway.script(model, latency=0.6, jitter=0.0)
    d = drive()
    reply = await d.chat(model=xroute.Hedge([SLOW, FAST, THIRD], after=0.05, max_extra=1))
    sent = [gateway.stats_for(m).requests for m in (SLOW, FAST, THIRD)]
    assert sent == [1, 1, 0]
    assert reply.route.model in (SLOW, FAST)
    assert len(reply.route.attempts) == 2
    assert await _settled(d, SLOW, FAST) == [0, 0]


async def test_a_failing_first_model_falls_over_without_waiting(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    _slow_first(gateway)
    gateway.script(THIRD, failure="unavailable")
    d = drive()
    started = time.monotonic()
    reply = await d.chat(model=xroute.Hedge([THIRD, FAST], after=5.0))
    assert time.monotonic() - started < 2.0  # not the 5 s hedge delay
    assert reply.route.model == FAST
    assert [(a.model, a.outcome, a.status_code) for a in reply.route.attempts] == [
        (THIRD, "error", 503),
        (FAST, "ok", 200),
    ]


async def test_cancelled_attempts_count_in_the_cost(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    _slow_first(gateway)
    d = drive()
    await d.catalog()  # prices for the cancelled prompt
    reply = await d.chat(model=xroute.Hedge([SLOW, FAST], after=0.2))
    served = reply.usage.model_extra["cost"]
    catalog = await d.catalog()
    prompt_price = catalog[SLOW].pricing.prompt_usd_per_token
    # The winner's reported cost plus the cancelled attempt's prompt at the catalog price.
    cancelled_prompt = prompt_price * estimate_prompt_tokens(MESSAGES)
    assert reply.route.cost_usd == pytest.approx(served + cancelled_prompt)
    assert d.client.usage.by_model()[SLOW].requests == 1


async def test_a_budget_that_cannot_cover_the_extra_attempt_runs_alone(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    _slow_first(gateway, slow_s=0.4)
    catalog = xroute.ModelCatalog.from_models(
        [
            xroute.Model(SLOW, pricing=xroute.Pricing(1e-6, 1e-6)),
            xroute.Model(FAST, pricing=xroute.Pricing(0.1, 0.1)),  # absurdly expensive
        ]
    )
    prompt = estimate_prompt_tokens(MESSAGES)
    worst = worst_case_usd([FAST], catalog, prompt_tokens=prompt, max_tokens=5)
    # Enough for the call's worst case, not for a second attempt beside it.
    d = drive(catalog=catalog, budget=1.5 * worst)
    reply = await d.chat(model=xroute.Hedge([SLOW, FAST], after=0.05), max_tokens=5)
    assert reply.route.model == SLOW
    assert gateway.stats_for(FAST).requests == 0


async def test_after_a_quantile_learns_from_observed_times(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    _slow_first(gateway)
    hedge = xroute.Hedge([FAST, SLOW], after="p90", default_after=5.0, min_samples=3)
    d = drive()
    for _ in range(3):
        await d.chat(model=hedge)
    learnt = hedge.delay(FAST, stream=False)
    assert 0.0 < learnt < 1.0  # the fast model's own times, not the 5 s default


async def test_an_unpriced_cancelled_attempt_makes_the_cost_unknown(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    _slow_first(gateway)
    d = drive()  # no catalog loaded: the cancelled prompt cannot be priced
    reply = await d.chat(model=xroute.Hedge([SLOW, FAST], after=0.2))
    assert reply.route.attempts[0].outcome == "cancelled"
    assert reply.usage.model_extra["cost"] > 0  # the winner's own cost is known...
    assert reply.route.cost_usd is None  # ...but the call's is not: never silently lower


async def test_the_last_candidate_is_retried_as_without_hedging(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.fail_next(FAST, "server_error")
    d = drive()
    reply = await d.chat(model=xroute.Hedge([FAST], after=1.0))
    assert reply.route.model == FAST
    assert [(a.outcome, a.status_code) for a in reply.route.attempts] == [
        ("error", 500),
        ("ok", 200),
    ]


async def test_an_open_breaker_is_skipped_in_a_hedged_race(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    _slow_first(gateway)
    state = xroute.InMemoryRouteState(xroute.HealthSettings(failure_threshold=1, cooldown_s=60))
    state.record_failure(SLOW, now=time.monotonic(), error_kind="server")
    d = drive(route_state=state)
    reply = await d.chat(model=xroute.Hedge([SLOW, FAST], after=0.2))
    assert reply.route.model == FAST
    # The open model went to the back of the order, and the race never started it.
    assert [(a.model, a.outcome) for a in reply.route.attempts] == [(FAST, "ok")]
    assert gateway.stats_for(SLOW).requests == 0
