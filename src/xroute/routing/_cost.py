"""Money: the cost of a response, the running usage of a client, and an optional budget.

All amounts are USD. A cost the server reports (`usage.cost`, as some gateways add) wins
over one computed from catalog prices, which may be stale or miss discounts.
"""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, Union

from .._exceptions import BudgetExceededError, InvalidArgumentError

if TYPE_CHECKING:
    from ..catalog import ModelCatalog, Pricing
    from ..types.chat import CompletionUsage
    from ..types.embeddings import EmbeddingUsage

__all__ = [
    "DEFAULT_WORST_CASE_COMPLETION_TOKENS",
    "Budget",
    "ModelUsage",
    "UsageSummary",
    "cost_usd",
    "reported_cost_usd",
    "worst_case_usd",
]

Usage: TypeAlias = Union["CompletionUsage", "EmbeddingUsage"]

DEFAULT_WORST_CASE_COMPLETION_TOKENS = 4096
"""Completion tokens the budget assumes when neither `max_tokens` nor the model's
`max_output_tokens` is known (capped by what is left of the context window)."""


def _price(value: float | None) -> float | None:
    # Some catalogs mark "variable" or unknown prices with negative numbers.
    return value if value is not None and value >= 0 else None


def reported_cost_usd(usage: Usage | None) -> float | None:
    """The cost the server put in `usage.cost`, when it is a usable number."""
    if usage is None or not usage.model_extra:
        return None
    value = usage.model_extra.get("cost")
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def cost_usd(usage: Usage | None, pricing: Pricing | None) -> float | None:
    """What a response cost: the server's `usage.cost` if reported, else tokens × price.

    The computed cost is `Pricing.estimate`'s: cached prompt tokens
    (``prompt_tokens_details.cached_tokens``) at the cached price when there is one, plus a
    listed per-request fee. None when the usage or a needed price is unknown.

    >>> cost_usd(completion.usage, catalog["openai/gpt-4o-mini"].pricing)  # doctest: +SKIP
    0.000042
    """
    reported = reported_cost_usd(usage)
    if reported is not None:
        return reported
    if usage is None or pricing is None:
        return None
    prompt_tokens = max(usage.prompt_tokens, 0)
    completion_tokens = max(getattr(usage, "completion_tokens", 0) or 0, 0)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if not isinstance(cached, int) or isinstance(cached, bool) or not 0 < cached <= prompt_tokens:
        cached = 0  # absent or inconsistent: bill every prompt token at the full price
    return pricing.estimate(prompt_tokens, completion_tokens, cached_prompt_tokens=cached)


def worst_case_usd(
    candidates: Sequence[str],
    catalog: ModelCatalog | None,
    *,
    prompt_tokens: int,
    max_tokens: int | None,
) -> float:
    """The most a call could cost on any of its `candidates`, before sending it.

    Per model: prompt estimate × prompt price + completion allowance × completion price +
    request fee. The completion allowance is `max_tokens`, else the model's
    `max_output_tokens`, else `DEFAULT_WORST_CASE_COMPLETION_TOKENS`, never more than the
    window leaves after the prompt. Models without a known price count as 0: a budget can
    only guard what it can price (their server-reported cost is still recorded after).

    >>> worst_case_usd(["openai/gpt-4o"], catalog, prompt_tokens=1000, max_tokens=500)
    ... # doctest: +SKIP
    0.0075
    """
    if catalog is None:
        return 0.0
    worst = 0.0
    for model_id in candidates:
        model = catalog.get(model_id)
        if model is None:
            continue
        pricing = model.pricing
        completion = max_tokens
        if completion is None:
            completion = model.max_output_tokens or DEFAULT_WORST_CASE_COMPLETION_TOKENS
            if model.context_length is not None:
                completion = min(completion, max(model.context_length - prompt_tokens, 0))
        cost = (
            prompt_tokens * (_price(pricing.prompt_usd_per_token) or 0.0)
            + completion * (_price(pricing.completion_usd_per_token) or 0.0)
            + (_price(pricing.request_usd) or 0.0)
        )
        worst = max(worst, cost)
    return worst


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Requests, tokens and USD spent on one model. `unpriced_requests` had no known cost,
    so `cost_usd` is a lower bound when it is not 0."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_requests: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def plus(self, usage: Usage | None, cost: float | None) -> ModelUsage:
        """This usage with one more response added."""
        return ModelUsage(
            requests=self.requests + 1,
            prompt_tokens=self.prompt_tokens + (usage.prompt_tokens if usage else 0),
            completion_tokens=self.completion_tokens
            + ((getattr(usage, "completion_tokens", 0) or 0) if usage else 0),
            cost_usd=self.cost_usd + (cost or 0.0),
            unpriced_requests=self.unpriced_requests + (cost is None),
        )


class UsageSummary:
    """A client's running usage: requests, tokens and USD per model, and totals. Thread-safe.

    >>> client.usage  # doctest: +SKIP
    UsageSummary(requests=12, tokens=48210, cost_usd=0.0213, models=2)
    >>> client.usage.by_model()["openai/gpt-4o-mini"].cost_usd  # doctest: +SKIP
    0.0087
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelUsage] = {}

    def record(self, model: str, usage: Usage | None, cost_usd: float | None) -> None:
        """Add one response served by `model` (`cost_usd` None when unknown)."""
        with self._lock:
            self._models[model] = self._models.get(model, ModelUsage()).plus(usage, cost_usd)

    def by_model(self) -> dict[str, ModelUsage]:
        """Usage per model, as a copy."""
        with self._lock:
            return dict(self._models)

    def total(self) -> ModelUsage:
        """Usage over every model."""
        with self._lock:
            rows = list(self._models.values())
        return ModelUsage(
            requests=sum(r.requests for r in rows),
            prompt_tokens=sum(r.prompt_tokens for r in rows),
            completion_tokens=sum(r.completion_tokens for r in rows),
            cost_usd=math.fsum(r.cost_usd for r in rows),
            unpriced_requests=sum(r.unpriced_requests for r in rows),
        )

    @property
    def requests(self) -> int:
        """Responses recorded."""
        return self.total().requests

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens over every response."""
        return self.total().total_tokens

    @property
    def cost_usd(self) -> float:
        """USD spent, as far as known (see `ModelUsage.unpriced_requests`)."""
        return self.total().cost_usd

    def reset(self) -> None:
        """Forget everything recorded."""
        with self._lock:
            self._models.clear()

    def __repr__(self) -> str:
        total = self.total()
        unpriced = f", unpriced={total.unpriced_requests}" if total.unpriced_requests else ""
        return (
            f"UsageSummary(requests={total.requests}, tokens={total.total_tokens}, "
            f"cost_usd={total.cost_usd:.6g}{unpriced}, models={len(self.by_model())})"
        )

    def _rows(self) -> list[tuple[str, ...]]:
        """Header, one row per model (most expensive first), and the total."""

        def cells(name: str, u: ModelUsage) -> tuple[str, ...]:
            cost = f"${u.cost_usd:.6f}" + (" +?" if u.unpriced_requests else "")
            return (name, str(u.requests), str(u.prompt_tokens), str(u.completion_tokens), cost)

        models = sorted(self.by_model().items(), key=lambda item: -item[1].cost_usd)
        header = ("model", "requests", "prompt tokens", "completion tokens", "cost")
        return [header, *(cells(n, u) for n, u in models), cells("total", self.total())]

    def to_text(self) -> str:
        """A plain-text table: requests, tokens and USD per model, then the total.

        >>> print(client.usage.to_text())  # doctest: +SKIP
        """
        rows = self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in rows
        )

    def _repr_html_(self) -> str:
        header, *models, total = self._rows()

        def row(cells: tuple[str, ...], tag: str = "td") -> str:
            return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

        body = "".join(row(r) for r in models)
        return (
            f"<table><thead>{row(header, 'th')}</thead>"
            f"<tbody>{body}</tbody><tfoot>{row(total, 'th')}</tfoot></table>"
        )


class Budget:
    """A client-wide USD limit, checked before each call against its worst-case cost.

    The plan `reserve`s a call's worst case before sending (raising `BudgetExceededError` if
    it does not fit what is left) and `settle`s the reservation with the actual cost after.
    Reserving, not just checking, keeps concurrent calls from overspending together.
    Thread-safe.

    >>> budget = Budget(5.00)
    >>> held = budget.reserve(0.02)
    >>> budget.settle(held, 0.013)
    >>> round(budget.remaining_usd, 3)
    4.987
    """

    def __init__(self, max_usd: float) -> None:
        if not (isinstance(max_usd, (int, float)) and math.isfinite(max_usd) and max_usd >= 0):
            raise InvalidArgumentError(
                f"Budget(max_usd) must be a USD amount >= 0, got {max_usd!r}"
            )
        self.max_usd = float(max_usd)
        self._lock = threading.Lock()
        self._spent = 0.0
        self._reserved = 0.0

    @property
    def spent_usd(self) -> float:
        """USD recorded as spent."""
        with self._lock:
            return self._spent

    @property
    def reserved_usd(self) -> float:
        """USD held by calls in flight."""
        with self._lock:
            return self._reserved

    @property
    def remaining_usd(self) -> float:
        """What is left: the limit minus spent and reserved amounts (never below 0)."""
        with self._lock:
            return max(0.0, self.max_usd - self._spent - self._reserved)

    def reserve(self, worst_case_usd: float) -> float:
        """Hold `worst_case_usd` for a call about to be sent, or raise `BudgetExceededError`.

        Returns the amount held; pass it to `settle`. A call that cannot be priced (worst
        case 0) goes through while anything is left, and is refused once nothing is.
        """
        with self._lock:
            remaining = self.max_usd - self._spent - self._reserved
            # An exhausted budget refuses even calls it cannot price (worst case 0).
            if worst_case_usd > remaining or remaining <= 0.0:
                raise BudgetExceededError(
                    f"this call could cost up to ${worst_case_usd:.6f} but only "
                    f"${max(remaining, 0.0):.6f} of the ${self.max_usd:g} budget is left; "
                    "lower max_tokens, pick cheaper models, or raise the budget",
                    worst_case_usd=worst_case_usd,
                    remaining_usd=max(remaining, 0.0),
                )
            self._reserved += worst_case_usd
            return worst_case_usd

    def settle(self, reserved_usd: float, cost_usd: float | None) -> None:
        """Release a reservation and record what the call actually cost.

        Pass ``0.0`` for a call that failed unbilled. A cost of None (no usage came back)
        charges the reservation: the conservative guess.
        """
        with self._lock:
            self._reserved = max(0.0, self._reserved - reserved_usd)
            self._spent += reserved_usd if cost_usd is None else cost_usd

    def record(self, cost_usd: float) -> None:
        """Record spend that had no reservation."""
        with self._lock:
            self._spent += cost_usd

    def __repr__(self) -> str:
        with self._lock:
            spent, reserved = self._spent, self._reserved
        return (
            f"Budget(max_usd={self.max_usd:g}, spent_usd={spent:.6g}, reserved_usd={reserved:.6g})"
        )
