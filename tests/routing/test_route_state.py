"""Health state: decaying means, throughput, the circuit breaker, thread safety."""

from __future__ import annotations

import sys
import threading

import pytest

from xroute._exceptions import InvalidArgumentError
from xroute.routing import UNSEEN, HealthSettings, InMemoryRouteState

T0 = 500.0


def fail(state: InMemoryRouteState, model: str, now: float, times: int = 1, **kw: object) -> None:
    for _ in range(times):
        state.record_failure(model, now=now, error_kind="server", **kw)  # type: ignore[arg-type]


def test_unseen_model_has_empty_health_and_is_allowed(state: InMemoryRouteState) -> None:
    assert state.snapshot("x") is UNSEEN
    assert not UNSEEN.seen and UNSEEN.latency_s is None and UNSEEN.breaker == "closed"
    assert state.allows("x", now=T0)


def test_success_feeds_latency_ttft_and_decode_speed(state: InMemoryRouteState) -> None:
    state.record_success("m", now=T0, latency_s=2.5, ttft_s=0.5, completion_tokens=100)
    h = state.snapshot("m")
    assert (h.latency_s, h.ttft_s, h.samples, h.error_rate) == (2.5, 0.5, 1, 0.0)
    # 100 tokens decoded in the 2 s after the first token.
    assert h.tokens_per_s == pytest.approx(50.0)
    state.record_success("n", now=T0, latency_s=2.0, completion_tokens=100)
    assert state.snapshot("n").tokens_per_s == pytest.approx(50.0)  # no ttft: whole latency
    assert state.snapshot("n").ttft_s is None


def test_mean_weighs_recent_samples_more_as_time_passes() -> None:
    state = InMemoryRouteState(HealthSettings(half_life_s=10.0, max_samples=1000))
    state.record_success("m", now=T0, latency_s=1.0)
    state.record_success("m", now=T0, latency_s=3.0)
    assert state.snapshot("m").latency_s == pytest.approx(2.0)  # same time: plain mean
    # One half-life later the old pair weighs 2 * 0.5 = 1, as much as the new sample.
    state.record_success("m", now=T0 + 10.0, latency_s=5.0)
    assert state.snapshot("m").latency_s == pytest.approx(3.5)


def test_max_samples_keeps_the_newest_sample_significant_under_heavy_traffic() -> None:
    state = InMemoryRouteState(HealthSettings(half_life_s=1e9, max_samples=10))
    for _ in range(1_000):
        state.record_success("m", now=T0, latency_s=1.0)
    state.record_success("m", now=T0, latency_s=11.0)
    assert state.snapshot("m").latency_s == pytest.approx(2.0)  # 1 + (11 - 1) / 10


def test_error_rate_tracks_recent_failures(state: InMemoryRouteState) -> None:
    state.record_success("m", now=T0, latency_s=1.0)
    fail(state, "m", T0, times=3)
    h = state.snapshot("m")
    assert h.error_rate == pytest.approx(0.75)
    assert h.consecutive_failures == 3 and h.samples == 4


def test_request_faults_do_not_count_against_the_model(state: InMemoryRouteState) -> None:
    for kind in ("bad_request", "auth", "permission", "unprocessable", "context_length"):
        for _ in range(10):
            state.record_failure("m", now=T0, error_kind=kind)
    h = state.snapshot("m")
    assert h.samples == 0 and h.error_rate == 0.0 and h.breaker == "closed"


def test_breaker_opens_after_consecutive_failures_and_success_resets_the_count() -> None:
    state = InMemoryRouteState(HealthSettings(failure_threshold=3))
    fail(state, "m", T0, times=2)
    state.record_success("m", now=T0, latency_s=1.0)
    fail(state, "m", T0, times=2)
    assert state.allows("m", now=T0)
    fail(state, "m", T0)
    assert not state.allows("m", now=T0)
    h = state.snapshot("m")
    assert h.breaker == "open" and h.open_until == T0 + 10.0


def test_breaker_opens_on_a_high_error_rate_over_enough_samples() -> None:
    settings = HealthSettings(
        failure_threshold=100, error_rate_threshold=0.5, min_samples=10, max_samples=1000
    )
    state = InMemoryRouteState(settings)
    state.record_success("few", now=T0, latency_s=1.0)
    fail(state, "few", T0, times=3)  # 75% errors, but only 4 samples: not enough to judge
    assert state.allows("few", now=T0)
    for _ in range(10):
        state.record_success("m", now=T0, latency_s=1.0)
    fail(state, "m", T0, times=9)  # 9 / 19 < 50%
    assert state.allows("m", now=T0)
    fail(state, "m", T0)  # 10 / 20: the rate, not the streak of 10, trips it
    assert not state.allows("m", now=T0)


def test_full_breaker_cycle_closed_open_half_open_closed() -> None:
    state = InMemoryRouteState(HealthSettings(failure_threshold=2, cooldown_s=10.0))
    fail(state, "m", T0, times=2)
    assert state.snapshot("m", now=T0 + 9.9).breaker == "open"
    assert not state.allows("m", now=T0 + 9.9)
    assert state.snapshot("m", now=T0 + 10).breaker == "half_open"
    assert state.allows("m", now=T0 + 10)
    assert state.begin("m", now=T0 + 10) is True  # the probe
    assert not state.allows("m", now=T0 + 10)  # exactly one probe at a time
    assert state.begin("m", now=T0 + 10) is False
    state.end("m")
    state.record_success("m", now=T0 + 11, latency_s=1.0)
    state.end("m")
    h = state.snapshot("m", now=T0 + 11)
    assert h.breaker == "closed" and h.in_flight == 0 and h.open_until is None
    assert state.allows("m", now=T0 + 11)


def test_failed_probe_reopens_with_a_longer_cooldown_and_success_resets_it() -> None:
    settings = HealthSettings(failure_threshold=1, cooldown_s=10.0, cooldown_multiplier=2.0)
    state = InMemoryRouteState(settings)
    fail(state, "m", T0)
    assert state.snapshot("m").open_until == T0 + 10
    t = T0 + 10
    assert state.begin("m", now=t)
    fail(state, "m", t)
    state.end("m")
    assert state.snapshot("m").open_until == t + 20
    t += 20
    assert state.begin("m", now=t)
    fail(state, "m", t)
    state.end("m")
    assert state.snapshot("m").open_until == t + 40
    t += 40
    assert state.begin("m", now=t)
    state.record_success("m", now=t, latency_s=1.0)
    state.end("m")
    fail(state, "m", t + 1)  # a fresh trip starts from the base cooldown again
    assert state.snapshot("m").open_until == t + 1 + 10


def test_cooldown_is_capped() -> None:
    settings = HealthSettings(
        failure_threshold=1, cooldown_s=10.0, cooldown_multiplier=10.0, max_cooldown_s=60.0
    )
    state = InMemoryRouteState(settings)
    fail(state, "m", T0)
    state.begin("m", now=T0 + 10)
    fail(state, "m", T0 + 10)
    assert state.snapshot("m").open_until == T0 + 10 + 60


def test_retry_after_lengthens_the_cooldown_only_when_longer() -> None:
    state = InMemoryRouteState(HealthSettings(failure_threshold=1, cooldown_s=10.0))
    state.record_failure("a", now=T0, error_kind="rate_limit", retry_after_s=45.0)
    assert state.snapshot("a").open_until == T0 + 45.0
    state.record_failure("b", now=T0, error_kind="rate_limit", retry_after_s=2.0)
    assert state.snapshot("b").open_until == T0 + 10.0
    # A last-resort attempt through the open breaker that is told to wait longer.
    state.record_failure("b", now=T0 + 1, error_kind="rate_limit", retry_after_s=30.0)
    assert state.snapshot("b").open_until == T0 + 31.0
    assert state.snapshot("b").breaker == "open"


def test_a_success_through_an_open_breaker_closes_it(state: InMemoryRouteState) -> None:
    fail(state, "m", T0, times=5)
    assert state.begin("m", now=T0 + 1) is False  # forced: counted, but not admitted
    state.record_success("m", now=T0 + 2, latency_s=1.0)
    state.end("m")
    assert state.allows("m", now=T0 + 2)


def test_an_abandoned_probe_frees_the_slot(state: InMemoryRouteState) -> None:
    fail(state, "m", T0, times=5)
    t = T0 + state.settings.cooldown_s
    assert state.begin("m", now=t)
    assert not state.allows("m", now=t)
    state.end("m")  # cancelled: no outcome recorded
    assert state.allows("m", now=t) and state.begin("m", now=t)


def test_in_flight_counts_begin_and_end(state: InMemoryRouteState) -> None:
    for _ in range(3):
        state.begin("m", now=T0)
    state.end("m")
    assert state.snapshot("m").in_flight == 2
    state.end("m")
    state.end("m")
    state.end("m")  # an extra end never goes negative
    assert state.snapshot("m").in_flight == 0


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(InvalidArgumentError):
        HealthSettings(half_life_s=0)
    with pytest.raises(InvalidArgumentError):
        HealthSettings(failure_threshold=0)


def test_repr_counts_models_and_open_breakers(state: InMemoryRouteState) -> None:
    state.record_success("a", now=T0, latency_s=1.0)
    fail(state, "b", T0, times=5)
    assert repr(state) == "InMemoryRouteState(models=2, open_breakers=1)"
    assert state.models() == ["a", "b"]


def test_threads_hammering_the_state_keep_consistent_counts() -> None:
    # No breaker trips: only the counters' consistency is under test.
    state = InMemoryRouteState(HealthSettings(failure_threshold=10**9, error_rate_threshold=2.0))
    threads, rounds = 8, 2_000
    barrier = threading.Barrier(threads)

    def work(seed: int) -> None:
        barrier.wait()
        for i in range(rounds):
            model = f"m{(seed + i) % 3}"
            state.begin(model, now=T0 + i)
            if i % 4 == 0:
                state.record_failure(model, now=T0 + i, error_kind="timeout")
            else:
                state.record_success(model, now=T0 + i, latency_s=1.0, completion_tokens=10)
            state.end(model)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so an unguarded update would show
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    snapshots = [state.snapshot(f"m{k}") for k in range(3)]
    assert sum(h.samples for h in snapshots) == threads * rounds
    assert all(h.in_flight == 0 for h in snapshots)
    assert all(h.latency_s == pytest.approx(1.0) for h in snapshots)
    assert all(0.0 < h.error_rate < 1.0 for h in snapshots)
