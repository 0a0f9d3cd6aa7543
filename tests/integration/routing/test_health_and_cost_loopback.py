"""Health and money over loopback HTTP: the circuit breaker, route reports, costs, budget,
usage and catalog policies against the mock gateway's catalog."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from routing_driver import Driver

import xroute
from xroute.routing import ModelUsage
from xroute.testing import MockGateway

pytestmark = pytest.mark.anyio

A, B = "openai/gpt-4o", "anthropic/claude-3.5-sonnet"
# Breakers that trip after two failures and cool down for 0.1 s, then 0.4 s after a failed
# probe: the waits below are lower bounds (sleep past a cooldown), never races.
FAST_BREAKER = xroute.HealthSettings(failure_threshold=2, cooldown_s=0.1, cooldown_multiplier=4.0)


def _route(reply: xroute.ChatCompletion) -> list[tuple[str, str]]:
    return [(a.model, a.outcome) for a in reply.route.attempts]


async def test_breaker_stops_traffic_and_lets_one_probe_through_after_the_cooldown(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    state = xroute.InMemoryRouteState(FAST_BREAKER)
    gateway.script(A, failure="unavailable")
    d = drive(route_state=state, max_retries=0)
    assert d.client.route_state is state
    for _ in range(2):
        assert _route(await d.chat(model=[A, B])) == [(A, "error"), (B, "ok")]
    assert state.snapshot(A).breaker == "open"
    for _ in range(3):  # open: A goes to the back of the line and B answers at once
        assert _route(await d.chat(model=[A, B])) == [(B, "ok")]
    assert gateway.stats_for(A).requests == 2

    await anyio.sleep(0.15)  # past the first cooldown: the next call probes A, once
    assert _route(await d.chat(model=[A, B])) == [(A, "error"), (B, "ok")]
    assert gateway.stats_for(A).requests == 3
    assert _route(await d.chat(model=[A, B])) == [(B, "ok")]  # the probe failed: open again
    assert gateway.stats_for(A).requests == 3
    # Open, A is still the last resort: a call with nothing else tries it.
    with pytest.raises(xroute.InternalServerError):
        await d.chat(model=[A])
    assert gateway.stats_for(A).requests == 4

    gateway.script(A, failure=None)  # A recovers
    await anyio.sleep(0.45)  # past the longer cooldown: the probe succeeds and closes it
    assert _route(await d.chat(model=[A, B])) == [(A, "ok")]
    assert state.snapshot(A).breaker == "closed"
    assert _route(await d.chat(model=[A, B])) == [(A, "ok")]
    assert gateway.stats_for(A).requests == 6
    assert d.in_flight(A, B) == [0, 0]


async def test_concurrent_calls_after_the_cooldown_send_a_single_probe(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    state = xroute.InMemoryRouteState(FAST_BREAKER)
    gateway.script(A, failure="unavailable")
    d = drive(route_state=state, max_retries=0)
    for _ in range(2):
        await d.chat(model=[A, B])
    assert state.snapshot(A).breaker == "open"
    # A slow probe, so the other calls start while it is out.
    gateway.time_scale = 1.0
    gateway.script(A, latency=0.2, jitter=0.0)
    await anyio.sleep(0.15)
    replies = await d.chat_many(5, model=[A, B])
    assert all(isinstance(r, xroute.ChatCompletion) for r in replies), replies
    assert gateway.stats_for(A).requests == 3  # two before the breaker opened, one probe
    # The probe's call saw A fail and moved on; the others found the probe out and went to B.
    routes = sorted(_route(r) for r in replies)
    assert routes == sorted([[(A, "error"), (B, "ok")]] + [[(B, "ok")]] * 4)
    assert d.in_flight(A, B) == [0, 0]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_route_report_and_costs_are_exact(
    drive: Callable[..., Driver], gateway: MockGateway, stream: bool
) -> None:
    gateway.script(A, failure="server_error")
    prompt_price, completion_price = 3e-6, 7e-6
    gateway.script(
        B,
        reply="Lyon sits where the Rhone meets the Saone.",
        prompt_usd_per_token=prompt_price,
        completion_usd_per_token=completion_price,
    )
    d = drive(max_retries=0, budget=5.0)
    if stream:
        reply = await d.chat(model=[A, B], stream=True, stream_options={"include_usage": True})
        assert d.client.budget.reserved_usd > 0  # held while the stream is open
        text = await d.drain(reply)
        usage = reply.get_final_completion().usage if d.sync else reply.completion_so_far.usage
    else:
        reply = await d.chat(model=[A, B])
        text, usage = reply.choices[0].message.content, reply.usage
    assert text == "Lyon sits where the Rhone meets the Saone."
    served = gateway.stats_for(B)
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        served.prompt_tokens,
        served.completion_tokens,
    )
    expected = usage.prompt_tokens * prompt_price + usage.completion_tokens * completion_price
    route = reply.route
    assert route.cost_usd == expected  # the gateway's own usage.cost, to the bit
    assert route.usage == usage
    assert route.model == B
    assert [(a.model, a.status_code, a.error_type) for a in route.attempts] == [
        (A, 500, "InternalServerError"),
        (B, 200, None),
    ]
    assert route.fallbacks == 1
    assert route.latency_s >= route.attempts[0].elapsed_s + route.attempts[1].elapsed_s
    if stream:
        assert route.ttft_s is not None
        assert 0 <= route.ttft_s <= route.attempts[1].elapsed_s
    else:
        assert route.ttft_s is None
    # Only the answer that was served is spent and counted.
    assert d.client.usage.by_model() == {
        B: ModelUsage(
            requests=1,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=expected,
        )
    }
    assert d.client.budget.spent_usd == expected
    assert d.client.budget.reserved_usd == 0
    assert d.in_flight(A, B) == [0, 0]


async def test_a_cost_the_server_reports_wins_over_catalog_prices(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive()
    catalog = await d.catalog()
    listed = catalog[B].pricing
    # The gateway's prices change after the client cached its catalog.
    gateway.script(B, prompt_usd_per_token=1e-5, completion_usd_per_token=2e-5)
    reply = await d.chat(model=B)
    usage = reply.usage
    assert reply.route.cost_usd == usage.prompt_tokens * 1e-5 + usage.completion_tokens * 2e-5
    assert reply.route.cost_usd != listed.estimate(usage.prompt_tokens, usage.completion_tokens)


async def test_embeddings_are_routed_through_a_chain(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    small, large = "openai/text-embedding-3-small", "openai/text-embedding-3-large"
    gateway.script(small, failure="unavailable")
    d = drive(max_retries=0)
    reply = await d.embed(model=[small, large], input=["a river", "a city"])
    assert len(reply.data) == 2
    route = reply.route
    assert route.model == large
    assert [(a.model, a.status_code) for a in route.attempts] == [(small, 503), (large, 200)]
    assert route.cost_usd == reply.usage.prompt_tokens * 0.00000013
    assert d.client.usage.by_model()[large].requests == 1
    assert d.in_flight(small, large) == [0, 0]


async def test_cheapest_ranks_embedding_models_by_their_input_price(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    small, large = "openai/text-embedding-3-small", "openai/text-embedding-3-large"  # $0.02/$0.13
    gateway.script(small, failure="unavailable")
    d = drive(max_retries=0)
    reply = await d.embed(model=xroute.Cheapest([large, small]), input="a river")
    assert [a.model for a in reply.route.attempts] == [small, large]


async def test_cheapest_tries_candidates_in_price_order(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    # OpenAI's tool-capable chat models by price: gpt-4o-mini, gpt-3.5-turbo, gpt-4o.
    gateway.script("openai/gpt-4o-mini", failure="unavailable")
    gateway.script("openai/gpt-3.5-turbo", failure="rate_limit")
    d = drive(max_retries=0)
    reply = await d.chat(model=xroute.Cheapest(provider="openai", requires="tools"))
    assert [(a.model, a.status_code) for a in reply.route.attempts] == [
        ("openai/gpt-4o-mini", 503),
        ("openai/gpt-3.5-turbo", 429),
        ("openai/gpt-4o", 200),
    ]
    assert reply.route.cost_usd == gateway.stats_for("openai/gpt-4o").cost_usd


async def test_budget_refuses_before_sending_and_counts_what_was_spent(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive(budget=0.01)
    # A plain model id: the budget loads the catalog to price it.
    with pytest.raises(xroute.BudgetExceededError) as info:
        await d.chat(model=A, max_tokens=2000)  # up to 2000 x $10/M = $0.02
    assert info.value.worst_case_usd > 0.01
    assert [r.path for r in gateway.requests] == ["/v1/models"]  # no chat request went out
    reply = await d.chat(model=A, max_tokens=50)
    budget = d.client.budget
    assert budget.spent_usd == reply.route.cost_usd
    assert budget.reserved_usd == 0
    assert budget.remaining_usd == pytest.approx(0.01 - reply.route.cost_usd)
    assert d.in_flight(A) == [0]


async def test_fastest_learns_which_model_answers_first(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    slow, fast = "mistralai/mistral-large", "mistralai/mistral-small"
    gateway.time_scale = 1.0
    gateway.script(slow, latency=0.15, time_to_first_token=0.0, jitter=0.0)
    gateway.script(fast, latency=0.0, time_to_first_token=0.0, jitter=0.0)
    d = drive()
    picks = []
    for _ in range(4):
        # rank_ttl_s=0: re-rank on every call; epsilon=0: no exploration draws.
        reply = await d.chat(model=xroute.Fastest([slow, fast], epsilon=0, rank_ttl_s=0))
        picks.append(reply.route.model)
    # Each unmeasured model is tried once (the optimistic prior), then the faster one wins.
    assert picks == [slow, fast, fast, fast]
    assert d.client.route_state.snapshot(slow).latency_s >= 0.15


async def test_a_long_retry_after_keeps_the_breaker_open_past_its_cooldown(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    settings = xroute.HealthSettings(failure_threshold=1, cooldown_s=0.05)
    state = xroute.InMemoryRouteState(settings)
    gateway.time_scale = 1.0
    gateway.script(A, failure="rate_limit", retry_after=0.8, latency=0.0)
    gateway.script(B, latency=0.0, time_to_first_token=0.0, jitter=0.0)
    d = drive(route_state=state, max_retries=0)
    assert _route(await d.chat(model=[A, B])) == [(A, "error"), (B, "ok")]
    await anyio.sleep(0.1)  # the cooldown is over, the server's Retry-After is not
    assert _route(await d.chat(model=[A, B])) == [(B, "ok")]
    assert gateway.stats_for(A).requests == 1
