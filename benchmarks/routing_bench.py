"""Routing decisions and catalog queries over synthetic catalogs: figures (f) and part of (h).

No I/O: a policy's ``candidates(...)`` is timed directly, the way the attempt plan calls it
once per request.  Three costs are reported, because the policies cache:

- ``warm``: the steady state, what nearly every call pays (pools and price order cached; for
  ``Fastest``/``Balanced`` the health ranking reused within ``rank_ttl_s``, 1 s);
- ``rerank``: a learning policy whose ranking has expired (``now`` moved past ``rank_ttl_s``):
  paid at most once per second per (pool, state), by one call;
- ``cold``: the first call of a new policy object on a catalog (builds its pools) — paid on
  *every* call by code that writes ``model=xroute.Cheapest()`` inline.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from canned_server import model_entry

_PROVIDERS = (
    "openai",
    "anthropic",
    "google",
    "meta-llama",
    "mistralai",
    "qwen",
    "deepseek",
    "cohere",
    "x-ai",
    "amazon",
    "microsoft",
    "nvidia",
    "perplexity",
    "ai21",
    "inflection",
    "nousresearch",
    "01-ai",
    "databricks",
    "together",
    "fireworks",
)
_PRICES_PER_MTOK = (0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0, 15.0)
_WINDOWS = (8_192, 32_768, 128_000, 200_000, 1_000_000)


def synthetic_models(n: int, seed: int = 7) -> list[Any]:
    """``n`` normalised models with varied providers, prices, windows and capabilities."""
    from xroute import Model, Pricing

    rng = random.Random(seed)
    models = []
    for i in range(n):
        provider = _PROVIDERS[i % len(_PROVIDERS)]
        prompt = rng.choice(_PRICES_PER_MTOK) * rng.uniform(0.8, 1.2) / 1e6
        params = {"max_tokens", "temperature", "stop"}
        if rng.random() < 0.7:
            params |= {"tools", "tool_choice"}
        if rng.random() < 0.5:
            params |= {"response_format"}
        models.append(
            Model(
                id=f"{provider}/model-{i}",
                provider=provider,
                context_length=rng.choice(_WINDOWS),
                max_output_tokens=16_384,
                pricing=Pricing(prompt, prompt * rng.choice((2, 4, 5))),
                input_modalities=("text", "image") if rng.random() < 0.4 else ("text",),
                output_modalities=("text",),
                supported_parameters=frozenset(params),
            )
        )
    return models


def synthetic_catalog(n: int) -> Any:
    """A `ModelCatalog` of ``n`` synthetic models."""
    from xroute import ModelCatalog

    return ModelCatalog.from_models(synthetic_models(n))


def _state_with_history(catalog: Any, share: float = 0.05) -> Any:
    """A route state that has seen ``share`` of the models (latencies, a few failures)."""
    from xroute import InMemoryRouteState

    state = InMemoryRouteState()
    rng = random.Random(3)
    ids = [m.id for m in catalog]
    for model in rng.sample(ids, max(1, int(len(ids) * share))):
        for k in range(5):
            state.begin(model, now=float(k))
            if rng.random() < 0.1:
                state.record_failure(model, now=float(k), error_kind="server")
            else:
                latency = rng.uniform(0.2, 3.0)
                state.record_success(model, now=float(k), latency_s=latency, completion_tokens=50)
            state.end(model)
    return state


def _policies(catalog: Any) -> dict[str, Callable[[], Any]]:
    import xroute

    ids = [m.id for m in catalog]
    return {
        "Cheapest()": lambda: xroute.Cheapest(),
        "Cheapest(requires=tools, min_context=32k)": lambda: xroute.Cheapest(
            requires=("tools",), min_context=32_000
        ),
        "Fastest()": lambda: xroute.Fastest(),
        "Balanced()": lambda: xroute.Balanced(),
        "Fallback(3 ids)": lambda: xroute.Fallback(ids[0], ids[len(ids) // 2], ids[-1]),
    }


def _per_call(policy: Any, catalog: Any, state: Any, calls: int, step: float) -> float:
    rng = random.Random(1)
    candidates = policy.candidates
    now = 100.0
    start = time.perf_counter()
    for _ in range(calls):
        candidates(catalog, state, now=now, rng=rng, prompt_tokens=120, max_tokens=400)
        now += step
    return (time.perf_counter() - start) / calls


def decision_figures(sizes: list[int], calls: int, reps: int) -> dict[str, Any]:
    """Per policy and catalog size: warm, rerank and cold decision times (seconds)."""
    out: dict[str, Any] = {"decisions": [], "queries": []}
    for size in sizes:
        catalog = synthetic_catalog(size)
        state = _state_with_history(catalog)
        for name, make in _policies(catalog).items():
            learning = name.startswith(("Fastest", "Balanced"))
            warm, rerank, cold = [], [], []
            for _ in range(reps):
                fresh = make()
                start = time.perf_counter()
                fresh.candidates(
                    catalog,
                    state,
                    now=100.0,
                    rng=random.Random(1),
                    prompt_tokens=120,
                    max_tokens=400,
                )
                cold.append(time.perf_counter() - start)
                warm.append(_per_call(fresh, catalog, state, calls, step=1e-6))
                if learning:
                    rerank.append(_per_call(fresh, catalog, state, max(5, calls // 20), step=2.0))
            row: dict[str, Any] = {"policy": name, "models": size, "warm": warm, "cold": cold}
            if learning:
                row["rerank"] = rerank
            out["decisions"].append(row)
    # Issue 5: filtering/sorting a 5,000-model catalog "well under a millisecond".
    queries: dict[str, Callable[[Any], object]] = {
        "filter(provider, min_context, supports=tools)": lambda c: c.filter(
            provider="openai", min_context=32_000, supports="tools"
        ),
        "sort_by('price')": lambda c: c.sort_by("price"),
        "cheapest(supports=tools)": lambda c: c.cheapest(supports="tools"),
    }
    for name, query in queries.items():
        cold, warm = [], []
        for _ in range(reps):
            catalog = synthetic_catalog(5_000)
            start = time.perf_counter()
            query(catalog)
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(50):
                query(catalog)
            warm.append((time.perf_counter() - start) / 50)
        out["queries"].append({"query": name, "models": 5_000, "cold": cold, "warm": warm})
    return out


def parse_scaling(sizes: list[int], reps: int) -> list[dict[str, Any]]:
    """`ModelCatalog.from_response` + normalising every entry, per catalog size."""
    from xroute import ModelCatalog

    rows = []
    for size in sizes:
        payload = {"object": "list", "data": [model_entry(i) for i in range(size)]}
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            catalog = ModelCatalog.from_response(payload)
            for model in catalog:
                assert model.pricing is not None
            times.append(time.perf_counter() - start)
        rows.append({"models": size, "seconds": times, "median": statistics.median(times)})
    return rows


if __name__ == "__main__":  # a quick look: python benchmarks/routing_bench.py
    result = decision_figures([1_000], calls=500, reps=3)
    for row in result["decisions"]:
        print(row["policy"], f"{statistics.median(row['warm']) * 1e6:.1f} us warm", file=sys.stderr)
