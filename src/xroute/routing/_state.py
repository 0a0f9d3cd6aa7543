"""Per-model health fed by every attempt: latency, time to first token, throughput, errors,
in-flight count and a circuit breaker — behind the small `RouteState` protocol.

Breaker, per model::

    closed ──(N consecutive failures, or error rate over threshold)──▶ open
    open ──(cooldown over: the next attempt is the one probe)──▶ half_open
    half_open ──success──▶ closed          half_open ──failure──▶ open (longer cooldown)

Time is always passed in (`now`, monotonic seconds); nothing here reads a clock.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias

from .._exceptions import InvalidArgumentError

__all__ = [
    "BreakerState",
    "HealthSettings",
    "InMemoryRouteState",
    "ModelHealth",
    "RouteState",
]

BreakerState: TypeAlias = Literal["closed", "open", "half_open"]
"""`closed`: traffic flows. `open`: skipped until the cooldown ends. `half_open`: one probe
is in flight; its outcome closes or re-opens the breaker."""

# Failures that say something about the model's health. The rest (400, 401, 403, 422,
# context length, ...) are the request's fault and would hit any model the same way.
HEALTH_ERROR_KINDS = frozenset(
    {"connection", "timeout", "rate_limit", "server", "not_found", "stream", "invalid_response"}
)


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """How health estimates decay and when the breaker trips; shared by every `RouteState`.

    - `half_life_s`: a sample's weight halves every `half_life_s` seconds, so a model that
      was slow an hour ago and has recovered is judged by its recent samples.
    - `max_samples`: the most samples an estimate remembers at full weight; the newest one
      always counts at least `1 / max_samples` even under heavy traffic.
    - `failure_threshold`: consecutive failures that open the breaker.
    - `error_rate_threshold` / `min_samples`: the breaker also opens when the decayed error
      rate reaches the threshold over at least `min_samples` (decayed) samples.
    - `cooldown_s`, `cooldown_multiplier`, `max_cooldown_s`: the first cooldown, its growth
      after each failed probe, and its cap. A longer Retry-After always wins.
    """

    half_life_s: float = 60.0
    max_samples: int = 20
    failure_threshold: int = 5
    error_rate_threshold: float = 0.5
    min_samples: float = 10.0
    cooldown_s: float = 10.0
    cooldown_multiplier: float = 2.0
    max_cooldown_s: float = 300.0
    health_error_kinds: frozenset[str] = HEALTH_ERROR_KINDS

    def __post_init__(self) -> None:
        if self.half_life_s <= 0 or self.max_samples < 1 or self.failure_threshold < 1:
            raise InvalidArgumentError(
                "HealthSettings needs half_life_s > 0, max_samples >= 1, failure_threshold >= 1"
            )

    def cooldown(self, trips: int, retry_after_s: float | None) -> float:
        """The cooldown after the breaker opened for the `trips`-th time in a row (0-based)."""
        base = min(self.cooldown_s * self.cooldown_multiplier**trips, self.max_cooldown_s)
        return max(base, retry_after_s or 0.0)


@dataclass(frozen=True, slots=True)
class ModelHealth:
    """A snapshot of one model's health, as a value.

    `latency_s` / `ttft_s` / `tokens_per_s` are time-decayed means (None before any
    sample); `error_rate` is the decayed share of health failures (0..1); `samples` counts
    every success and health failure ever recorded; `open_until` is when an open breaker's
    cooldown ends (monotonic seconds).
    """

    latency_s: float | None = None
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    error_rate: float = 0.0
    in_flight: int = 0
    breaker: BreakerState = "closed"
    samples: int = 0
    consecutive_failures: int = 0
    open_until: float | None = None

    @property
    def seen(self) -> bool:
        """Whether any success or health failure was ever recorded."""
        return self.samples > 0


UNSEEN = ModelHealth()
"""The health of a model nothing is known about."""


class RouteState(Protocol):
    """Where routing keeps per-model health: small and value-based, for shared stores too.

    The plan calls, per attempt: `begin` → send → `record_success` or `record_failure` →
    `end` (always, e.g. in a `finally`). When `begin` returns False and other candidates
    remain, the plan may `end` at once and record the model as skipped ("circuit open").
    Policies call `allows` and `snapshot`. A Redis-backed state can implement the same
    six methods (and reuse `HealthSettings`).
    """

    def begin(self, model: str, *, now: float) -> bool:
        """Count an attempt in flight and say whether the breaker admits it.

        True when closed, or when this attempt claimed the half-open probe; False when open
        or when the probe is already out. Either way `end` must follow.
        """
        ...

    def end(self, model: str) -> None:
        """The attempt started by `begin` is over (whatever its outcome)."""
        ...

    def record_success(
        self,
        model: str,
        *,
        now: float,
        latency_s: float,
        ttft_s: float | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Feed a served attempt; closes the breaker.

        `latency_s` is the whole attempt, `ttft_s` the time to the first content chunk
        (streams), `completion_tokens` the answer's length (for decode tokens/s).
        """
        ...

    def record_failure(
        self, model: str, *, now: float, error_kind: str, retry_after_s: float | None = None
    ) -> None:
        """Feed a failed attempt; may open the breaker (for at least `retry_after_s`).

        `error_kind` comes from `error_kind(exc)`; kinds that are the request's fault, not
        the model's (400, 401, 403, 422, context length), leave its health alone.
        """
        ...

    def allows(self, model: str, *, now: float) -> bool:
        """Whether the breaker lets an attempt through now (a query: claims nothing)."""
        ...

    def snapshot(self, model: str, *, now: float | None = None) -> ModelHealth:
        """The model's health as a value (`UNSEEN` when nothing is known).

        With `now`, an open breaker whose cooldown is over reads as ``half_open``.
        """
        ...


class _DecayingMean:
    """A mean whose samples lose half their weight every half-life, with a weight cap so the
    newest sample always counts (a per-sample EWMA and a time-decayed one, combined)."""

    __slots__ = ("at", "value", "weight")

    def __init__(self) -> None:
        self.value = 0.0
        self.weight = 0.0
        self.at = 0.0

    def add(self, sample: float, now: float, settings: HealthSettings) -> None:
        weight = self.weight
        if weight > 0.0 and now > self.at:
            weight *= 0.5 ** ((now - self.at) / settings.half_life_s)
        weight = min(weight, settings.max_samples - 1.0) + 1.0
        self.value += (sample - self.value) / weight
        self.weight = weight
        self.at = max(now, self.at)

    def get(self) -> float | None:
        return self.value if self.weight > 0.0 else None


@dataclass(slots=True)
class _ModelStats:
    latency: _DecayingMean = field(default_factory=_DecayingMean)
    ttft: _DecayingMean = field(default_factory=_DecayingMean)
    throughput: _DecayingMean = field(default_factory=_DecayingMean)
    errors: _DecayingMean = field(default_factory=_DecayingMean)
    in_flight: int = 0
    samples: int = 0
    consecutive_failures: int = 0
    breaker: BreakerState = "closed"
    open_until: float = 0.0
    trips: int = 0  # re-opens in a row; grows the cooldown, reset by a success
    # The last snapshot, until the next change: policies re-read every model when they
    # re-rank, and most models have not changed since the last time.
    cached: ModelHealth | None = None

    def health(self, now: float | None) -> ModelHealth:
        snap = self.cached
        if snap is None:
            snap = self.cached = ModelHealth(
                latency_s=self.latency.get(),
                ttft_s=self.ttft.get(),
                tokens_per_s=self.throughput.get(),
                error_rate=self.errors.get() or 0.0,
                in_flight=self.in_flight,
                breaker=self.breaker,
                samples=self.samples,
                consecutive_failures=self.consecutive_failures,
                open_until=self.open_until if self.breaker != "closed" else None,
            )
        if self.breaker == "open" and now is not None and now >= self.open_until:
            return dataclasses.replace(snap, breaker="half_open")
        return snap


class InMemoryRouteState:
    """`RouteState` in this process's memory; safe to share between threads.

    One lock guards short critical sections (a few float updates), which is cheaper than
    per-model locks at the request rates one process sees.

    >>> state = InMemoryRouteState()
    >>> state.record_success("m", now=0.0, latency_s=0.8, completion_tokens=100)
    >>> state.snapshot("m").latency_s
    0.8
    """

    def __init__(self, settings: HealthSettings | None = None) -> None:
        self.settings = settings or HealthSettings()
        self._lock = threading.Lock()
        self._models: dict[str, _ModelStats] = {}

    def _stats(self, model: str) -> _ModelStats:
        """The model's stats, about to be changed (call with the lock held)."""
        stats = self._models.get(model)
        if stats is None:
            stats = self._models[model] = _ModelStats()
        stats.cached = None
        return stats

    def begin(self, model: str, *, now: float) -> bool:
        """Count an attempt in flight; True if the breaker admits it (see `RouteState`)."""
        with self._lock:
            stats = self._stats(model)
            stats.in_flight += 1
            if stats.breaker == "closed":
                return True
            if stats.breaker == "open" and now >= stats.open_until:
                stats.breaker = "half_open"  # this attempt is the one probe
                return True
            return False

    def end(self, model: str) -> None:
        """The attempt is over; an abandoned probe (no outcome recorded) frees its slot."""
        with self._lock:
            stats = self._stats(model)
            stats.in_flight = max(0, stats.in_flight - 1)
            if stats.breaker == "half_open" and stats.in_flight == 0:
                stats.breaker = "open"  # cooldown already over: the next attempt may probe

    def record_success(
        self,
        model: str,
        *,
        now: float,
        latency_s: float,
        ttft_s: float | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Feed a served attempt and close the breaker."""
        settings = self.settings
        with self._lock:
            stats = self._stats(model)
            stats.samples += 1
            stats.latency.add(latency_s, now, settings)
            if ttft_s is not None:
                stats.ttft.add(ttft_s, now, settings)
            if completion_tokens:
                # Decode speed excludes the wait for the first token when we know it.
                decode_s = latency_s - ttft_s if ttft_s is not None else latency_s
                if decode_s > 0:
                    stats.throughput.add(completion_tokens / decode_s, now, settings)
            stats.errors.add(0.0, now, settings)
            stats.consecutive_failures = 0
            stats.breaker = "closed"
            stats.trips = 0

    def record_failure(
        self, model: str, *, now: float, error_kind: str, retry_after_s: float | None = None
    ) -> None:
        """Feed a failed attempt; health failures may open (or re-open) the breaker."""
        settings = self.settings
        if error_kind not in settings.health_error_kinds:
            return  # the request's fault, not the model's
        with self._lock:
            stats = self._stats(model)
            stats.samples += 1
            stats.errors.add(1.0, now, settings)
            stats.consecutive_failures += 1
            if stats.breaker == "half_open" or (
                stats.breaker == "open" and now >= stats.open_until
            ):
                stats.trips += 1  # the probe failed: wait longer this time
                stats.breaker = "open"
                stats.open_until = now + settings.cooldown(stats.trips, retry_after_s)
            elif stats.breaker == "open":
                # A last-resort attempt through an open breaker failed: keep it open, and
                # for at least as long as the server asked.
                stats.open_until = max(stats.open_until, now + (retry_after_s or 0.0))
            elif stats.consecutive_failures >= settings.failure_threshold or (
                stats.errors.weight >= settings.min_samples
                and stats.errors.value >= settings.error_rate_threshold
            ):
                stats.breaker = "open"
                stats.trips = 0
                stats.open_until = now + settings.cooldown(0, retry_after_s)

    def allows(self, model: str, *, now: float) -> bool:
        """Whether the breaker would let an attempt through now."""
        with self._lock:
            stats = self._models.get(model)
            if stats is None or stats.breaker == "closed":
                return True
            return stats.breaker == "open" and now >= stats.open_until

    def snapshot(self, model: str, *, now: float | None = None) -> ModelHealth:
        """The model's health as a value (`UNSEEN` defaults for a model never attempted)."""
        with self._lock:
            stats = self._models.get(model)
            return UNSEEN if stats is None else stats.health(now)

    def models(self) -> list[str]:
        """Every model this state has heard of, in first-seen order."""
        with self._lock:
            return list(self._models)

    def __repr__(self) -> str:
        with self._lock:
            total = len(self._models)
            open_ = sum(1 for s in self._models.values() if s.breaker != "closed")
        return f"InMemoryRouteState(models={total}, open_breakers={open_})"
