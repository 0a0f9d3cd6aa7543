"""RedisRouteState and RedisBudget against a real redis-server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

import xroute
from xroute import BudgetExceededError, HealthSettings
from xroute.routing._redis import RedisBudget, RedisRouteState
from xroute.testing import MockGateway

FAST = HealthSettings(failure_threshold=3, cooldown_s=0.3)
MSGS = [{"role": "user", "content": "hello"}]


@pytest.fixture
def states(redis_url: str, namespace: str) -> Iterator[list[RedisRouteState]]:
    made: list[RedisRouteState] = []
    yield made
    for state in made:
        state.close()


def make(
    made: list[RedisRouteState], url: str, namespace: str, **kwargs: object
) -> RedisRouteState:
    kwargs.setdefault("settings", FAST)
    kwargs.setdefault("refresh_interval", 30.0)  # tests sync by hand with refresh()
    state = RedisRouteState(url, namespace=namespace, **kwargs)  # type: ignore[arg-type]
    made.append(state)
    return state


def fail(state: RedisRouteState, model: str, times: int) -> None:
    for _ in range(times):
        assert state.begin(model, now=time.monotonic()) or True
        state.record_failure(model, now=time.monotonic(), error_kind="server")
        state.end(model)


def test_a_breaker_tripped_in_one_state_is_open_in_another(
    states: list[RedisRouteState], redis_url: str, namespace: str
) -> None:
    a = make(states, redis_url, namespace)
    b = make(states, redis_url, namespace)
    a.record_success("m", now=time.monotonic(), latency_s=0.8, completion_tokens=100)
    fail(a, "m", 3)
    assert a.snapshot("m").breaker == "open"  # locally at once, before any round trip
    assert b.snapshot("m").breaker == "closed"
    assert a.refresh() and b.refresh()
    seen = b.snapshot("m", now=time.monotonic())
    assert seen.breaker == "open"
    assert seen.samples == 4
    assert seen.consecutive_failures == 3
    assert seen.latency_s == pytest.approx(0.8)
    assert seen.error_rate > 0.5
    assert not b.allows("m", now=time.monotonic())
    assert not b.begin("m", now=time.monotonic())
    b.end("m")
    # Another namespace shares nothing.
    other = make(states, redis_url, namespace + "-other")
    assert other.refresh()
    assert other.snapshot("m").breaker == "closed"


def test_concurrent_writers_lose_no_update(
    states: list[RedisRouteState], redis_url: str, namespace: str
) -> None:
    writers = [make(states, redis_url, namespace, refresh_interval=0.01) for _ in range(4)]
    per_writer = 150

    def work(state: RedisRouteState) -> None:
        for i in range(per_writer):
            now = time.monotonic()
            if i % 10 == 0:
                state.record_failure("m", now=now, error_kind="rate_limit")
            else:
                state.record_success("m", now=now, latency_s=0.5)
        state.refresh()

    threads = [threading.Thread(target=work, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader = make(states, redis_url, namespace)
    assert reader.refresh()
    health = reader.snapshot("m")
    assert health.samples == 4 * per_writer  # a read-modify-write race would lose some
    assert health.latency_s == pytest.approx(0.5)


def test_the_half_open_probe_is_claimed_by_one_process_only(
    states: list[RedisRouteState], redis_url: str, namespace: str
) -> None:
    a = make(states, redis_url, namespace, probe_lease_s=0.3)
    b = make(states, redis_url, namespace, probe_lease_s=0.3)
    fail(a, "m", 3)
    assert a.refresh() and b.refresh()
    for state in (a, b):  # both route to the model: both want its probe
        assert not state.allows("m", now=time.monotonic())
    time.sleep(FAST.cooldown_s + 0.05)
    assert a.refresh()  # a claims the probe (SET NX PX)
    assert b.refresh()  # b finds it taken
    assert not b.allows("m", now=time.monotonic())
    assert a.allows("m", now=time.monotonic())
    assert a.begin("m", now=time.monotonic())  # the one probe
    assert not a.begin("m", now=time.monotonic())  # not a second one
    a.end("m")
    assert not b.begin("m", now=time.monotonic())
    b.end("m")
    # The probe is abandoned (no outcome): handed back, and claimed again by a, which still
    # wants it; unused, that claim lapses after the lease and b takes it.
    a.end("m")
    assert a.refresh() and b.refresh()
    assert a.allows("m", now=time.monotonic())
    assert not b.allows("m", now=time.monotonic())
    time.sleep(0.35)
    assert b.refresh() and a.refresh()
    assert not a.allows("m", now=time.monotonic())
    assert b.begin("m", now=time.monotonic())
    b.record_success("m", now=time.monotonic(), latency_s=0.2)
    b.end("m")
    assert b.refresh() and a.refresh()
    assert a.snapshot("m").breaker == "closed"
    assert a.begin("m", now=time.monotonic())
    a.end("m")


def test_a_failed_probe_reopens_the_breaker_for_longer(
    states: list[RedisRouteState], redis_url: str, namespace: str
) -> None:
    a = make(states, redis_url, namespace)
    fail(a, "m", 3)
    assert a.refresh()
    time.sleep(FAST.cooldown_s + 0.05)
    assert not a.allows("m", now=time.monotonic())  # wants it, has not claimed it yet
    assert a.refresh()
    assert a.begin("m", now=time.monotonic())
    a.record_failure("m", now=time.monotonic(), error_kind="timeout")
    a.end("m")
    assert a.refresh()
    health = a.snapshot("m", now=time.monotonic())
    assert health.breaker == "open"
    assert health.open_until is not None
    # Second trip: cooldown_s * multiplier.
    assert health.open_until - time.monotonic() > FAST.cooldown_s * 1.5
    client = redis.Redis.from_url(redis_url)
    assert client.get(f"xroute:{{{namespace}}}:probe:m") is None  # the claim was released
    client.close()


def test_keys_are_namespaced_and_expire(
    states: list[RedisRouteState], redis_url: str, namespace: str
) -> None:
    state = make(states, redis_url, namespace, ttl_s=0.5)
    state.record_success("m", now=time.monotonic(), latency_s=0.1)
    assert state.refresh()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = sorted(k.decode() for k in client.keys(f"xroute:{{{namespace}}}:*"))
        assert keys == [f"xroute:{{{namespace}}}:model:m", f"xroute:{{{namespace}}}:models"]
        first = client.pttl(keys[0])
        assert 0 < first <= 500
        time.sleep(0.25)
        state.record_success("m", now=time.monotonic(), latency_s=0.1)
        assert state.refresh()
        assert client.pttl(keys[0]) > first - 100  # refreshed by the write
        time.sleep(0.7)
        assert client.keys(f"xroute:{{{namespace}}}:*") == []
    finally:
        client.close()


def test_request_errors_are_not_shared(
    states: list[RedisRouteState], redis_url: str, namespace: str
) -> None:
    state = make(states, redis_url, namespace)
    state.record_failure("m", now=time.monotonic(), error_kind="bad_request")
    assert state.refresh()
    assert state.snapshot("m").samples == 0


def test_budget_reservations_are_atomic_across_processes(redis_url: str, namespace: str) -> None:
    budgets = [RedisBudget(1.0, redis_url, namespace=namespace) for _ in range(4)]
    granted = [0] * len(budgets)

    def work(index: int) -> None:
        for _ in range(10):
            try:
                budgets[index].reserve(0.1)
            except BudgetExceededError:
                continue
            granted[index] += 1

    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(budgets))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # 40 tries of $0.10 against $1.00 in four processes: 10 fit (9 if float rounding
        # puts the tenth a hair over), never more.
        total = sum(granted)
        assert total in (9, 10)
        for budget, count in zip(budgets, granted, strict=True):
            for _ in range(count):
                budget.settle(0.1, 0.05)
            assert budget.refresh()
        fresh = RedisBudget(1.0, redis_url, namespace=namespace)
        assert fresh.refresh()
        assert fresh.spent_usd == pytest.approx(0.05 * total)
        assert fresh.reserved_usd == pytest.approx(0.0, abs=1e-9)
        assert fresh.remaining_usd == pytest.approx(1.0 - 0.05 * total)
        fresh.close()
    finally:
        for budget in budgets:
            budget.close()


def test_budget_holds_of_a_dead_process_are_freed(redis_url: str, namespace: str) -> None:
    dead = RedisBudget(1.0, redis_url, namespace=namespace, alive_s=0.3, refresh_interval=60)
    alive = RedisBudget(1.0, redis_url, namespace=namespace)
    try:
        dead.reserve(0.8)  # and never settles nor renews its liveness
        with pytest.raises(BudgetExceededError) as info:
            alive.reserve(0.5)
        assert info.value.remaining_usd == pytest.approx(0.2)
        time.sleep(0.4)
        assert alive.reserve(0.5) == 0.5
    finally:
        alive.close()
        dead._link.close()


def test_clients_route_and_spend_through_redis(redis_url: str, namespace: str) -> None:
    gateway = MockGateway(time_scale=0)
    gateway.script("openai/gpt-4o", failure="unavailable")
    state = RedisRouteState(redis_url, namespace=namespace, settings=FAST, refresh_interval=0.05)
    budget = RedisBudget(5.0, redis_url, namespace=namespace, refresh_interval=0.05)
    client = gateway.client(route_state=state, budget=budget, max_retries=0)
    try:
        for _ in range(5):
            reply = client.chat.completions.create(
                model=["openai/gpt-4o", "openai/gpt-4o-mini"], messages=MSGS
            )
            assert reply.route.model == "openai/gpt-4o-mini"
        # The breaker opened after 3 failures: the policy now puts the model last.
        assert [a.model for a in reply.route.attempts] == ["openai/gpt-4o-mini"]
        assert gateway.stats_for("openai/gpt-4o").requests == 3
        assert state.refresh() and budget.refresh()
        other = RedisBudget(5.0, redis_url, namespace=namespace)
        assert other.refresh()
        assert other.spent_usd == pytest.approx(client.usage.cost_usd)
        assert other.spent_usd > 0
        other.close()
    finally:
        client.close()
        state.close()
        budget.close()


@pytest.mark.anyio
async def test_async_client_never_waits_on_redis(redis_url: str, namespace: str) -> None:
    gateway = MockGateway(time_scale=0)
    state = RedisRouteState(redis_url, namespace=namespace, refresh_interval=0.05)
    client = gateway.async_client(route_state=state)
    try:
        reply = await client.chat.completions.create(model="openai/gpt-4o", messages=MSGS)
        assert reply.route.model == "openai/gpt-4o"
        assert state.refresh()
        assert state.snapshot("openai/gpt-4o").samples == 1
    finally:
        await client.aclose()
        state.close()


def test_repr_shows_no_password(redis_server: object, namespace: str) -> None:
    url = str(redis_server.url).replace("redis://", "redis://:s3cret-pass@")  # type: ignore[attr-defined]
    state = RedisRouteState(url, namespace=namespace)
    try:
        assert "s3cret" not in repr(state)
        assert str(redis_server.port) in repr(state)  # type: ignore[attr-defined]
    finally:
        state.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(xroute.InvalidArgumentError):
        RedisRouteState("redis://127.0.0.1:1/0", namespace="")
    with pytest.raises(xroute.InvalidArgumentError):
        RedisRouteState(42)  # type: ignore[arg-type]
