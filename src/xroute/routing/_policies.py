"""Routing policies: which models a call may try, and in which order.

`model=` takes a model id, a list of ids or a policy; `resolve_policy` turns each into a
`Policy`. A policy's `candidates(...)` is a pure decision over the catalog, the health
state and the request's size; the attempt plan walks the list it returns.

Catalog policies (`Cheapest`, `Fastest`, `Balanced`) cache what does not change between
calls — the constraint-filtered pool per catalog and per request capability set, and its
price order — so a decision is a short scan, not a sort of the catalog.
"""

from __future__ import annotations

import abc
import difflib
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._exceptions import CatalogError, InvalidArgumentError, UnknownModelError
from ._failover import FailoverRules
from ._state import ModelHealth, RouteState

if TYPE_CHECKING:
    from ..catalog import Model, ModelCatalog

__all__ = ["Balanced", "Cheapest", "Fallback", "Fastest", "Policy", "resolve_policy"]

# When a call sets no max_tokens, price ranking assumes an answer of this many tokens: it
# only decides how prompt and completion prices are weighed against each other.
_EXPECTED_COMPLETION_TOKENS = 400
# Price order is cached for a few prompt/completion mixes (completion share 0, 1/4, ... 1).
_SHARE_BUCKETS = 4
# Free models are priced as this (USD/token, $0.01 per million) in Balanced's log scale,
# so "free" is a large but finite advantage rather than an infinite one.
_PRICE_FLOOR_USD_PER_TOKEN = 1e-8
_LATENCY_FLOOR_S = 1e-3
# A model failing this share of attempts or more is not made to look any worse.
_MAX_ERROR_RATE = 0.9
# Cached pools per policy: enough for a few clients (catalogs) sharing one policy object.
_MAX_CACHED_CATALOGS = 4
_MAX_CACHED_RANKINGS = 64


class Policy(abc.ABC):
    """How a call picks its models. Subclass it for a custom policy.

    `rules` says which failures move on to the next candidate (see `FailoverRules`).
    `requires_catalog` tells the client to load the model catalog before routing.

    >>> class PreferOpenAI(Policy):
    ...     def candidates(self, catalog, state, *, now, rng, prompt_tokens, max_tokens,
    ...                    needs=frozenset(), stream=False):
    ...         return ["openai/gpt-4o", "anthropic/claude-sonnet-4"]
    """

    requires_catalog: ClassVar[bool] = False
    rules: FailoverRules = FailoverRules()

    @abc.abstractmethod
    def candidates(
        self,
        catalog: ModelCatalog | None,
        state: RouteState,
        *,
        now: float,
        rng: random.Random,
        prompt_tokens: int,
        max_tokens: int | None,
        needs: frozenset[str] = frozenset(),
        stream: bool = False,
    ) -> list[str]:
        """The model ids to try, best first.

        - `prompt_tokens`: the prompt estimate (`estimate_prompt_tokens`); with `max_tokens`
          (`max_completion_tokens`; 0 for embeddings) it drives the context-window guard:
          a model whose known window cannot hold both is left out. If no model can, the one
          with the largest window is returned alone, to let the server have the last word
          on what is only an estimate.
        - `needs`: capabilities the request implies ("tools", "response_format", "vision").
        - `stream`: rank by time to first token rather than total latency.

        Models whose circuit breaker is open (`state.allows` is False) are not dropped but
        moved after every admitted one, so a call always has something to try.
        """


def _fits(window: int | None, needed: int) -> bool:
    return window is None or needed <= window


def _needed_tokens(prompt_tokens: int, max_tokens: int | None) -> int:
    # Without max_tokens the server fills what is left; the prompt plus one token must fit.
    return prompt_tokens + (1 if max_tokens is None else max_tokens)


class Fallback(Policy):
    """Try the given models in order; each failure that falls over moves to the next.

    Works without a catalog; with one, models whose known window is too small for the
    prompt are skipped. A plain list of ids passed as `model=` means the same.

    >>> client.chat.completions.create(  # doctest: +SKIP
    ...     model=xroute.Fallback("openai/gpt-4o", "anthropic/claude-sonnet-4"), messages=...)
    """

    def __init__(self, *models: str, rules: FailoverRules | None = None) -> None:
        if not models:
            raise InvalidArgumentError("Fallback() needs at least one model id")
        for model in models:
            if not isinstance(model, str) or not model:
                raise InvalidArgumentError(
                    f"Fallback() takes model ids (non-empty str), got {model!r}"
                )
        self.models: tuple[str, ...] = tuple(dict.fromkeys(models))  # de-duplicated, in order
        self.rules = rules or FailoverRules()

    def candidates(
        self,
        catalog: ModelCatalog | None,
        state: RouteState,
        *,
        now: float,
        rng: random.Random,
        prompt_tokens: int,
        max_tokens: int | None,
        needs: frozenset[str] = frozenset(),
        stream: bool = False,
    ) -> list[str]:
        """The models in the given order; `needs` is not checked: the caller chose them."""
        needed = _needed_tokens(prompt_tokens, max_tokens)
        admitted: list[str] = []
        blocked: list[str] = []
        largest: tuple[int, str] | None = None
        for model_id in self.models:
            if catalog is not None:
                model = catalog.get(model_id)
                window = model.context_length if model is not None else None
                if not _fits(window, needed):
                    assert window is not None
                    if largest is None or window > largest[0]:
                        largest = (window, model_id)
                    continue
            (admitted if state.allows(model_id, now=now) else blocked).append(model_id)
        if not admitted and not blocked and largest is not None:
            return [largest[1]]
        return admitted + blocked

    def __repr__(self) -> str:
        return f"Fallback({', '.join(repr(m) for m in self.models)})"


@dataclass(frozen=True, slots=True)
class _Candidate:
    """What a decision reads of a catalog model, flattened once per catalog."""

    id: str
    index: int
    window: int | None
    prompt_usd: float | None
    completion_usd: float | None
    model: Model

    def blended_usd(self, share: float) -> float:
        """USD per token at this completion share of the call's tokens (inf if unknown)."""
        prompt, completion = self.prompt_usd, self.completion_usd
        if share <= 0.0:
            return math.inf if prompt is None else prompt
        if share >= 1.0:
            return math.inf if completion is None else completion
        if prompt is None or completion is None:
            return math.inf
        return (1.0 - share) * prompt + share * completion


@dataclass(slots=True)
class _Pool:
    """The candidates left after a policy's constraints and a request's needs."""

    members: tuple[_Candidate, ...]
    by_price: dict[int, tuple[_Candidate, ...]] = field(default_factory=dict)
    by_log_price: dict[int, tuple[float, ...]] = field(default_factory=dict)
    largest: _Candidate | None = None
    max_window: int | None = None  # None when some window is unknown (then always fits)

    def __post_init__(self) -> None:
        windows = [c.window for c in self.members]
        known = [c for c in self.members if c.window is not None]
        self.largest = max(known, key=lambda c: c.window or 0) if known else None
        self.max_window = None if None in windows else max((w or 0 for w in windows), default=0)

    def log_prices(self, bucket: int) -> tuple[float, ...]:
        """log(USD per token) per member at this share bucket, for Balanced (cached)."""
        logs = self.by_log_price.get(bucket)
        if logs is None:
            share = bucket / _SHARE_BUCKETS
            logs = self.by_log_price[bucket] = tuple(
                math.log(max(c.blended_usd(share), _PRICE_FLOOR_USD_PER_TOKEN))
                for c in self.members
            )
        return logs

    def price_order(self, bucket: int) -> tuple[_Candidate, ...]:
        order = self.by_price.get(bucket)
        if order is None:
            share = bucket / _SHARE_BUCKETS
            # sorted() is stable: equal prices keep catalog order.
            order = self.by_price[bucket] = tuple(
                sorted(self.members, key=lambda c: c.blended_usd(share))
            )
        return order


@dataclass(slots=True)
class _Ranking:
    pool: _Pool
    state: RouteState
    computed_at: float
    order: tuple[_Candidate, ...]
    # The leader when it had no sample yet (the optimistic prior put it first): once it has
    # one, the ranking is stale at once, so an unseen model gets a probe, not a whole TTL.
    unseen_lead: str | None = None


def _price_or_none(value: float | None) -> float | None:
    return value if value is not None and value >= 0 else None


def _provider_of(model: Model) -> str:
    # The catalog already derives a provider from the id prefix when the entry has none.
    return (model.provider or "").casefold()


def _as_names(value: str | Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(n, str) and n for n in names):
        raise InvalidArgumentError(f"{what} takes names (str), got {value!r}")
    return names


class _CatalogPolicy(Policy):
    """Shared constraints and caches of the policies that read the catalog."""

    requires_catalog: ClassVar[bool] = True
    _explores: ClassVar[bool] = False

    def __init__(
        self,
        models: Iterable[str] | None = None,
        *,
        provider: str | Iterable[str] | None = None,
        min_context: int | None = None,
        requires: str | Iterable[str] = (),
        max_usd_per_mtok: float | None = None,
        max_models: int = 5,
        rules: FailoverRules | None = None,
    ) -> None:
        self.models = _as_names(models, "models")
        if self.models is not None and not self.models:
            raise InvalidArgumentError(f"{type(self).__name__}(models=[]) leaves nothing to try")
        providers = _as_names(provider, "provider")
        self.provider = None if providers is None else tuple(p.casefold() for p in providers)
        self.requires = _as_names(requires, "requires") or ()
        if min_context is not None and (not isinstance(min_context, int) or min_context < 0):
            raise InvalidArgumentError(f"min_context must be a token count, got {min_context!r}")
        self.min_context = min_context
        if max_usd_per_mtok is not None and not max_usd_per_mtok >= 0:
            raise InvalidArgumentError(
                f"max_usd_per_mtok must be a USD price >= 0, got {max_usd_per_mtok!r}"
            )
        self.max_usd_per_mtok = max_usd_per_mtok
        if not isinstance(max_models, int) or max_models < 1:
            raise InvalidArgumentError(f"max_models must be an int >= 1, got {max_models!r}")
        self.max_models = max_models
        self.rules = rules or FailoverRules()
        # id(catalog) -> (catalog, pools by needs). The catalog is kept to make the id safe
        # to reuse; catalogs are treated as immutable (a refresh makes a new one).
        self._pools: dict[int, tuple[ModelCatalog, dict[frozenset[str], _Pool]]] = {}

    # ------------------------------------------------------------------ pools (cached)

    def _pool(self, catalog: ModelCatalog | None, needs: frozenset[str]) -> _Pool:
        if catalog is None:
            raise CatalogError(
                f"{self!r} ranks models from the model catalog, but none is loaded; "
                "load it with client.models.list(), or pass model ids instead"
            )
        entry = self._pools.get(id(catalog))
        if entry is None or entry[0] is not catalog:
            if len(self._pools) >= _MAX_CACHED_CATALOGS:
                self._pools.clear()
            entry = self._pools[id(catalog)] = (catalog, {})
        pools = entry[1]
        pool = pools.get(needs)
        if pool is None:
            base = pools.get(frozenset())
            if base is None:
                base = pools[frozenset()] = _Pool(self._constrained(catalog))
            pool = base if not needs else _Pool(self._with_needs(base.members, needs))
            pools[needs] = pool
        return pool

    def _constrained(self, catalog: ModelCatalog) -> tuple[_Candidate, ...]:
        if self.models is not None:
            chosen: list[Model] = []
            for model_id in self.models:
                model = catalog.get(model_id)
                if model is None:
                    close = difflib.get_close_matches(model_id, [m.id for m in catalog], n=1)
                    raise UnknownModelError(model_id, close[0] if close else None)
                chosen.append(model)
            models = list(dict.fromkeys(chosen))
        else:
            models = list(catalog)
            if not models:
                raise CatalogError(f"{self!r} has no models to choose from: the catalog is empty")
        steps: list[tuple[str, object, Callable[[Model], bool], Callable[[list[Model]], str]]] = []
        if self.provider is not None:
            wanted = frozenset(self.provider)
            steps.append(
                ("provider", self.provider, lambda m: _provider_of(m) in wanted, _providers_hint)
            )
        if self.min_context is not None:
            least = self.min_context
            steps.append(
                (
                    "min_context",
                    least,
                    lambda m: m.context_length is not None and m.context_length >= least,
                    _window_hint,
                )
            )
        for feature in self.requires:
            steps.append(("requires", feature, _supports(feature), _nothing_hint))
        if self.max_usd_per_mtok is not None:
            cap = self.max_usd_per_mtok / 1e6
            steps.append(
                ("max_usd_per_mtok", self.max_usd_per_mtok, _priced_under(cap), _price_hint)
            )
        for name, value, keep, hint in steps:
            kept = [m for m in models if keep(m)]
            if not kept:
                shown = value[0] if isinstance(value, tuple) and len(value) == 1 else value
                raise InvalidArgumentError(
                    f"{self!r}: no model is left after {name}={shown!r} "
                    f"({len(models)} candidate(s) before it){hint(models)}"
                )
            models = kept
        return tuple(_flatten(m, i) for i, m in enumerate(models))

    def _with_needs(
        self, members: tuple[_Candidate, ...], needs: frozenset[str]
    ) -> tuple[_Candidate, ...]:
        kept = members
        for feature in sorted(needs):
            kept = tuple(c for c in kept if _may_support(c.model, feature))
            if not kept:
                raise InvalidArgumentError(
                    f"{self!r}: none of its {len(members)} candidate model(s) supports "
                    f"{feature!r}, which this request needs; pick models that do "
                    f"(e.g. requires=({feature!r},)) or drop it from the request"
                )
        return kept

    # ------------------------------------------------------------------ the decision

    def _ranked(
        self,
        pool: _Pool,
        state: RouteState,
        *,
        now: float,
        bucket: int,
        stream: bool,
    ) -> Sequence[_Candidate]:
        return pool.price_order(bucket)

    def candidates(
        self,
        catalog: ModelCatalog | None,
        state: RouteState,
        *,
        now: float,
        rng: random.Random,
        prompt_tokens: int,
        max_tokens: int | None,
        needs: frozenset[str] = frozenset(),
        stream: bool = False,
    ) -> list[str]:
        """The best `max_models` candidates for this call (see `Policy.candidates`)."""
        pool = self._pool(catalog, needs)
        needed = _needed_tokens(prompt_tokens, max_tokens)
        if pool.max_window is not None and needed > pool.max_window:
            assert pool.largest is not None
            return [pool.largest.id]  # nothing fits the estimate: let the server judge
        completion = _EXPECTED_COMPLETION_TOKENS if max_tokens is None else max_tokens
        total = prompt_tokens + completion
        share = completion / total if total > 0 else 0.0
        bucket = round(share * _SHARE_BUCKETS)
        ranked = self._ranked(pool, state, now=now, bucket=bucket, stream=stream)
        return self._select(ranked, state, now=now, rng=rng, needed=needed)

    def _select(
        self,
        ranked: Sequence[_Candidate],
        state: RouteState,
        *,
        now: float,
        rng: random.Random,
        needed: int,
    ) -> list[str]:
        limit = self.max_models
        admitted: list[str] = []
        blocked: list[str] = []
        # Usually stops after `limit` candidates: O(k), not O(catalog).
        for candidate in ranked:
            if not _fits(candidate.window, needed):
                continue
            if state.allows(candidate.id, now=now):
                admitted.append(candidate.id)
                if len(admitted) >= limit:
                    break
            elif len(blocked) < limit:
                blocked.append(candidate.id)
        if self._explores and len(ranked) > 1:
            pick = self._exploration_pick(ranked, rng)
            if (
                pick is not None
                and (not admitted or pick.id != admitted[0])
                and _fits(pick.window, needed)
                and state.allows(pick.id, now=now)
            ):
                if pick.id in admitted:
                    admitted.remove(pick.id)
                admitted.insert(0, pick.id)
                del admitted[limit:]
        return admitted + blocked[: max(0, limit - len(admitted))]

    def _exploration_pick(
        self, ranked: Sequence[_Candidate], rng: random.Random
    ) -> _Candidate | None:
        return None

    def _args_repr(self) -> list[str]:
        args: list[str] = []
        if self.models is not None:
            args.append(repr(list(self.models)))
        for name, value, default in (
            ("provider", self.provider, None),
            ("min_context", self.min_context, None),
            ("requires", self.requires, ()),
            ("max_usd_per_mtok", self.max_usd_per_mtok, None),
            ("max_models", self.max_models, 5),
        ):
            if value != default:
                shown = value[0] if isinstance(value, tuple) and len(value) == 1 else value
                args.append(f"{name}={shown!r}")
        return args

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._args_repr())})"


def _flatten(model: Model, index: int) -> _Candidate:
    pricing = model.pricing
    return _Candidate(
        id=model.id,
        index=index,
        window=model.context_length,
        prompt_usd=_price_or_none(pricing.prompt_usd_per_token),
        completion_usd=_price_or_none(pricing.completion_usd_per_token),
        model=model,
    )


def _supports(feature: str) -> Callable[[Model], bool]:
    return lambda model: model.supports(feature)


def _may_support(model: Model, feature: str) -> bool:
    # What a request implies is checked leniently: many gateways' /models entries say
    # nothing about capabilities, and "unknown" must not rule out every model there. A
    # model is skipped only when its entry lists capabilities and this one is not among them.
    if feature.startswith("output:"):
        # "output:text" for chat, "output:embeddings" for embeddings: a chat call must not
        # land on an embedding model (nor the reverse) just because it is cheap.
        return not model.output_modalities or feature[7:] in model.output_modalities
    if model.supports(feature):
        return True
    if feature.lower() in ("vision", "image"):
        return not model.input_modalities
    return not model.supported_parameters


def _priced_under(cap_usd_per_token: float) -> Callable[[Model], bool]:
    # "No token of the call costs more than the cap": the prompt price must be known; a
    # completion price is checked when there is one (embedding models often have none).
    def keep(model: Model) -> bool:
        prompt = _price_or_none(model.pricing.prompt_usd_per_token)
        completion = _price_or_none(model.pricing.completion_usd_per_token)
        return (
            prompt is not None
            and prompt <= cap_usd_per_token
            and (completion is None or completion <= cap_usd_per_token)
        )

    return keep


def _providers_hint(models: list[Model]) -> str:
    names = sorted({p for m in models if (p := _provider_of(m))})
    more = ", ..." if len(names) > 12 else ""
    return f"; providers among them: {', '.join(names[:12])}{more}"


def _window_hint(models: list[Model]) -> str:
    known = [m for m in models if m.context_length is not None]
    if not known:
        return "; none of them has a known context length"
    widest = max(known, key=lambda m: m.context_length or 0)
    return f"; the largest window is {widest.context_length} tokens ({widest.id})"


def _price_hint(models: list[Model]) -> str:
    # The highest of a model's two prices is what the cap is compared with.
    priced: list[tuple[float, Model]] = []
    for model in models:
        prompt = _price_or_none(model.pricing.prompt_usd_per_token)
        if prompt is not None:
            completion = _price_or_none(model.pricing.completion_usd_per_token)
            priced.append((max(prompt, completion or 0.0), model))
    if not priced:
        return "; none of them has a known price"
    price, cheapest = min(priced, key=lambda item: item[0])
    return f"; the cheapest is {cheapest.id} at ${price * 1e6:g} per million tokens"


def _nothing_hint(models: list[Model]) -> str:
    return ""


class Cheapest(_CatalogPolicy):
    """The cheapest models for this call first, by catalog price.

    Ranks by the call's expected cost per token: prompt and completion prices weighed by
    the call's mix of prompt tokens and `max_tokens` (400 assumed when unset). Models
    without a known price come last. Constraints:

    - `models`: the candidates (default: the whole catalog).
    - `provider`: one provider or several ("openai", ("openai", "anthropic")).
    - `min_context`: the least context window, in tokens.
    - `requires`: capabilities every candidate must have ("tools", "vision", ...).
    - `max_usd_per_mtok`: no token may cost more than this, in USD per million tokens.
    - `max_models`: how many candidates a call may try (default 5). Models whose breaker
      is open come after the admitted ones, and only into slots those leave free.

    `needs` from the request (e.g. "tools" when tools are passed) skip models whose catalog
    entry lists capabilities without it; entries that list none are kept (unknown is not
    no), unlike `requires`, which asks for known support.

    >>> client.chat.completions.create(  # doctest: +SKIP
    ...     model=xroute.Cheapest(requires=("tools",), min_context=32_000), messages=...)
    """


def _expected_latency(health: ModelHealth, stream: bool) -> float | None:
    latency = health.ttft_s if stream and health.ttft_s is not None else health.latency_s
    if latency is None:
        return None
    # Each failure costs a retry elsewhere: divide by the success rate (geometric attempts).
    return latency / (1.0 - min(health.error_rate, _MAX_ERROR_RATE))


class _LearningPolicy(_CatalogPolicy):
    """A catalog policy that ranks by observed health and explores."""

    _explores: ClassVar[bool] = True

    def __init__(
        self,
        models: Iterable[str] | None = None,
        *,
        provider: str | Iterable[str] | None = None,
        min_context: int | None = None,
        requires: str | Iterable[str] = (),
        max_usd_per_mtok: float | None = None,
        max_models: int = 5,
        epsilon: float = 0.05,
        rank_ttl_s: float = 1.0,
        rules: FailoverRules | None = None,
    ) -> None:
        super().__init__(
            models,
            provider=provider,
            min_context=min_context,
            requires=requires,
            max_usd_per_mtok=max_usd_per_mtok,
            max_models=max_models,
            rules=rules,
        )
        if not 0.0 <= epsilon <= 1.0:
            raise InvalidArgumentError(f"epsilon must be between 0 and 1, got {epsilon!r}")
        if not rank_ttl_s >= 0.0:
            raise InvalidArgumentError(f"rank_ttl_s must be >= 0 seconds, got {rank_ttl_s!r}")
        self.epsilon = epsilon
        self.rank_ttl_s = rank_ttl_s
        self._rankings: dict[tuple[int, int, int, bool], _Ranking] = {}

    def _ranked(
        self,
        pool: _Pool,
        state: RouteState,
        *,
        now: float,
        bucket: int,
        stream: bool,
    ) -> Sequence[_Candidate]:
        # Reading every candidate's health is O(pool); doing it at most once per
        # `rank_ttl_s` keeps a decision O(k). Breakers are still checked per call.
        key = (id(pool), id(state), bucket, stream)
        ranking = self._rankings.get(key)
        if (
            ranking is not None
            and ranking.pool is pool
            and ranking.state is state
            and ranking.computed_at <= now < ranking.computed_at + self.rank_ttl_s
            and (ranking.unseen_lead is None or not state.snapshot(ranking.unseen_lead).seen)
        ):
            return ranking.order
        health = [state.snapshot(c.id) for c in pool.members]
        order = self._rank(pool, health, bucket=bucket, stream=stream)
        lead = order[0] if order else None
        unseen = lead.id if lead is not None and not state.snapshot(lead.id).seen else None
        if len(self._rankings) >= _MAX_CACHED_RANKINGS:
            self._rankings.clear()
        self._rankings[key] = _Ranking(pool, state, now, order, unseen)
        return order

    @abc.abstractmethod
    def _rank(
        self, pool: _Pool, health: list[ModelHealth], *, bucket: int, stream: bool
    ) -> tuple[_Candidate, ...]: ...

    def _exploration_pick(
        self, ranked: Sequence[_Candidate], rng: random.Random
    ) -> _Candidate | None:
        # Epsilon-greedy: now and then lead with a random non-leading candidate, so that
        # estimates of models out of favour stay fresh and a recovery gets noticed.
        if rng.random() >= self.epsilon:
            return None
        return ranked[rng.randrange(1, len(ranked))]

    def _args_repr(self) -> list[str]:
        args = super()._args_repr()
        if self.epsilon != 0.05:
            args.append(f"epsilon={self.epsilon!r}")
        if self.rank_ttl_s != 1.0:
            args.append(f"rank_ttl_s={self.rank_ttl_s!r}")
        return args


class Fastest(_LearningPolicy):
    """The models answering fastest lately first, learned from every call.

    Ranks by the time-decayed mean latency (time to first token for streams), divided by the
    recent success rate. Models never tried come first, in catalog order (an optimistic
    prior: each gets a call to be measured); models that only ever failed come last. With
    probability `epsilon` (5%) a random other candidate leads instead, so estimates stay
    fresh. Takes the constraints of `Cheapest`, plus:

    - `epsilon`: the exploration share.
    - `rank_ttl_s`: how long a ranking is reused (breakers are still checked every call).

    How fast old samples fade is the state's business (`HealthSettings.half_life_s`).

    >>> client.chat.completions.create(  # doctest: +SKIP
    ...     model=xroute.Fastest(["openai/gpt-4o-mini", "google/gemini-2.5-flash"]), ...)
    """

    def _rank(
        self, pool: _Pool, health: list[ModelHealth], *, bucket: int, stream: bool
    ) -> tuple[_Candidate, ...]:
        def key(item: tuple[_Candidate, ModelHealth]) -> tuple[int, float, int]:
            candidate, h = item
            latency = _expected_latency(h, stream)
            if latency is None:
                return (0 if h.samples == 0 else 2, 0.0, candidate.index)
            return (1, latency, candidate.index)

        return tuple(c for c, _ in sorted(zip(pool.members, health, strict=True), key=key))


class Balanced(_LearningPolicy):
    """A trade of price against expected latency, weighted by `price_weight` (0..1).

    Minimises ``price ** price_weight * latency ** (1 - price_weight)``: at the default 0.5
    a model half the price is worth one twice as slow; 1.0 is `Cheapest`, 0.0 `Fastest`.
    Being ratios, the terms need no units or ranges. Price is the call's expected USD per
    token (as in `Cheapest`; free models count as $0.01 per million); latency as in
    `Fastest`, with models never tried assumed as fast as the fastest measured one.
    Unpriced models and models that only ever failed come last. Takes the constraints of
    `Fastest`.

    >>> xroute.Balanced(price_weight=0.7, provider=("openai", "google"))  # doctest: +SKIP
    """

    def __init__(
        self,
        models: Iterable[str] | None = None,
        *,
        price_weight: float = 0.5,
        provider: str | Iterable[str] | None = None,
        min_context: int | None = None,
        requires: str | Iterable[str] = (),
        max_usd_per_mtok: float | None = None,
        max_models: int = 5,
        epsilon: float = 0.05,
        rank_ttl_s: float = 1.0,
        rules: FailoverRules | None = None,
    ) -> None:
        super().__init__(
            models,
            provider=provider,
            min_context=min_context,
            requires=requires,
            max_usd_per_mtok=max_usd_per_mtok,
            max_models=max_models,
            epsilon=epsilon,
            rank_ttl_s=rank_ttl_s,
            rules=rules,
        )
        if not 0.0 <= price_weight <= 1.0:
            raise InvalidArgumentError(
                f"price_weight must be between 0 and 1, got {price_weight!r}"
            )
        self.price_weight = price_weight

    def _rank(
        self, pool: _Pool, health: list[ModelHealth], *, bucket: int, stream: bool
    ) -> tuple[_Candidate, ...]:
        weight = self.price_weight
        log_prices = pool.log_prices(bucket)
        latencies = [_expected_latency(h, stream) for h in health]
        measured = [x for x in latencies if x is not None]
        optimistic = min(measured) if measured else 1.0  # any constant cancels out
        scored: list[tuple[float, int, _Candidate]] = []
        for candidate, h, latency, log_price in zip(
            pool.members, health, latencies, log_prices, strict=True
        ):
            if latency is None:
                latency = optimistic if h.samples == 0 else math.inf
            score = weight * log_price if weight > 0.0 else 0.0
            if weight < 1.0:  # (0 * inf would be NaN: skip a term whose weight is 0)
                score += (1.0 - weight) * math.log(max(latency, _LATENCY_FLOOR_S))
            scored.append((score, candidate.index, candidate))
        scored.sort()  # indices are unique: ties never compare candidates
        return tuple(c for _, _, c in scored)

    def _args_repr(self) -> list[str]:
        args = super()._args_repr()
        if self.price_weight != 0.5:
            args.insert(1 if self.models is not None else 0, f"price_weight={self.price_weight!r}")
        return args


def resolve_policy(model: Any, default: Any = None) -> Policy:
    """The `Policy` for a `model=` argument: an id, a list of ids, or a policy.

    `default` (the client's default, itself any of those) is used when `model` is None.

    >>> resolve_policy("openai/gpt-4o")
    Fallback('openai/gpt-4o')
    >>> resolve_policy(["a", "b"])
    Fallback('a', 'b')
    """
    if model is None:
        if default is None:
            raise InvalidArgumentError(
                "model is required: pass a model id, a list of ids (a fallback chain) or a "
                "routing policy such as xroute.Cheapest(), or set a default on the client"
            )
        return resolve_policy(default)
    if isinstance(model, Policy):
        return model
    if isinstance(model, str):
        if not model:
            raise InvalidArgumentError("model must not be empty; client.models.list() shows all")
        return Fallback(model)
    if isinstance(model, (list, tuple)) and model and all(isinstance(m, str) for m in model):
        return Fallback(*model)
    got = (
        "an empty list" if isinstance(model, (list, tuple)) and not model else type(model).__name__
    )
    raise InvalidArgumentError(
        "model must be a model id (str), a list of ids (a fallback chain) or a routing "
        f"policy such as xroute.Cheapest() or xroute.Fallback(...); got {got}"
    )
