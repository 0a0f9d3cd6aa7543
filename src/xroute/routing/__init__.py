"""Routing: policies that pick models, the health state they read, failover rules, cost.

Everything here is a pure decision or a value: the clock (`now`, monotonic seconds) and the
RNG are passed in, and nothing does I/O. The attempt plan in `xroute._core.plan` drives it::

    policy = resolve_policy(model_arg, default=client_default)
    order = policy.candidates(catalog, state, now=now, rng=rng,
                              prompt_tokens=estimate_prompt_tokens(messages), max_tokens=...)
    ...  # per attempt: state.begin / record_success | record_failure / end,
    ...  # policy.rules.decide(error, ...) → "retry_same" | "next_model" | "raise"
"""

from ._cost import (
    DEFAULT_WORST_CASE_COMPLETION_TOKENS,
    Budget,
    ModelUsage,
    UsageSummary,
    cost_usd,
    reported_cost_usd,
    worst_case_usd,
)
from ._failover import (
    FAIL_OVER_KINDS,
    RETRY_KINDS,
    Decision,
    ErrorKind,
    FailoverRules,
    error_kind,
    larger_context_only,
)
from ._hedge import Hedge
from ._policies import Balanced, Cheapest, Fallback, Fastest, Policy, resolve_policy
from ._redis import RedisBudget, RedisRouteState
from ._report import AttemptRecord, CallEnd, FallbackEvent, Outcome, RouteReport
from ._state import (
    UNSEEN,
    BreakerState,
    HealthSettings,
    InMemoryRouteState,
    ModelHealth,
    RouteState,
)
from ._tokens import TokenCounter, estimate_input_tokens, estimate_prompt_tokens, tiktoken_counter

__all__ = [
    "DEFAULT_WORST_CASE_COMPLETION_TOKENS",
    "FAIL_OVER_KINDS",
    "RETRY_KINDS",
    "UNSEEN",
    "AttemptRecord",
    "Balanced",
    "BreakerState",
    "Budget",
    "CallEnd",
    "Cheapest",
    "Decision",
    "ErrorKind",
    "FailoverRules",
    "Fallback",
    "FallbackEvent",
    "Fastest",
    "HealthSettings",
    "Hedge",
    "InMemoryRouteState",
    "ModelHealth",
    "ModelUsage",
    "Outcome",
    "Policy",
    "RedisBudget",
    "RedisRouteState",
    "RouteReport",
    "RouteState",
    "TokenCounter",
    "UsageSummary",
    "cost_usd",
    "error_kind",
    "estimate_input_tokens",
    "estimate_prompt_tokens",
    "larger_context_only",
    "reported_cost_usd",
    "resolve_policy",
    "tiktoken_counter",
    "worst_case_usd",
]
