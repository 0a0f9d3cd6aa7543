"""Cost: per response (server cost first), per client (UsageSummary), and the Budget."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from xroute._exceptions import BudgetExceededError, InvalidArgumentError
from xroute.catalog import Model, ModelCatalog, Pricing
from xroute.routing import (
    DEFAULT_WORST_CASE_COMPLETION_TOKENS,
    Budget,
    UsageSummary,
    cost_usd,
    reported_cost_usd,
    worst_case_usd,
)
from xroute.types import CompletionUsage, EmbeddingUsage

PRICING = Pricing.per_mtok(3, 15, cached_prompt=0.3)
Make = Callable[..., Model]


def usage(prompt: int = 1_000, completion: int = 500, **extra: object) -> CompletionUsage:
    return CompletionUsage.model_validate(
        {"prompt_tokens": prompt, "completion_tokens": completion, **extra}
    )


def test_cost_is_tokens_times_catalog_price() -> None:
    assert cost_usd(usage(), PRICING) == pytest.approx(1_000 * 3e-6 + 500 * 15e-6)


def test_a_cost_the_server_reports_wins_over_the_catalog_price() -> None:
    assert cost_usd(usage(cost=0.0123), PRICING) == 0.0123
    assert cost_usd(usage(cost="0.5"), None) == 0.5
    assert cost_usd(usage(cost=0), PRICING) == 0.0  # free is a real answer
    # Unusable values fall back to the catalog.
    for bad in (-1, "n/a", True, float("nan"), None, {"total": 1}):
        assert reported_cost_usd(usage(cost=bad)) is None
        assert cost_usd(usage(cost=bad), PRICING) == pytest.approx(0.0105)


def test_cached_prompt_tokens_are_billed_at_the_cached_price() -> None:
    cached = usage(prompt_tokens_details={"cached_tokens": 800})
    expected = 200 * 3e-6 + 800 * 0.3e-6 + 500 * 15e-6
    assert cost_usd(cached, PRICING) == pytest.approx(expected)
    # A cached count larger than the prompt is nonsense: ignored, not an exception.
    weird = usage(prompt_tokens_details={"cached_tokens": 5_000})
    assert cost_usd(weird, PRICING) == pytest.approx(0.0105)


def test_cost_is_none_when_unknown() -> None:
    assert cost_usd(None, PRICING) is None
    assert cost_usd(usage(), None) is None
    assert cost_usd(usage(), Pricing(None, 1e-6)) is None
    assert cost_usd(usage(), Pricing(1e-6, None)) is None  # completion tokens, no price


def test_embedding_usage_needs_only_the_prompt_price() -> None:
    emb = EmbeddingUsage(prompt_tokens=2_000, total_tokens=2_000)
    assert cost_usd(emb, Pricing(0.02e-6, None)) == pytest.approx(2_000 * 0.02e-6)


def test_worst_case_is_the_priciest_candidate(model: Make) -> None:
    catalog = ModelCatalog(
        [
            model("cheap", prompt=1, completion=2),
            model("dear", prompt=10, completion=30),
            model("unpriced", prompt=None, completion=None),
        ]
    )
    got = worst_case_usd(
        ["cheap", "dear", "unpriced", "missing"], catalog, prompt_tokens=1_000, max_tokens=100
    )
    assert got == pytest.approx(1_000 * 10e-6 + 100 * 30e-6)
    assert worst_case_usd(["cheap"], None, prompt_tokens=1_000, max_tokens=100) == 0.0


def test_worst_case_without_max_tokens_uses_model_limits_then_the_default(model: Make) -> None:
    catalog = ModelCatalog(
        [
            model("capped", prompt=0, completion=1, max_output=1_000),
            model("open", prompt=0, completion=1, context=1_000_000),
            model("tight", prompt=0, completion=1, context=1_500),
        ]
    )

    def worst(model_id: str) -> float:
        return worst_case_usd([model_id], catalog, prompt_tokens=1_000, max_tokens=None)

    assert worst("capped") == pytest.approx(1_000 * 1e-6)
    assert worst("open") == pytest.approx(DEFAULT_WORST_CASE_COMPLETION_TOKENS * 1e-6)
    assert worst("tight") == pytest.approx(500 * 1e-6)  # what the window leaves


def test_worst_case_adds_the_request_fee(model: Make) -> None:
    catalog = ModelCatalog([model("fee", prompt=1, completion=1, request_usd=0.01)])
    got = worst_case_usd(["fee"], catalog, prompt_tokens=0, max_tokens=0)
    assert got == pytest.approx(0.01)


def test_usage_summary_totals_per_model_and_overall() -> None:
    summary = UsageSummary()
    summary.record("a", usage(100, 50), 0.001)
    summary.record("a", usage(200, 10), 0.002)
    summary.record("b", EmbeddingUsage(prompt_tokens=40, total_tokens=40), None)
    summary.record("b", None, None)
    per = summary.by_model()
    assert (per["a"].requests, per["a"].prompt_tokens, per["a"].completion_tokens) == (2, 300, 60)
    assert per["a"].cost_usd == pytest.approx(0.003) and per["a"].unpriced_requests == 0
    assert (per["b"].requests, per["b"].total_tokens, per["b"].unpriced_requests) == (2, 40, 2)
    assert (summary.requests, summary.total_tokens) == (4, 400)
    assert summary.cost_usd == pytest.approx(0.003)
    assert repr(summary) == (
        "UsageSummary(requests=4, tokens=400, cost_usd=0.003, unpriced=2, models=2)"
    )
    summary.reset()
    assert repr(summary) == "UsageSummary(requests=0, tokens=0, cost_usd=0, models=0)"


def test_usage_summary_html_is_a_table_with_escaped_names() -> None:
    summary = UsageSummary()
    summary.record("<script>alert(1)</script>", usage(10, 5), 0.5)
    summary.record("x", usage(1, 1), None)
    page = summary._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.startswith("<table>") and "<tfoot>" in page
    assert "$0.500000" in page and " +?" in page  # unpriced requests make totals a floor


def test_usage_summary_is_thread_safe() -> None:
    summary = UsageSummary()

    def work() -> None:
        for _ in range(2_000):
            summary.record("m", usage(1, 1), 0.25)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert summary.requests == 12_000 and summary.total_tokens == 24_000
    assert summary.cost_usd == 3_000.0


def test_budget_reserves_worst_cases_and_settles_actual_costs() -> None:
    budget = Budget(1.0)
    held = budget.reserve(0.6)
    assert budget.remaining_usd == pytest.approx(0.4)
    with pytest.raises(BudgetExceededError) as info:
        budget.reserve(0.5)  # the first call may still spend its 0.6
    assert info.value.worst_case_usd == 0.5
    assert info.value.remaining_usd == pytest.approx(0.4)
    assert "raise the budget" in str(info.value)
    budget.settle(held, 0.1)
    assert budget.spent_usd == pytest.approx(0.1)
    assert budget.reserved_usd == 0.0
    budget.settle(budget.reserve(0.5), 0.0)  # failed unbilled: nothing spent
    assert budget.spent_usd == pytest.approx(0.1)
    budget.settle(budget.reserve(0.3), None)  # cost unknown: the reservation is charged
    assert budget.spent_usd == pytest.approx(0.4)
    budget.settle(budget.reserve(0.0), None)  # an unpriced call goes through while money is left
    budget.record(0.6)
    assert budget.remaining_usd == 0.0
    for ask in (0.0001, 0.0):  # exhausted: even an unpriced call is refused
        with pytest.raises(BudgetExceededError, match=r"only \$0.000000 of the \$1 budget"):
            budget.reserve(ask)
    assert repr(budget) == "Budget(max_usd=1, spent_usd=1, reserved_usd=0)"


def test_budget_rejects_bad_limits() -> None:
    for bad in (-1, float("inf"), "5"):
        with pytest.raises(InvalidArgumentError):
            Budget(bad)  # type: ignore[arg-type]


def test_concurrent_reservations_never_overspend() -> None:
    budget = Budget(10.0)
    admitted: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(200):
            try:
                held = budget.reserve(0.1)
            except BudgetExceededError:
                continue
            with lock:
                admitted.append(held)
            budget.settle(held, 0.1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 99 <= len(admitted) <= 100  # float sums may leave one 0.1 short
    assert budget.spent_usd <= 10.0 + 1e-9
    assert budget.reserved_usd == 0.0
