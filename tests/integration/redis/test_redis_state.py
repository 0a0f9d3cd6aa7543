"""RedisRouteState and RedisBudget against a real redis-server on loopback.

Most tests run without the background thread and sync by hand with `refresh()`, on a fake
clock: what they check then never depends on how fast a loaded machine runs them. The
thread is exercised by the client tests at the end and by test_redis_processes.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

import xroute
from xroute import BudgetExceededError, HealthSettings
from xroute.routing._redis import RedisBudget, RedisRouteState
from xroute.testing import MockGateway

FAST = HealthSettings(failure_threshold=3, cooldown_s=0.3)
MSGS = [{"role": "user", "content": "hello"}]
EPOCH = 1_700_000_000.0  # the fake clock's Unix time at monotonic 0


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class HookedRedis(redis.Redis):
    """A redis-py client whose next pipelines run `before` hooks (each once) just before
    they are sent, and may `lose_replies`: run in Redis, then fail as if the reply was lost."""

    before: list[Callable[[], object]]
    lose_replies: int

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        send = pipe.execute

        def execute(raise_on_error: bool = True) -> Any:
            while self.before:
                self.before.pop(0)()
            replies = send(raise_on_error)
            if self.lose_replies:
                self.lose_replies -= 1
                raise redis.ConnectionError("the connection dropped before the reply")
            return replies

        pipe.execute = execute
        return pipe


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hooked(redis_url: str) -> Iterator[HookedRedis]:
    client = HookedRedis.from_url(redis_url)
    client.before, client.lose_replies = [], 0
    yield client
    client.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def states(redis_url: str, namespace: str) -> Iterator[list[RedisRouteState]]:
    made: list[RedisRouteState] = []
    yield made
    for state in made:
        state.close()


def make(
    made: list[RedisRouteState],
    url: str | redis.Redis,
    namespace: str,
    *,
    clock: FakeClock | None = None,
    by_hand: bool = True,
    **kwargs: object,
) -> RedisRouteState:
    """A state on `clock` (real time if None); `by_hand`: no background thread, the test
    runs every round trip itself with `refresh()`."""
    kwargs.setdefault("settings", FAST)
    kwargs.setdefault("refresh_interval", 30.0)
    if clock is not None:
        kwargs.update(clock=clock, wall=clock.wall)
    state = RedisRouteState(url, namespace=namespace, **kwargs)  # type: ignore[arg-type]
    if by_hand:
        state._link.start = lambda: None  # type: ignore[method-assign]
    made.append(state)
    return state


def fail(state: RedisRouteState, model: str, times: int, now: Callable[[], float]) -> None:
    for _ in range(times):
        assert state.begin(model, now=now()) or True
        state.record_failure(model, now=now(), error_kind="server")
        state.end(model)


def test_a_breaker_tripped_in_one_state_is_open_in_another(
    states: list[RedisRouteState], redis_url: str, namespace: str, clock: FakeClock
) -> None:
    a = make(states, redis_url, namespace, clock=clock)
    b = make(states, redis_url, namespace, clock=clock)
    a.record_success("m", now=clock(), latency_s=0.8, completion_tokens=100)
    fail(a, "m", 3, clock)
    assert a.snapshot("m").breaker == "open"  # locally at once, before any round trip
    assert b.snapshot("m").breaker == "closed"
    assert a.refresh() and b.refresh()
    for state in (a, b):  # the pull brings back a's own updates: still counted once
        seen = state.snapshot("m", now=clock())
        assert seen.breaker == "open"
        assert seen.samples == 4
        assert seen.consecutive_failures == 3
        assert seen.latency_s == pytest.approx(0.8)
        assert seen.error_rate > 0.5
    assert not b.allows("m", now=clock())
    assert not b.begin("m", now=clock())
    b.end("m")
    # Another namespace shares nothing.
    other = make(states, redis_url, namespace + "-other", clock=clock)
    assert other.refresh()
    assert other.snapshot("m").breaker == "closed"


@pytest.mark.parametrize("known", [False, True], ids=["model-new-to-redis", "model-in-redis"])
def test_an_outcome_recorded_during_a_round_trip_counts_once(
    states: list[RedisRouteState],
    hooked: HookedRedis,
    namespace: str,
    clock: FakeClock,
    known: bool,
) -> None:
    # The thread takes the queued batch, then talks to Redis while the process goes on: a
    # failure recorded in between is in the local copy and still queued, not in the pull.
    state = make(states, hooked, namespace, clock=clock)
    if known:
        state.record_success("m", now=clock(), latency_s=0.1)
        assert state.refresh()
    hooked.before.append(lambda: fail(state, "m", 1, clock))
    assert state.refresh()
    assert state.snapshot("m").consecutive_failures == 1
    fail(state, "m", 1, clock)
    assert state.snapshot("m").consecutive_failures == 2
    assert state.refresh()  # pushes both, pulls them back
    assert state.snapshot("m").consecutive_failures == 2
    assert state.snapshot("m").breaker == "closed"  # as InMemoryRouteState: 3 to trip
    fail(state, "m", 1, clock)
    assert state.snapshot("m").breaker == "open"
    assert state.refresh()
    health = state.snapshot("m")
    assert (health.consecutive_failures, health.samples) == (3, 3 + known)


def test_a_push_whose_reply_was_lost_counts_once(
    states: list[RedisRouteState],
    hooked: HookedRedis,
    redis_url: str,
    namespace: str,
    clock: FakeClock,
) -> None:
    state = make(states, hooked, namespace, clock=clock)
    fail(state, "m", 2, clock)
    hooked.lose_replies = 1  # Redis ran the scripts; the process never heard back
    assert not state.refresh()
    assert state.snapshot("m").consecutive_failures == 2
    fail(state, "m", 1, clock)
    assert state.refresh()  # sends all three: the first two again
    assert state.snapshot("m").consecutive_failures == 3
    reader = make(states, redis_url, namespace)
    assert reader.refresh()
    assert (reader.snapshot("m").samples, reader.snapshot("m").consecutive_failures) == (3, 3)


def test_outcomes_of_other_processes_count_once_each(
    states: list[RedisRouteState],
    hooked: HookedRedis,
    redis_url: str,
    namespace: str,
    clock: FakeClock,
) -> None:
    a = make(states, hooked, namespace, clock=clock)
    b = make(states, redis_url, namespace, clock=clock)
    fail(a, "m", 1, clock)
    assert a.refresh() and b.refresh()
    assert b.snapshot("m").consecutive_failures == 1
    # During a's round trip: a fails again (queued), b fails and pushes before a's pull.
    fail(a, "m", 1, clock)  # in a's batch

    def meanwhile() -> None:
        fail(a, "m", 1, clock)
        fail(b, "m", 1, clock)
        assert b.refresh()

    hooked.before.append(meanwhile)
    assert a.refresh()
    assert a.snapshot("m").consecutive_failures == 4  # 3 of its own, 1 of b's
    assert a.snapshot("m").breaker == "open"
    assert a.refresh() and b.refresh()
    for state in (a, b):
        assert (state.snapshot("m").samples, state.snapshot("m").consecutive_failures) == (4, 4)
    # Another process's success counts too: it closes the breaker and resets the count.
    b.record_success("m", now=clock(), latency_s=0.2)
    assert b.refresh() and a.refresh()
    assert a.snapshot("m").breaker == "closed"
    assert a.snapshot("m").consecutive_failures == 0
    fail(a, "m", 2, clock)
    fail(b, "m", 1, clock)
    assert a.snapshot("m").breaker == "closed"  # 2 here, 1 there: neither knows 3 yet
    assert b.refresh() and a.refresh()
    assert a.snapshot("m").breaker == "open"
    assert a.snapshot("m").consecutive_failures == 3


def test_concurrent_writers_lose_no_update(
    states: list[RedisRouteState], redis_url: str, namespace: str
) -> None:
    # Real threads and the background cycle every 10 ms: pushes and pulls interleave freely.
    writers = [
        make(states, redis_url, namespace, by_hand=False, refresh_interval=0.01) for _ in range(4)
    ]
    per_writer = 150
    flushed: list[bool] = []

    def work(state: RedisRouteState) -> None:
        for i in range(per_writer):
            now = time.monotonic()
            if i % 10 == 0:
                state.record_failure("m", now=now, error_kind="rate_limit")
            else:
                state.record_success("m", now=now, latency_s=0.5)
        flushed.append(state.refresh())

    threads = [threading.Thread(target=work, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert flushed == [True] * len(writers)
    reader = make(states, redis_url, namespace)
    assert reader.refresh()
    health = reader.snapshot("m")
    assert health.samples == 4 * per_writer  # a read-modify-write race would lose some
    assert health.latency_s == pytest.approx(0.5)
    for writer in writers:  # and each local copy, pulled after the last push, agrees
        assert writer.refresh()
        assert writer.snapshot("m").samples == 4 * per_writer


def test_the_half_open_probe_is_claimed_by_one_process_only(
    states: list[RedisRouteState],
    redis_url: str,
    namespace: str,
    clock: FakeClock,
    raw: redis.Redis,
) -> None:
    lease_s = 30.0  # long: no claim lapses between two steps of the test, however slow
    a = make(states, redis_url, namespace, clock=clock, probe_lease_s=lease_s)
    b = make(states, redis_url, namespace, clock=clock, probe_lease_s=lease_s)
    probe_key = f"xroute:{{{namespace}}}:probe:m"
    fail(a, "m", 3, clock)
    assert a.refresh() and b.refresh()
    for state in (a, b):  # both route to the model: both want its probe
        assert not state.allows("m", now=clock())
    clock.advance(FAST.cooldown_s + 0.05)
    assert not a.allows("m", now=clock())  # cooldown over, but nobody has claimed the probe
    assert a.refresh()  # a claims the probe (SET NX PX)
    assert 0 < raw.pttl(probe_key) <= lease_s * 1000
    assert b.refresh()  # b finds it taken
    assert not b.allows("m", now=clock())
    assert a.allows("m", now=clock())
    assert a.begin("m", now=clock())  # the one probe
    assert not a.begin("m", now=clock())  # not a second one
    a.end("m")
    assert not b.begin("m", now=clock())
    b.end("m")
    # The probe is abandoned (no outcome): handed back, and claimed again by a, which still
    # wants it; unused, that claim lapses after the lease and b takes it.
    a.end("m")
    assert a.refresh() and b.refresh()
    assert a.allows("m", now=clock())
    assert not b.allows("m", now=clock())
    clock.advance(lease_s)
    assert not a.allows("m", now=clock())  # its lease is over here...
    raw.pexpire(probe_key, 1)  # ...and in Redis (whose clock cannot be faked)
    deadline = time.monotonic() + 10
    while raw.exists(probe_key):
        assert time.monotonic() < deadline, "the probe key never expired"
        time.sleep(0.001)
    assert b.refresh() and a.refresh()
    assert not a.allows("m", now=clock())
    assert b.begin("m", now=clock())
    b.record_success("m", now=clock(), latency_s=0.2)
    b.end("m")
    assert b.refresh() and a.refresh()
    assert a.snapshot("m").breaker == "closed"
    assert raw.get(probe_key) is None  # the success freed the claim
    assert a.begin("m", now=clock())
    a.end("m")


def test_a_failed_probe_reopens_the_breaker_for_longer(
    states: list[RedisRouteState],
    redis_url: str,
    namespace: str,
    clock: FakeClock,
    raw: redis.Redis,
) -> None:
    a = make(states, redis_url, namespace, clock=clock)
    fail(a, "m", 3, clock)
    assert a.refresh()
    clock.advance(FAST.cooldown_s + 0.05)
    assert not a.allows("m", now=clock())  # wants it, has not claimed it yet
    assert a.refresh()
    assert a.begin("m", now=clock())
    failed_at = clock()
    a.record_failure("m", now=failed_at, error_kind="timeout")
    a.end("m")
    assert a.refresh()
    health = a.snapshot("m", now=clock())
    assert health.breaker == "open"
    # Second trip: cooldown_s * multiplier, computed by the Lua script and pulled back.
    second = FAST.cooldown_s * FAST.cooldown_multiplier
    assert health.open_until == pytest.approx(failed_at + second, abs=1e-3)
    assert raw.get(f"xroute:{{{namespace}}}:probe:m") is None  # the claim was released


_EXPIRES_AT_MS = """
local t = redis.call('TIME')
return t[1] * 1000 + math.floor(t[2] / 1000) + redis.call('PTTL', KEYS[1])
"""


def test_keys_are_namespaced_and_expire(
    states: list[RedisRouteState], redis_url: str, namespace: str, raw: redis.Redis
) -> None:
    state = make(states, redis_url, namespace, ttl_s=0.5)
    state.record_success("m", now=time.monotonic(), latency_s=0.1)
    assert state.refresh()
    prefix = f"xroute:{{{namespace}}}:"
    keys = sorted(k.decode() for k in raw.keys(prefix + "*"))
    assert keys[:2] == [prefix + "model:m", prefix + "models"]
    assert len(keys) == 3 and keys[2].startswith(prefix + "pushed:")  # this process's last
    for key in keys:
        assert 0 < raw.pttl(key) <= 500

    def expires_at() -> list[int]:  # absolute (Redis time, ms): no race with the clock
        return [int(raw.eval(_EXPIRES_AT_MS, 1, key)) for key in keys]  # type: ignore[arg-type]

    before = expires_at()
    time.sleep(0.02)  # not a sync: only so the rewrite's expiry is measurably later
    state.record_success("m", now=time.monotonic(), latency_s=0.1)
    assert state.refresh()
    for old, new in zip(before, expires_at(), strict=True):
        assert new >= old + 20  # refreshed by the write
    deadline = time.monotonic() + 10
    while raw.keys(prefix + "*"):  # Redis's own clock: nothing to refresh, so wait
        assert time.monotonic() < deadline, "the keys never expired"
        time.sleep(0.05)


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
    # Fake Unix clocks: the dead process's stays where it died (each renewal it may still
    # push sets the same deadline); the live one's moves on when the test says so.
    died_at = time.time()
    live_now = [died_at]
    dead = RedisBudget(
        1.0, redis_url, namespace=namespace, alive_s=0.3, refresh_interval=60, wall=lambda: died_at
    )
    alive = RedisBudget(1.0, redis_url, namespace=namespace, wall=lambda: live_now[0])
    try:
        dead.reserve(0.8)  # and never settles nor renews its liveness
        with pytest.raises(BudgetExceededError) as info:
            alive.reserve(0.5)
        assert info.value.remaining_usd == pytest.approx(0.2)
        live_now[0] = died_at + 0.29
        with pytest.raises(BudgetExceededError):
            alive.reserve(0.5)  # not dead yet
        live_now[0] = died_at + 0.31
        assert alive.reserve(0.5) == 0.5
    finally:
        alive.close()
        dead._link.close()


def test_clients_route_and_spend_through_redis(redis_url: str, namespace: str) -> None:
    gateway = MockGateway(time_scale=0)
    gateway.script("openai/gpt-4o", failure="unavailable")
    # A cooldown no loaded machine outlasts: the probe must not come due within the test.
    settings = HealthSettings(failure_threshold=3, cooldown_s=60)
    state = RedisRouteState(
        redis_url, namespace=namespace, settings=settings, refresh_interval=0.05
    )
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
        # Pulled back while the background thread ran: every outcome counted once.
        assert state.snapshot("openai/gpt-4o").consecutive_failures == 3
        assert state.snapshot("openai/gpt-4o-mini").samples == 5
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
