"""Routing-outcome scenarios: what the policies achieve against a scripted, failing gateway.

These run on the project's ``MockGateway`` (scripted prices, lognormal latencies, outage
windows, faults), served over loopback by uvicorn in a thread of the client's process.
Requests are sequential, so the client waits on its socket while the server thread works, and
the scripted delays (5-60 ms) dwarf either side's overhead.  Time is compressed: outages last
seconds and, where said, the breaker cools down for a second instead of the default ten.

- ``cost``: `Cheapest` through outage windows of the two cheapest models, against the oracle
  that sends every request to the cheapest model that was up at that moment.
- ``flaky``: success rate of single models failing at random vs a fallback chain of them.
- ``latency``: `Fastest` vs each single model (one of which slows down mid-run), p50/p99.
- ``breaker``: requests (and seconds) wasted on a model that broke, before its breaker opened,
  per fault kind, with and without the breaker.
- ``hedging``: p50/p99 and extra cost of `Hedge` over a chain whose first model has a heavy
  latency tail (a placeholder without numbers where `xroute.Hedge` does not exist).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

_MESSAGES = [{"role": "user", "content": "Route this request to a sensible model please."}]
_REPLY = "A fixed reply, so that every model bills the same number of tokens."
_FAST = {"time_to_first_token": 0.0, "tokens_per_second": 1e6, "reply": _REPLY}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _failed_attempts(attempts: Any, model: str | None = None) -> int:
    return sum(1 for a in attempts if a.outcome == "error" and (model is None or a.model == model))


# --- cost vs the oracle ------------------------------------------------------------------------

_COST_MODELS = {
    # id: (prompt $/Mtok, completion $/Mtok, outage window as a share of the run)
    "bench/cheap-a": (0.10, 0.40, (0.20, 0.50)),
    "bench/cheap-b": (0.15, 0.60, (0.40, 0.65)),
    "bench/mid-c": (1.00, 4.00, None),
    "bench/pricey-d": (5.00, 20.00, None),
}


def _cost_scripts(duration: float) -> dict[str, Any]:
    from xroute.testing import ModelScript, Outage

    scripts = {}
    for model, (prompt, completion, window) in _COST_MODELS.items():
        outages = ()
        if window is not None:
            outages = (Outage(from_second=window[0] * duration, until_second=window[1] * duration),)
        extra: dict[str, Any] = {}
        if model == "bench/mid-c":
            extra = {"failure": "server_error", "failure_rate": 0.05}
        scripts[model] = ModelScript(
            latency=0.005,
            jitter=0.1,
            prompt_usd_per_token=prompt / 1e6,
            completion_usd_per_token=completion / 1e6,
            outages=outages,
            **_FAST,
            **extra,
        )
    return scripts


def _cheapest_up(elapsed: float, duration: float) -> str:
    for model, (_, _, window) in _COST_MODELS.items():  # listed cheapest first
        if window is None or not (window[0] * duration <= elapsed < window[1] * duration):
            return model
    raise AssertionError("the scenario always keeps a model up")


def _cost_run(gateway: Any, label: str, model: Any, duration: float, **client: Any) -> dict:
    import xroute

    gateway.reset()
    start = time.monotonic()
    api = gateway.client(**client)
    spent = oracle = 0.0
    ok = failed = wasted = 0
    latencies: list[float] = []
    served: dict[str, int] = {}
    while (elapsed := time.monotonic() - start) < duration:
        sent = time.perf_counter()
        try:
            reply = api.chat.completions.create(model=model, messages=_MESSAGES, max_tokens=40)
        except xroute.XRouteError as err:
            failed += 1
            wasted += _failed_attempts(getattr(err, "attempts", ())) or 1
            continue
        latencies.append(time.perf_counter() - sent)
        ok += 1
        route = reply.route
        wasted += _failed_attempts(route.attempts)
        served[route.model] = served.get(route.model, 0) + 1
        spent += route.cost_usd or 0.0
        prompt, completion, _ = _COST_MODELS[_cheapest_up(elapsed, duration)]
        usage = reply.usage
        oracle += (usage.prompt_tokens * prompt + usage.completion_tokens * completion) / 1e6
    api.close()
    total = ok + failed
    return {
        "scenario": "cost",
        "variant": label,
        "requests": total,
        "success_rate": ok / total,
        "cost_usd": spent,
        "oracle_usd_same_requests": oracle,
        "cost_vs_oracle": spent / oracle if oracle else None,
        "failed_attempts": wasted,
        "served_by": served,
        "p50_s": _percentile(latencies, 50),
        "p99_s": _percentile(latencies, 99),
    }


def scenario_cost(duration: float) -> list[dict[str, Any]]:
    """Cheapest through two outage windows, vs the oracle and vs no fallback."""
    import xroute
    from xroute.testing import MockGateway

    gateway = MockGateway(seed=8, time_scale=1.0, scripts=_cost_scripts(duration))
    models = list(_COST_MODELS)
    fast_breaker = xroute.HealthSettings(cooldown_s=duration / 10)
    rows = []
    with gateway.serve():
        rows.append(
            _cost_run(
                gateway,
                f"Cheapest, breaker cooldown {duration / 10:g} s (time-compressed)",
                xroute.Cheapest(models),
                duration,
                route_state=xroute.InMemoryRouteState(fast_breaker),
            )
        )
        rows.append(
            _cost_run(
                gateway, "Cheapest, default breaker (10 s)", xroute.Cheapest(models), duration
            )
        )
        rows.append(
            _cost_run(
                gateway, "cheapest model alone, no fallback", models[0], duration, max_retries=0
            )
        )
    return rows


# --- success rate with flaky models ------------------------------------------------------------


def scenario_flaky(requests: int) -> list[dict[str, Any]]:
    """Three models failing 20% of requests at random: each alone, then as a chain."""
    import xroute
    from xroute.testing import MockGateway, ModelScript

    ids = ["bench/flaky-1", "bench/flaky-2", "bench/flaky-3"]
    kinds = ["server_error", "unavailable", "reset"]
    scripts = {
        model: ModelScript(latency=0.003, jitter=0.1, failure=kind, failure_rate=0.2, **_FAST)
        for model, kind in zip(ids, kinds, strict=True)
    }
    gateway = MockGateway(seed=9, time_scale=1.0, scripts=scripts)
    rows = []
    variants: list[tuple[str, Any]] = [
        (f"{m} alone ({k}, 20%)", m) for m, k in zip(ids, kinds, strict=True)
    ]
    variants.append(("Fallback chain of the three", xroute.Fallback(*ids)))
    with gateway.serve():
        for label, model in variants:
            gateway.reset()
            # No same-model retries: the chain's own fallback is what is measured.
            api = gateway.client(max_retries=0)
            ok = 0
            for _ in range(requests):
                try:
                    api.chat.completions.create(model=model, messages=_MESSAGES, max_tokens=20)
                    ok += 1
                except xroute.XRouteError:
                    pass
            api.close()
            rows.append(
                {
                    "scenario": "flaky",
                    "variant": label,
                    "requests": requests,
                    "success_rate": ok / requests,
                }
            )
    return rows


# --- Fastest vs the best single model ----------------------------------------------------------

_LATENCY_MODELS = {
    # id: (median latency s, lognormal sigma, latency after the mid-run change or None)
    "bench/tail": (0.010, 0.9, None),
    "bench/steady": (0.016, 0.08, None),
    "bench/medium": (0.022, 0.3, None),
    "bench/slow": (0.045, 0.2, None),
    "bench/drift": (0.008, 0.15, 0.060),
}


def scenario_latency(requests: int) -> list[dict[str, Any]]:
    """p50/p99 of `Fastest` over five models vs each model alone (same drift mid-run)."""
    import xroute
    from xroute.testing import MockGateway, ModelScript

    scripts = {
        model: ModelScript(latency=median, jitter=sigma, **_FAST)
        for model, (median, sigma, _) in _LATENCY_MODELS.items()
    }
    gateway = MockGateway(seed=10, time_scale=1.0, scripts=scripts)
    models = list(_LATENCY_MODELS)
    variants: list[tuple[str, Any]] = [("Fastest over the five", xroute.Fastest(models))]
    variants += [(f"{m} alone", m) for m in models]
    rows = []
    with gateway.serve():
        for label, model in variants:
            gateway.reset()
            api = gateway.client()
            latencies: list[float] = []
            served: dict[str, int] = {}
            for i in range(requests):
                if i == requests // 2:
                    for changed, (_, _, after) in _LATENCY_MODELS.items():
                        if after is not None:
                            gateway.script(changed, latency=after)
                sent = time.perf_counter()
                reply = api.chat.completions.create(model=model, messages=_MESSAGES, max_tokens=20)
                latencies.append(time.perf_counter() - sent)
                served[reply.route.model] = served.get(reply.route.model, 0) + 1
            api.close()
            rows.append(
                {
                    "scenario": "latency",
                    "variant": label,
                    "requests": requests,
                    "p50_s": _percentile(latencies, 50),
                    "p99_s": _percentile(latencies, 99),
                    "mean_s": statistics.fmean(latencies),
                    "served_by": served,
                }
            )
    return rows


# --- hedging -------------------------------------------------------------------------------------


def scenario_hedging(requests: int) -> list[dict[str, Any]]:
    """p50/p99 and cost of plain calls with and without `Hedge` (issue 7), when the first
    model has a heavy latency tail and the second is steady at about the same median."""
    import xroute

    if not hasattr(xroute, "Hedge"):
        return [
            {
                "scenario": "hedging",
                "variant": "hedged requests (issue 7)",
                "note": "not implemented yet (issue 7): no numbers",
            }
        ]
    from xroute.testing import MockGateway, ModelScript

    tail, steady = "bench/tail", "bench/steady"
    price = {"prompt_usd_per_token": 1e-6, "completion_usd_per_token": 4e-6}
    scripts = {
        tail: ModelScript(latency=0.010, jitter=1.0, **price, **_FAST),
        steady: ModelScript(latency=0.012, jitter=0.1, **price, **_FAST),
    }
    gateway = MockGateway(seed=12, time_scale=1.0, scripts=scripts)
    chain = xroute.Fallback(tail, steady)
    variants: list[tuple[str, Any]] = [
        ("Fallback(tail, steady), no hedging", chain),
        ("Hedge(chain, after='p90')", xroute.Hedge(chain, after="p90")),
        ("Hedge(chain, after=0.02 s)", xroute.Hedge(chain, after=0.02)),
    ]
    rows = []
    with gateway.serve():
        for label, policy in variants:
            gateway.reset()
            api = gateway.client()
            # Cached catalog: cancelled attempts' prompts are priced from it (without one a
            # plain-id chain has no prices, and they would count as $0).
            api.models.list()
            latencies: list[float] = []
            cost = 0.0
            hedged = 0
            served: dict[str, int] = {}
            for _ in range(requests):
                sent = time.perf_counter()
                reply = api.chat.completions.create(model=policy, messages=_MESSAGES, max_tokens=20)
                latencies.append(time.perf_counter() - sent)
                cost += reply.route.cost_usd or 0.0
                hedged += any(a.outcome == "cancelled" for a in reply.route.attempts)
                served[reply.route.model] = served.get(reply.route.model, 0) + 1
            api.close()
            rows.append(
                {
                    "scenario": "hedging",
                    "variant": label,
                    "requests": requests,
                    "p50_s": _percentile(latencies, 50),
                    "p99_s": _percentile(latencies, 99),
                    "mean_s": statistics.fmean(latencies),
                    "cost_usd": cost,
                    "hedged_share": hedged / requests,
                    "served_by": served,
                }
            )
    base = rows[0]["cost_usd"]
    for row in rows:
        row["extra_cost"] = row["cost_usd"] / base - 1.0 if base else None
    return rows


# --- requests wasted before the breaker opened ------------------------------------------------


def scenario_breaker(before: int, after: int) -> list[dict[str, Any]]:
    """A primary breaks (503 / reset / hang) mid-run behind `Fallback(primary, backup)`."""
    import xroute
    from xroute.testing import MockGateway, ModelScript

    primary, backup = "bench/primary", "bench/backup"
    scripts = {
        m: ModelScript(latency=0.003, jitter=0.1, hang_seconds=30.0, **_FAST)
        for m in (primary, backup)
    }
    gateway = MockGateway(seed=11, time_scale=1.0, scripts=scripts)
    no_breaker = xroute.HealthSettings(failure_threshold=10**9, error_rate_threshold=2.0)
    rows = []
    with gateway.serve():
        for kind in ("unavailable", "reset", "hang"):
            for breaker in (True, False):
                gateway.reset()
                state = xroute.InMemoryRouteState(None if breaker else no_breaker)
                # A 0.1 s read timeout for the hang case: each hung attempt costs that much.
                api = gateway.client(route_state=state, timeout=0.1 if kind == "hang" else 30)
                policy = xroute.Fallback(primary, backup)
                for _ in range(before):
                    api.chat.completions.create(model=policy, messages=_MESSAGES, max_tokens=20)
                gateway.script(primary, failure=kind)
                wasted = wasted_before_open = 0
                wasted_seconds = 0.0
                opened_at: int | None = None  # first request that no longer tried primary
                ok = 0
                for i in range(after):
                    try:
                        reply = api.chat.completions.create(
                            model=policy, messages=_MESSAGES, max_tokens=20
                        )
                    except xroute.XRouteError:
                        continue
                    ok += 1
                    tried = [a for a in reply.route.attempts if a.model == primary]
                    if not tried and opened_at is None:
                        opened_at = i
                    for attempt in tried:
                        if attempt.outcome == "error":
                            wasted += 1
                            wasted_seconds += attempt.elapsed_s
                            if opened_at is None:
                                wasted_before_open += 1
                api.close()
                guard = "breaker on (defaults)" if breaker else "no breaker"
                rows.append(
                    {
                        "scenario": "breaker",
                        "variant": f"{kind}, {guard}",
                        "requests": after,
                        "success_rate": ok / after,
                        "wasted_before_open": wasted_before_open,
                        "wasted_attempts": wasted,
                        "wasted_seconds": wasted_seconds,
                        "breaker_opened_after_request": opened_at,
                    }
                )
    return rows


def run_scenarios(quick: bool) -> dict[str, Any]:
    """Every scenario, sized for the mode; returns rows per scenario."""
    started = time.perf_counter()
    result = {
        "cost": scenario_cost(duration=1.0 if quick else 8.0),
        "flaky": scenario_flaky(requests=40 if quick else 400),
        "latency": scenario_latency(requests=24 if quick else 300),
        "breaker": scenario_breaker(before=3 if quick else 20, after=12 if quick else 60),
        "hedging": scenario_hedging(requests=40 if quick else 300),
    }
    result["seconds"] = time.perf_counter() - started
    return result
