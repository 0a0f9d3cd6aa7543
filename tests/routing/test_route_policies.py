"""Policies: resolving `model=`, ordering, constraints, the context guard, breakers, learning."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from xroute._exceptions import CatalogError, InvalidArgumentError, UnknownModelError
from xroute.catalog import Model, ModelCatalog
from xroute.routing import (
    Balanced,
    Cheapest,
    FailoverRules,
    Fallback,
    Fastest,
    HealthSettings,
    InMemoryRouteState,
    Policy,
    resolve_policy,
)

NOW = 1_000.0
MakeModel = Callable[..., Model]


def pick(
    policy: Policy,
    catalog: ModelCatalog | None,
    state: InMemoryRouteState,
    *,
    now: float = NOW,
    rng: random.Random | None = None,
    prompt_tokens: int = 100,
    max_tokens: int | None = 100,
    needs: frozenset[str] = frozenset(),
    stream: bool = False,
) -> list[str]:
    return policy.candidates(
        catalog,
        state,
        now=now,
        rng=rng or random.Random(0),
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        needs=needs,
        stream=stream,
    )


def trip(state: InMemoryRouteState, model: str, now: float = NOW) -> None:
    for _ in range(state.settings.failure_threshold):
        state.record_failure(model, now=now, error_kind="server")
    assert not state.allows(model, now=now)


# ---------------------------------------------------------------------- resolve_policy


def test_resolve_policy_turns_ids_and_lists_into_fallback_and_keeps_policies() -> None:
    single = resolve_policy("openai/gpt-4o")
    assert isinstance(single, Fallback) and single.models == ("openai/gpt-4o",)
    chain = resolve_policy(["a", "b", "a"])
    assert isinstance(chain, Fallback) and chain.models == ("a", "b")
    assert resolve_policy(("x", "y")).models == ("x", "y")  # type: ignore[attr-defined]
    cheapest = Cheapest()
    assert resolve_policy(cheapest) is cheapest
    assert resolve_policy(None, default=cheapest) is cheapest
    assert resolve_policy(None, default="m").models == ("m",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "shown"),
    [(42, "int"), ([], "an empty list"), (["a", 1], "list"), ({"a"}, "set")],
)
def test_resolve_policy_rejects_anything_else_naming_the_argument(
    value: object, shown: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"model must be .*got {shown}"):
        resolve_policy(value)


def test_resolve_policy_without_model_or_default_says_how_to_fix() -> None:
    with pytest.raises(InvalidArgumentError, match="model is required"):
        resolve_policy(None)
    with pytest.raises(InvalidArgumentError, match="must not be empty"):
        resolve_policy("")


def test_policy_reprs_show_their_arguments() -> None:
    assert repr(Fallback("a", "b")) == "Fallback('a', 'b')"
    assert repr(Cheapest()) == "Cheapest()"
    assert repr(Cheapest(["a"], provider="openai", requires="tools")) == (
        "Cheapest(['a'], provider='openai', requires='tools')"
    )
    assert (
        repr(Balanced(price_weight=0.8, epsilon=0.0)) == "Balanced(price_weight=0.8, epsilon=0.0)"
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: Fallback(),
        lambda: Fallback("a", ""),
        lambda: Cheapest([]),
        lambda: Cheapest("a", min_context=-1),
        lambda: Cheapest(max_usd_per_mtok=-1),
        lambda: Cheapest(max_models=0),
        lambda: Fastest(epsilon=1.5),
        lambda: Balanced(price_weight=2),
        lambda: Cheapest(provider=[1]),  # type: ignore[list-item]
    ],
)
def test_bad_policy_arguments_raise_invalid_argument(build: object) -> None:
    with pytest.raises(InvalidArgumentError):
        build()  # type: ignore[operator]


# ---------------------------------------------------------------------- Fallback


def test_fallback_keeps_order_and_needs_no_catalog(state: InMemoryRouteState) -> None:
    assert pick(Fallback("b", "a", "c"), None, state) == ["b", "a", "c"]


def test_fallback_moves_open_breakers_to_the_end(state: InMemoryRouteState) -> None:
    trip(state, "a")
    assert pick(Fallback("a", "b", "c"), None, state) == ["b", "c", "a"]
    # Every model open: still something to try, in the given order.
    trip(state, "b")
    trip(state, "c")
    assert pick(Fallback("a", "b", "c"), None, state) == ["a", "b", "c"]


def test_fallback_skips_models_whose_known_window_is_too_small(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    policy = Fallback("meta/llama-small", "not-in-catalog", "openai/gpt-mini")
    assert pick(policy, catalog, state, prompt_tokens=7_000, max_tokens=500) == [
        "meta/llama-small",
        "not-in-catalog",
        "openai/gpt-mini",
    ]
    assert pick(policy, catalog, state, prompt_tokens=7_000, max_tokens=2_000) == [
        "not-in-catalog",  # unknown window: the server decides
        "openai/gpt-mini",
    ]


def test_fallback_when_nothing_fits_keeps_only_the_largest_window(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    policy = Fallback("meta/llama-small", "anthropic/claude", "openai/gpt-mini")
    assert pick(policy, catalog, state, prompt_tokens=500_000) == ["anthropic/claude"]


# ---------------------------------------------------------------------- Cheapest


def test_cheapest_orders_by_the_calls_price_mix(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    policy = Cheapest()
    # Embeddings-like (no completion): prompt price alone.
    assert pick(policy, catalog, state, prompt_tokens=1_000, max_tokens=0) == [
        "meta/llama-small",
        "openai/gpt-mini",
        "google/gemini-flash",
        "anthropic/claude",
        "openai/gpt-big",
    ]
    # A short prompt and a long answer: completion price rules; gemini (0.25) beats mini (0.6).
    assert pick(policy, catalog, state, prompt_tokens=10, max_tokens=4_000)[:3] == [
        "meta/llama-small",
        "google/gemini-flash",
        "openai/gpt-mini",
    ]


def test_cheapest_without_max_tokens_assumes_a_typical_answer(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    # 100 prompt tokens + ~400 expected: completion-heavy, so gemini-flash beats gpt-mini.
    order = pick(Cheapest(), catalog, state, prompt_tokens=100, max_tokens=None)
    assert order.index("google/gemini-flash") < order.index("openai/gpt-mini")


def test_cheapest_caps_the_list_at_max_models(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    assert len(pick(Cheapest(max_models=2), catalog, state)) == 2
    assert len(pick(Cheapest(), catalog, state)) == 5


def test_cheapest_puts_unpriced_models_last(model: MakeModel, state: InMemoryRouteState) -> None:
    catalog = ModelCatalog(
        [
            model("free", prompt=0, completion=0),
            model("unknown", prompt=None, completion=None),
            model("paid", prompt=1, completion=1),
        ]
    )
    assert pick(Cheapest(), catalog, state) == ["free", "paid", "unknown"]


def test_cheapest_applies_each_constraint(catalog: ModelCatalog, state: InMemoryRouteState) -> None:
    assert pick(Cheapest(provider="OpenAI"), catalog, state) == [
        "openai/gpt-mini",
        "openai/gpt-big",
    ]
    assert pick(Cheapest(provider=("meta", "anthropic")), catalog, state) == [
        "meta/llama-small",
        "anthropic/claude",
    ]
    assert pick(Cheapest(min_context=150_000), catalog, state) == [
        "google/gemini-flash",
        "anthropic/claude",
    ]
    assert "meta/llama-small" not in pick(Cheapest(requires=("tools",)), catalog, state)
    assert pick(Cheapest(requires=("vision", "tools")), catalog, state) == [
        "openai/gpt-mini",
        "anthropic/claude",
        "openai/gpt-big",
    ]
    # Both prices must be under the cap: gpt-mini's completion (0.6) is not.
    assert pick(Cheapest(max_usd_per_mtok=0.5), catalog, state) == [
        "meta/llama-small",
        "google/gemini-flash",
    ]
    assert pick(Cheapest(["openai/gpt-big", "anthropic/claude"]), catalog, state) == [
        "anthropic/claude",
        "openai/gpt-big",
    ]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (Cheapest(provider="mistral"), r"provider='mistral'.*providers among them: anthropic"),
        (Cheapest(min_context=2_000_000), r"min_context=2000000.*largest window is 1000000"),
        (Cheapest(requires=("tools", "nope")), r"requires='nope'"),
        (Cheapest(max_usd_per_mtok=0.01), r"max_usd_per_mtok=0.01.*cheapest is meta/llama-small"),
        (Fastest(provider="meta", requires="tools"), r"requires='tools' \(1 candidate"),
    ],
)
def test_a_constraint_that_empties_the_set_is_named(
    catalog: ModelCatalog, state: InMemoryRouteState, policy: Policy, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        pick(policy, catalog, state)


def test_unknown_model_in_models_suggests_the_closest(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    with pytest.raises(UnknownModelError, match="did you mean 'openai/gpt-mini'"):
        pick(Cheapest(["openai/gpt-mimi"]), catalog, state)


def test_catalog_policies_need_a_catalog(state: InMemoryRouteState) -> None:
    assert Cheapest.requires_catalog and not Fallback.requires_catalog
    with pytest.raises(CatalogError, match="none is loaded"):
        pick(Cheapest(), None, state)
    with pytest.raises(CatalogError, match="catalog is empty"):
        pick(Cheapest(), ModelCatalog([]), state)


def test_request_needs_filter_candidates_and_name_the_missing_capability(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    policy = Cheapest()
    assert pick(policy, catalog, state, needs=frozenset({"vision"})) == [
        "openai/gpt-mini",
        "anthropic/claude",
        "openai/gpt-big",
    ]
    # The unfiltered pool is unaffected by the cached filtered one.
    assert len(pick(policy, catalog, state)) == 5
    with pytest.raises(InvalidArgumentError, match="supports 'vision', which this request"):
        pick(Cheapest(provider="google"), catalog, state, needs=frozenset({"vision"}))


def test_request_needs_keep_models_whose_capabilities_are_unknown(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog(
        [
            model("bare", params=(), inputs=()),  # a /models entry that says nothing
            model("json-only", params=("response_format",)),
            model("tools", params=("tools",)),
        ]
    )
    assert pick(Cheapest(), catalog, state, needs=frozenset({"tools"})) == ["bare", "tools"]
    assert pick(Cheapest(), catalog, state, needs=frozenset({"vision"})) == ["bare"]
    # An explicit constraint asks for known support.
    assert pick(Cheapest(requires="tools"), catalog, state) == ["tools"]


def test_context_guard_skips_small_windows_and_keeps_the_largest_if_none_fit(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    order = pick(Cheapest(), catalog, state, prompt_tokens=7_000, max_tokens=1_500)
    assert "meta/llama-small" not in order and len(order) == 4
    assert pick(Cheapest(), catalog, state, prompt_tokens=7_000, max_tokens=1_000)[0] == (
        "meta/llama-small"
    )
    # Without max_tokens, the prompt alone (plus one token) must fit.
    assert pick(Cheapest(), catalog, state, prompt_tokens=7_999, max_tokens=None)[0] == (
        "meta/llama-small"
    )
    assert "meta/llama-small" not in pick(
        Cheapest(), catalog, state, prompt_tokens=8_000, max_tokens=None
    )
    assert pick(Cheapest(), catalog, state, prompt_tokens=2_000_000) == ["google/gemini-flash"]


def test_open_breakers_go_last_and_fill_only_free_slots(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    trip(state, "meta/llama-small")
    order = pick(Cheapest(), catalog, state, max_tokens=0)
    assert order[0] == "openai/gpt-mini" and order[-1] == "meta/llama-small"
    assert "meta/llama-small" not in pick(Cheapest(max_models=2), catalog, state, max_tokens=0)
    # After the cooldown it is admitted again (for its half-open probe), at its price rank.
    later = NOW + state.settings.cooldown_s
    assert pick(Cheapest(), catalog, state, now=later, max_tokens=0)[0] == "meta/llama-small"


def test_all_breakers_open_still_returns_candidates(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    for m in catalog:
        trip(state, m.id)
    assert pick(Cheapest(max_models=3), catalog, state, max_tokens=0) == [
        "meta/llama-small",
        "openai/gpt-mini",
        "google/gemini-flash",
    ]


def test_a_new_catalog_object_is_noticed(model: MakeModel, state: InMemoryRouteState) -> None:
    policy = Cheapest()
    first = ModelCatalog([model("a", prompt=1), model("b", prompt=2)])
    assert pick(policy, first, state, max_tokens=0) == ["a", "b"]
    second = ModelCatalog([model("a", prompt=3), model("b", prompt=2)])
    assert pick(policy, second, state, max_tokens=0) == ["b", "a"]
    assert pick(policy, first, state, max_tokens=0) == ["a", "b"]


# ---------------------------------------------------------------------- Fastest


def test_fastest_tries_unseen_first_then_by_latency_and_failing_last(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog([model(m) for m in ("slow", "fast", "new", "broken", "mid")])
    state.record_success("slow", now=NOW, latency_s=3.0)
    state.record_success("fast", now=NOW, latency_s=0.5)
    state.record_success("mid", now=NOW, latency_s=1.0)
    state.record_failure("broken", now=NOW, error_kind="timeout")
    assert pick(Fastest(epsilon=0), catalog, state) == ["new", "fast", "mid", "slow", "broken"]


def test_fastest_ranks_streams_by_time_to_first_token(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog([model("a"), model("b")])
    state.record_success("a", now=NOW, latency_s=2.0, ttft_s=0.2)
    state.record_success("b", now=NOW, latency_s=1.0, ttft_s=0.8)
    assert pick(Fastest(epsilon=0), catalog, state, stream=False) == ["b", "a"]
    assert pick(Fastest(epsilon=0), catalog, state, stream=True) == ["a", "b"]


def test_fastest_penalises_models_that_fail_often(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog([model("flaky"), model("steady")])
    for i in range(4):
        t = NOW + i
        state.record_success("flaky", now=t, latency_s=0.5)
        state.record_failure("flaky", now=t, error_kind="server")
        state.record_success("steady", now=t, latency_s=0.8)
    assert pick(Fastest(epsilon=0), catalog, state, now=NOW + 5)[0] == "steady"


def test_fastest_explores_about_epsilon_of_the_time(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog([model(f"m{i}") for i in range(5)])
    for i in range(5):
        state.record_success(f"m{i}", now=NOW, latency_s=1.0 + i)
    policy = Fastest(epsilon=0.05)
    rng = random.Random(7)
    leaders = [pick(policy, catalog, state, rng=rng)[0] for _ in range(4_000)]
    explored = sum(1 for m in leaders if m != "m0") / len(leaders)
    assert 0.035 < explored < 0.065
    # Exploration leads with a real alternative, from the whole pool.
    assert {m for m in leaders if m != "m0"} == {"m1", "m2", "m3", "m4"}
    assert all(len(set(pick(policy, catalog, state, rng=rng))) == 5 for _ in range(200))


def test_exploration_is_reproducible_with_a_seeded_rng(
    catalog: ModelCatalog, state: InMemoryRouteState
) -> None:
    policy = Fastest(epsilon=0.3)
    first = [pick(policy, catalog, state, rng=r) for r in [random.Random(5)] * 50]
    second = [pick(policy, catalog, state, rng=r) for r in [random.Random(5)] * 50]
    assert first == second


def test_exploration_never_picks_an_open_breaker(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog([model("a"), model("b")])
    state.record_success("a", now=NOW, latency_s=0.1)
    trip(state, "b")
    rng = random.Random(3)
    assert all(pick(Fastest(epsilon=1.0), catalog, state, rng=rng) == ["a", "b"] for _ in range(50))


def test_a_recovered_model_is_noticed_as_old_samples_fade(
    model: MakeModel,
) -> None:
    state = InMemoryRouteState(HealthSettings(half_life_s=30.0))
    catalog = ModelCatalog([model("a"), model("b")])
    policy = Fastest(epsilon=0)
    t = NOW
    for _ in range(20):  # "a" was slow for a long while
        state.record_success("a", now=t, latency_s=10.0)
        state.record_success("b", now=t, latency_s=2.0)
        t += 1
    assert pick(policy, catalog, state, now=t) == ["b", "a"]
    # Ten minutes later one exploratory call finds "a" fast again: that one sample dominates.
    t += 600
    state.record_success("a", now=t, latency_s=1.0)
    assert state.snapshot("a").latency_s == pytest.approx(1.0, abs=0.01)
    assert pick(policy, catalog, state, now=t + 1) == ["a", "b"]


def test_rankings_are_reused_for_rank_ttl_s_but_breakers_are_live(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog([model("a"), model("b")])
    state.record_success("a", now=NOW, latency_s=1.0)
    state.record_success("b", now=NOW, latency_s=2.0)
    policy = Fastest(epsilon=0, rank_ttl_s=1.0)
    assert pick(policy, catalog, state) == ["a", "b"]
    for _ in range(5):
        state.record_success("a", now=NOW, latency_s=9.0)
    assert pick(policy, catalog, state, now=NOW + 0.5) == ["a", "b"]  # cached ranking
    assert pick(policy, catalog, state, now=NOW + 1.0) == ["b", "a"]  # re-ranked
    trip(state, "b", now=NOW + 1.2)
    assert pick(policy, catalog, state, now=NOW + 1.3) == ["a", "b"]  # breaker checked live
    # A ranking made for another state is not reused.
    other = InMemoryRouteState()
    other.record_success("b", now=NOW, latency_s=0.1)
    other.record_success("a", now=NOW, latency_s=5.0)
    assert pick(policy, catalog, other, now=NOW + 1.3) == ["b", "a"]


# ---------------------------------------------------------------------- Balanced


def _balanced_catalog(model: MakeModel, state: InMemoryRouteState) -> ModelCatalog:
    # "cheap" is 4x cheaper and 2x slower than "quick"; "pricey" is both worse than "quick".
    catalog = ModelCatalog(
        [
            model("cheap", prompt=1, completion=1),
            model("quick", prompt=4, completion=4),
            model("pricey", prompt=8, completion=8),
        ]
    )
    state.record_success("cheap", now=NOW, latency_s=2.0)
    state.record_success("quick", now=NOW, latency_s=1.0)
    state.record_success("pricey", now=NOW, latency_s=1.5)
    return catalog


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        (1.0, ["cheap", "quick", "pricey"]),
        (0.0, ["quick", "pricey", "cheap"]),
        (0.5, ["cheap", "quick", "pricey"]),  # 4x cheaper outweighs 2x slower
        (0.2, ["quick", "cheap", "pricey"]),
    ],
)
def test_balanced_trades_price_against_latency(
    model: MakeModel, state: InMemoryRouteState, weight: float, expected: list[str]
) -> None:
    catalog = _balanced_catalog(model, state)
    assert pick(Balanced(price_weight=weight, epsilon=0), catalog, state) == expected


def test_balanced_assumes_unseen_models_are_as_fast_as_the_best(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog(
        [model("seen", prompt=1, completion=1), model("unseen", prompt=1.5, completion=1.5)]
    )
    state.record_success("seen", now=NOW, latency_s=2.0)
    # Same latency assumed, price decides; once measured slow, it drops.
    assert pick(Balanced(epsilon=0), catalog, state) == ["seen", "unseen"]
    catalog2 = ModelCatalog(
        [model("seen", prompt=2, completion=2), model("unseen", prompt=1.5, completion=1.5)]
    )
    assert pick(Balanced(epsilon=0), catalog2, state) == ["unseen", "seen"]
    state.record_success("unseen", now=NOW, latency_s=8.0)
    assert pick(Balanced(epsilon=0), catalog2, state, now=NOW + 2) == ["seen", "unseen"]


def test_balanced_puts_unpriced_and_only_failing_models_last(
    model: MakeModel, state: InMemoryRouteState
) -> None:
    catalog = ModelCatalog(
        [model("unpriced", prompt=None, completion=None), model("failing"), model("ok")]
    )
    state.record_failure("failing", now=NOW, error_kind="connection")
    order = pick(Balanced(epsilon=0), catalog, state)
    assert order[0] == "ok" and set(order[1:]) == {"unpriced", "failing"}


def test_policies_carry_their_failover_rules() -> None:
    rules = FailoverRules(same_model_retries=1)
    assert Fallback("a", rules=rules).rules is rules
    assert Balanced(rules=rules).rules is rules
    assert Cheapest().rules == FailoverRules()


def test_fastest_gives_an_unseen_leader_one_probe_not_a_whole_ranking_ttl() -> None:
    catalog = ModelCatalog([Model("a/slow"), Model("a/fresh")])
    state = InMemoryRouteState()
    state.record_success("a/slow", now=NOW, latency_s=0.05)
    policy = Fastest(epsilon=0.0, rank_ttl_s=60.0)
    assert pick(policy, catalog, state)[0] == "a/fresh"  # unseen: the optimistic prior leads
    # Its first answer is slow; within the same ranking TTL the next call must see that.
    state.record_success("a/fresh", now=NOW + 0.1, latency_s=2.0)
    assert pick(policy, catalog, state, now=NOW + 0.2)[0] == "a/slow"
