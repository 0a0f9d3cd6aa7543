"""Two processes share a breaker through Redis; an outage of Redis breaks no call."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
from typing import Any

import pytest

from xroute import HealthSettings
from xroute.routing._redis import RedisBudget, RedisRouteState
from xroute.testing import MockGateway

DOWN, UP = "openai/gpt-4o", "openai/gpt-4o-mini"
MSGS = [{"role": "user", "content": "hello"}]

# Process A: routes [DOWN, UP] until its breaker on DOWN opens, then pushes and exits.
TRIPPER = textwrap.dedent(
    """
    import sys
    import xroute
    from xroute.routing._redis import RedisRouteState

    redis_url, base_url, namespace, down, up = sys.argv[1:]
    settings = xroute.HealthSettings(failure_threshold=3, cooldown_s=60)
    with RedisRouteState(redis_url, namespace=namespace, settings=settings) as state:
        with xroute.XRoute(
            api_key="test-key", base_url=base_url, route_state=state, max_retries=0
        ) as client:
            while state.snapshot(down).breaker != "open":
                reply = client.chat.completions.create(
                    model=[down, up], messages=[{"role": "user", "content": "hi"}]
                )
                assert reply.route.model == up
    print("tripped")
    """
)


def test_a_breaker_tripped_in_one_process_is_skipped_in_another(redis_url: str) -> None:
    namespace = f"procs-{uuid.uuid4().hex[:8]}"
    gateway = MockGateway(time_scale=0)
    gateway.script(DOWN, failure="unavailable")
    with gateway.serve() as base_url:
        done = subprocess.run(
            [sys.executable, "-c", TRIPPER, redis_url, base_url, namespace, DOWN, UP],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "tripped"
        tripped_with = gateway.stats_for(DOWN).requests
        assert tripped_with == 3

        settings = HealthSettings(failure_threshold=3, cooldown_s=60)
        state = RedisRouteState(
            redis_url, namespace=namespace, settings=settings, refresh_interval=0.05
        )
        try:
            # Nothing learnt in this process: the background pull brings the open breaker.
            deadline = time.monotonic() + 10
            while state.snapshot(DOWN).breaker != "open":
                assert time.monotonic() < deadline, "the shared breaker never arrived"
                time.sleep(0.01)
            assert state.snapshot(DOWN).consecutive_failures == tripped_with  # pushed once
            client = gateway.client(route_state=state, max_retries=0)
            with client:
                for _ in range(3):
                    reply = client.chat.completions.create(model=[DOWN, UP], messages=MSGS)
                    assert reply.route.model == UP
                    assert [a.model for a in reply.route.attempts] == [UP]
            assert gateway.stats_for(DOWN).requests == tripped_with  # never sent to DOWN
        finally:
            state.close()


def test_calls_go_on_through_a_redis_outage(
    own_redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = own_redis_server
    caplog.set_level(logging.INFO, logger="xroute.redis")
    gateway = MockGateway(time_scale=0)
    state = RedisRouteState(server.url, namespace="outage", refresh_interval=0.02)
    budget = RedisBudget(5.0, server.url, namespace="outage", refresh_interval=0.02)
    client = gateway.client(route_state=state, budget=budget, max_retries=0)

    def call() -> None:
        reply = client.chat.completions.create(model=UP, messages=MSGS)
        assert reply.route.model == UP

    def messages(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == level]

    def wait_for(condition: object, what: str) -> None:
        deadline = time.monotonic() + 10
        while not condition():  # type: ignore[operator]
            assert time.monotonic() < deadline, what
            call()
            time.sleep(0.01)

    try:
        for _ in range(3):
            call()
        assert state.refresh() and budget.refresh()
        server.stop()  # Redis dies mid-run
        wait_for(lambda: state.connected is False and budget._link.up is False, "no outage")
        for _ in range(20):  # routing and the budget go on with local state
            call()
        for _ in range(3):  # several failed round trips: still one warning each
            assert not state.refresh()
            assert not budget.refresh()
        warnings = messages(logging.WARNING)
        assert len(warnings) == 2, warnings
        assert any("routing state" in w for w in warnings)
        assert any("budget" in w for w in warnings)
        assert all("unreachable" in w for w in warnings)

        server.start()  # back on the same port
        wait_for(lambda: state.connected and budget._link.up, "no recovery")
        infos = [m for m in messages(logging.INFO) if "reachable again" in m]
        assert len(infos) == 2, infos
        assert state.refresh() and budget.refresh()
        # What happened during the outage reached Redis once it was back, each call once
        # (the restarted server lost the 3 calls pushed before it died).
        fresh = RedisRouteState(server.url, namespace="outage")
        assert fresh.refresh()
        assert client.usage.requests >= 23
        assert fresh.snapshot(UP).samples == client.usage.requests - 3
        fresh.close()
        assert state.snapshot(UP).samples == client.usage.requests - 3
    finally:
        client.close()
        state.close()
        budget.close()


def test_a_forked_worker_shares_as_another_process(redis_url: str) -> None:
    namespace = f"fork-{uuid.uuid4().hex[:8]}"
    state = RedisRouteState(redis_url, namespace=namespace, refresh_interval=0.02)
    budget = RedisBudget(1.0, redis_url, namespace=namespace, refresh_interval=0.02)
    try:
        state.record_success("m", now=time.monotonic(), latency_s=0.1)
        budget.reserve(0.5)  # the parent's hold, in flight across the fork
        assert state.refresh() and budget.refresh()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
            pid = os.fork()
        if pid == 0:  # the child: like a pre-forked web worker
            code = 1
            try:
                state.record_failure("m", now=time.monotonic(), error_kind="server")
                budget.reserve(0.3)
                budget.settle(0.3, 0.25)
                state.close()
                budget.close()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert state.refresh() and budget.refresh()
        health = state.snapshot("m")
        assert health.samples == 2  # the parent's success once, the child's failure
        assert health.consecutive_failures == 1
        assert budget.spent_usd == pytest.approx(0.25)
        assert budget.reserved_usd == pytest.approx(0.5)  # the parent's hold, not doubled
    finally:
        state.close()
        budget.close()
