"""The attempt plan: every decision of a call, as a generator of I/O commands.

The plan yields what it needs done (`Send`, `Sleep`, `Discard`, `PrimeStream`,
`LoadCatalog`, `Notify`) and is sent back what happened; the two clients are the drivers
that do the I/O. Routing, retries, backoff, Retry-After, the deadline, fallback, health
and cost bookkeeping, error mapping and parsing all happen here, once::

    plan = attempt_plan(call, context, parse)
    command = next(plan)
    while True:
        outcome = <do command: send / sleep / read / prime / load / notify, sync or async>
        command = plan.send(outcome)          # StopIteration.value is the result
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx

from .._exceptions import (
    AllModelsFailedError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ContextLengthExceededError,
    StreamError,
)
from ..routing._cost import Budget, UsageSummary, cost_usd, worst_case_usd
from ..routing._failover import error_kind, larger_context_only
from ..routing._hedge import Hedge
from ..routing._policies import Policy, resolve_policy
from ..routing._report import AttemptRecord, CallEnd, FallbackEvent, RouteReport
from ..routing._state import RouteState
from ..types.chat import ChatCompletion
from .config import ClientConfig
from .errors import status_error, transport_error
from .race import LaneCancelled, LaneLost
from .request import Call, build_request
from .retry import RetryPolicy, retry_after_seconds, should_retry_status
from .stream_state import StreamSession

if TYPE_CHECKING:
    from ..catalog import ModelCatalog, Pricing

logger = logging.getLogger("xroute")


@dataclass(frozen=True, slots=True)
class Send:
    """Send `request`; reply with the `httpx.Response` (body read unless `stream`) or the
    `httpx.RequestError` raised. Reading a plain body must end by `deadline_at` (monotonic
    seconds; a server trickling bytes must not outlast the call's deadline): reply with an
    `httpx.ReadTimeout` if it does not."""

    request: httpx.Request
    stream: bool
    deadline_at: float | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Sleep `seconds`; reply with None."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Discard:
    """Read what is left of a streamed error response (up to a limit) and close it; reply
    with the bytes read (b'' if reading failed)."""

    response: httpx.Response


@dataclass(frozen=True, slots=True)
class PrimeStream:
    """Wrap a 2xx streamed response in the client's stream type and read up to the first
    content chunk; reply with the primed stream or the `StreamError` raised."""

    response: httpx.Response
    session: StreamSession


@dataclass(frozen=True, slots=True)
class LoadCatalog:
    """Reply with the client's model catalog. `fetch`: load it if it is not cached (reply
    with the exception if that fails); otherwise reply with the cached one or None."""

    fetch: bool


@dataclass(frozen=True, slots=True)
class Notify:
    """Call the user's hook `event` ("attempt", "fallback", "response") with `payload`;
    reply with None. Only yielded for hooks the client has."""

    event: str
    payload: Any


@dataclass(frozen=True, slots=True)
class Race:
    """Run the `lanes` (attempt sub-plans, each made by calling its factory) side by side,
    starting them as a `RaceSchedule(delays)` says, and drive each like a plan. Reply with
    one entry per lane: what its sub-plan returned (a served result, an error, or `LaneLost`
    — then close the stream it holds), `LaneCancelled` for a lane stopped because another
    answered first, or None for a lane that never started."""

    lanes: tuple[Callable[[], Generator[Any, Any, Any]], ...]
    delays: tuple[float, ...]


Command = Send | Sleep | Discard | PrimeStream | LoadCatalog | Notify | Race
Parse = Callable[[httpx.Response, bytes], Any]


@dataclass(slots=True)
class PlanContext:
    """What a plan reads besides the call, all injected: the config, the monotonic clock,
    the wall clock (Unix time, for HTTP-date Retry-After), the RNG, and the client's
    routing state, usage summary, optional budget, default model and hook names."""

    config: ClientConfig
    clock: Callable[[], float]
    wall: Callable[[], float]
    rng: random.Random
    state: RouteState
    usage: UsageSummary
    budget: Budget | None = None
    default_model: Any = None
    hooks: frozenset[str] = field(default_factory=frozenset)


def attempt_plan(call: Call, ctx: PlanContext, parse: Parse) -> Generator[Command, Any, Any]:
    """Run `call` to a result: route, retry, back off, fall back and account (module doc)."""
    if not call.routed:
        return (yield from _unrouted(call, ctx, parse))
    # A routed call without `model=` takes the client's default policy.
    policy = resolve_policy(call.model, default=ctx.default_model)
    # A budget needs prices to guard anything, so it loads the catalog even for plain ids;
    # only a policy that ranks by the catalog fails when it cannot be had.
    catalog = yield LoadCatalog(fetch=policy.requires_catalog or ctx.budget is not None)
    if isinstance(catalog, Exception):
        if policy.requires_catalog:
            raise catalog
        logger.debug("catalog unavailable (%s); the budget cannot price this call", catalog)
        catalog = None
    try:
        run = _Run(call, ctx, policy, catalog)
    except Exception as err:  # e.g. the budget refused the call, or constraints left nothing
        if "call_end" in ctx.hooks:
            yield Notify("call_end", _call_end(call, policy, (), (), 0.0, err))
        raise
    try:
        return (yield from run.attempts(parse))
    except Exception as err:
        run.release_budget()
        if "call_end" in ctx.hooks:
            yield Notify("call_end", run.ended(None, err, None, None))
        raise
    except BaseException:
        run.release_budget()
        raise


def _call_end(
    call: Call,
    policy: Policy,
    candidates: tuple[str, ...],
    attempts: tuple[AttemptRecord, ...],
    latency_s: float,
    error: BaseException | None,
    result: Any = None,
    cost: float | None = None,
    usage: Any = None,
) -> CallEnd:
    return CallEnd(
        operation="embeddings" if call.path == "embeddings" else "chat",
        candidates=candidates,
        policy=type(policy).__name__,
        stream=call.stream,
        attempts=attempts,
        latency_s=latency_s,
        result=result,
        error=error,
        cost_usd=cost,
        usage=usage,
        body=call.body,
    )


class _Run:
    """The state of one routed call while the plan runs it."""

    def __init__(
        self, call: Call, ctx: PlanContext, policy: Policy, catalog: ModelCatalog | None
    ) -> None:
        self.call = call
        self.ctx = ctx
        self.policy = policy
        self.catalog = catalog
        self.timeout = call.timeout or ctx.config.timeout
        self.started = ctx.clock()
        deadline = self.timeout.deadline
        self.deadline_at = None if deadline is None else self.started + deadline
        self.secret = ctx.config.api_key.reveal()
        self.records: list[AttemptRecord] = []
        # Prompts of hedged attempts that were cancelled: providers may bill them (None:
        # one could not be priced, so neither can the call).
        self.cancelled_usd: float | None = 0.0
        self.remaining = policy.candidates(
            catalog,
            ctx.state,
            now=self.started,
            rng=ctx.rng,
            prompt_tokens=call.prompt_tokens,
            max_tokens=call.max_tokens,
            needs=call.needs,
            stream=call.stream,
        )
        self.candidates = tuple(self.remaining)
        self.held = 0.0
        if ctx.budget is not None:
            worst = worst_case_usd(
                self.remaining,
                catalog,
                prompt_tokens=call.prompt_tokens,
                max_tokens=call.max_tokens,
            )
            self.held = ctx.budget.reserve(worst)

    def ended(
        self, result: Any, error: BaseException | None, cost: float | None, usage: Any
    ) -> CallEnd:
        """The `on_call_end` payload for this call, as of now."""
        return _call_end(
            self.call,
            self.policy,
            self.candidates,
            tuple(self.records),
            self.ctx.clock() - self.started,
            error,
            result,
            cost,
            usage,
        )

    def release_budget(self) -> None:
        if self.ctx.budget is not None and self.held:
            self.ctx.budget.settle(self.held, 0.0)
            self.held = 0.0

    def attempts(self, parse: Parse) -> Generator[Command, Any, Any]:
        if isinstance(self.policy, Hedge):
            return (yield from self._hedged(self.policy, parse))
        ctx, call, state = self.ctx, self.call, self.ctx.state
        retry = RetryPolicy(max_retries=ctx.config.max_retries)
        last_error: Exception | None = None
        while self.remaining:
            model = self.remaining.pop(0)
            if not state.begin(model, now=ctx.clock()) and self.remaining:
                state.end(model)
                self.records.append(AttemptRecord.skipped(model, "circuit open"))
                continue
            settled = False  # a streamed success hands `end` over to the stream
            try:
                retries_done = 0
                while True:
                    outcome = yield from self._attempt(model, parse)
                    if not isinstance(outcome, Exception):
                        settled = call.stream
                        return (yield from self._succeeded(model, outcome))
                    error = last_error = outcome
                    if isinstance(error, ContextLengthExceededError):
                        self.remaining = larger_context_only(self.remaining, model, self.catalog)
                    decision = self.policy.rules.decide(
                        error,
                        other_candidates_left=bool(self.remaining),
                        retries_done=retries_done,
                        max_retries=retry.max_retries,
                    )
                    if decision == "retry_same":
                        delay = _backoff(ctx, retry, error, retries_done, self.deadline_at)
                        if delay is None:
                            raise self._final(error)
                        yield Sleep(delay)
                        retries_done += 1
                        continue
                    if decision == "next_model":
                        if "fallback" in ctx.hooks:
                            yield Notify("fallback", FallbackEvent(model, error, self.remaining[0]))
                        break
                    raise self._final(error)
            finally:
                if not settled:
                    state.end(model)
        # Every candidate was skipped or handed over without an answer.
        raise AllModelsFailedError(self.records) from last_error

    def _hedged(self, hedge: Hedge, parse: Parse) -> Generator[Command, Any, Any]:
        """Race the candidates `1 + max_extra` at a time; fall over between races."""
        ctx, call = self.ctx, self.call
        retry = RetryPolicy(max_retries=ctx.config.max_retries)
        last_error: Exception | None = None
        retries_done = 0
        while self.remaining:
            self._skip_open_breakers()
            models = self.remaining[: 1 + hedge.max_extra if self._may_hedge(hedge) else 1]
            delays = tuple(hedge.delay(m, stream=call.stream) for m in models[:-1])
            claim: list[str] = []
            replies = yield Race(
                tuple(functools.partial(self._lane, m, parse, claim) for m in models), delays
            )
            started = [m for m, r in zip(models, replies, strict=True) if r is not None]
            self.remaining = [m for m in self.remaining if m not in started]
            winner: tuple[str, _Served] | None = None
            for model, reply in zip(models, replies, strict=True):
                if isinstance(reply, _Served):
                    winner = (model, reply)
                elif isinstance(reply, LaneCancelled):
                    self._cancelled(model, reply.elapsed_s)
                elif isinstance(reply, Exception):
                    last_error = reply
            if winner is not None:
                model, served = winner
                answered = served.session.first_content_at if served.session else None
                taken = (answered if answered is not None else ctx.clock()) - served.sent_at
                hedge.observe(model, taken, stream=call.stream)
                return (yield from self._succeeded(model, served))
            assert last_error is not None  # no winner: every lane that started failed
            decision = self.policy.rules.decide(
                last_error,
                other_candidates_left=bool(self.remaining),
                retries_done=retries_done,
                max_retries=retry.max_retries,
            )
            if decision == "retry_same" and len(started) == 1:
                # The last candidate alone: retried with backoff, as without hedging.
                delay = _backoff(ctx, retry, last_error, retries_done, self.deadline_at)
                if delay is None:
                    raise self._final(last_error)
                yield Sleep(delay)
                retries_done += 1
                self.remaining.insert(0, started[0])
                continue
            if not self.remaining or not self.policy.rules.fails_over(last_error):
                raise self._final(last_error)
            if "fallback" in ctx.hooks:
                yield Notify("fallback", FallbackEvent(started[-1], last_error, self.remaining[0]))
        raise AllModelsFailedError(self.records) from last_error

    def _skip_open_breakers(self) -> None:
        # As without hedging: a model whose breaker is open is skipped while others remain.
        now = self.ctx.clock()
        while len(self.remaining) > 1 and not self.ctx.state.allows(self.remaining[0], now=now):
            self.records.append(AttemptRecord.skipped(self.remaining.pop(0), "circuit open"))

    def _may_hedge(self, hedge: Hedge) -> bool:
        # A call whose budget cannot also cover the extra attempts' worst case runs alone.
        budget = self.ctx.budget
        if budget is None:
            return True
        extra = self.remaining[1 : 1 + hedge.max_extra]
        worst = worst_case_usd(
            extra,
            self.catalog,
            prompt_tokens=self.call.prompt_tokens,
            max_tokens=self.call.max_tokens,
        )
        return worst <= budget.remaining_usd

    def _lane(self, model: str, parse: Parse, claim: list[str]) -> Generator[Command, Any, Any]:
        """One hedged attempt on `model`; the first lane to answer claims the call."""
        state = self.ctx.state
        state.begin(model, now=self.ctx.clock())
        kept = False  # a won stream hands `end` over to the stream's bookkeeping
        try:
            outcome = yield from self._attempt(model, parse)
            if isinstance(outcome, _Served):
                # list.append is atomic: the first lane to append won, even across threads.
                claim.append(model)
                if claim[0] != model:
                    return LaneLost(outcome.value)
                kept = outcome.session is not None
            return outcome
        finally:
            if not kept:
                state.end(model)

    def _cancelled(self, model: str, elapsed_s: float) -> None:
        self.records.append(
            AttemptRecord(
                model,
                "cancelled",
                error_type="Cancelled",
                error_message="another model answered first",
                elapsed_s=elapsed_s,
                billed=True,
            )
        )
        # The prompt was sent and may be billed: count it at the catalog price; without one
        # the call's cost is unknown (None), never silently lower.
        pricing = self._pricing(model)
        price = None if pricing is None else pricing.prompt_usd_per_token
        cost = None if price is None else price * self.call.prompt_tokens
        self.cancelled_usd = None if cost is None else _plus(self.cancelled_usd, cost)
        self.ctx.usage.record(model, None, cost)

    def _final(self, error: Exception) -> Exception:
        tried = {r.model for r in self.records}
        if len(tried) > 1 and self.policy.rules.fails_over(error):
            failed = AllModelsFailedError(self.records)
            failed.__cause__ = error
            return failed
        return error

    def _attempt(self, model: str, parse: Parse) -> Generator[Command, Any, Any]:
        """One attempt on `model`: a result (or primed stream), or the error it ended with."""
        ctx, call = self.ctx, self.call
        now = ctx.clock()
        left = None if self.deadline_at is None else self.deadline_at - now
        if left is not None and left <= 0:
            raise _deadline_error(self.timeout.deadline, self.records)
        request = build_request(ctx.config, call, model, timeout=self.timeout.for_attempt(left))
        outcome = yield Send(request, call.stream, self.deadline_at)
        status: int | None = None
        error: Exception
        if isinstance(outcome, Exception):
            error = transport_error(outcome, request)
        else:
            status = outcome.status_code
            if status >= 300:
                content = (yield Discard(outcome)) if call.stream else outcome.content
                error = status_error(outcome, content, secret=self.secret)
            elif call.stream:
                session = StreamSession(
                    request=request,
                    started_at=now,
                    first_token_timeout=call.first_token_timeout or ctx.config.first_token_timeout,
                    idle_timeout=call.stream_idle_timeout or ctx.config.stream_idle_timeout,
                    deadline_at=self.deadline_at,
                    secret=self.secret,
                )
                primed = yield PrimeStream(outcome, session)
                if isinstance(primed, Exception) and not isinstance(primed, StreamError):
                    raise primed  # not the model's failure (a bug): never a stream to return
                if not isinstance(primed, StreamError):
                    _log(call, model, status, len(self.records) + 1, ctx.clock() - now)
                    return _Served(primed, now, status, session)
                error = primed
            else:
                try:
                    result = parse(outcome, outcome.content)
                except APIResponseValidationError as err:
                    error = err
                else:
                    _log(call, model, status, len(self.records) + 1, ctx.clock() - now)
                    return _Served(result, now, status, None)
        elapsed = ctx.clock() - now
        _log(call, model, status, len(self.records) + 1, elapsed, error)
        headers = getattr(error, "headers", None)
        retry_after = retry_after_seconds(headers, wall=ctx.wall()) if headers else None
        ctx.state.record_failure(
            model, now=ctx.clock(), error_kind=error_kind(error), retry_after_s=retry_after
        )
        record = AttemptRecord.from_error(model, error, elapsed_s=elapsed, secret=self.secret)
        self.records.append(record)
        if "attempt" in ctx.hooks:
            yield Notify("attempt", record)
        return error

    def _succeeded(self, model: str, served: _Served) -> Generator[Command, Any, Any]:
        ctx = self.ctx
        now = ctx.clock()
        elapsed = now - served.sent_at
        pricing = self._pricing(model)
        if served.session is not None:
            ttft = served.session.first_content_at
            ttft_s = None if ttft is None else ttft - served.sent_at
            record = AttemptRecord(model, "ok", status_code=served.status, elapsed_s=elapsed)
            record = replace(record, ttft_s=ttft_s)
            self.records.append(record)
            report = RouteReport(model, tuple(self.records), None, now - self.started)
            stream = served.value
            stream.route = report
            served.session.observer = _StreamAccount(
                self, model, served.sent_at, ttft_s, pricing, stream
            )
            self.held = 0.0  # the stream settles the budget when it ends
        else:
            result = served.value
            usage = getattr(result, "usage", None)
            cost = _plus(cost_usd(usage, pricing), self.cancelled_usd)
            completion_tokens = getattr(usage, "completion_tokens", None)
            ctx.state.record_success(
                model, now=now, latency_s=elapsed, completion_tokens=completion_tokens
            )
            record = AttemptRecord(model, "ok", status_code=served.status, elapsed_s=elapsed)
            self.records.append(record)
            result._route = RouteReport(model, tuple(self.records), cost, now - self.started, usage)
            ctx.usage.record(model, usage, cost_usd(usage, pricing))
            if ctx.budget is not None:
                ctx.budget.settle(self.held, cost)
                self.held = 0.0
        try:
            if "attempt" in ctx.hooks:
                yield Notify("attempt", self.records[-1])
            if "response" in ctx.hooks:
                yield Notify("response", served.value)
            if "call_end" in ctx.hooks and served.session is None:
                route = served.value.route
                yield Notify(
                    "call_end", self.ended(served.value, None, route.cost_usd, route.usage)
                )
        except BaseException:
            if served.session is not None:
                # A hook raised or the call was cancelled after the hand-over: the caller
                # never gets the stream, so settle it as abandoned (in flight, budget) now.
                served.session.close(ctx.clock())
            raise
        return served.value

    def _pricing(self, model: str) -> Pricing | None:
        entry = self.catalog.get(model) if self.catalog is not None else None
        return None if entry is None else entry.pricing


@dataclass(frozen=True, slots=True)
class _Served:
    value: Any
    sent_at: float
    status: int | None
    session: StreamSession | None


class _StreamAccount:
    """Bookkeeping for a stream that outlives its plan: health, cost, usage, budget, route."""

    def __init__(
        self,
        run: _Run,
        model: str,
        sent_at: float,
        ttft_s: float | None,
        pricing: Pricing | None,
        stream: Any,
    ) -> None:
        self._run = run
        self._model = model
        self._sent_at = sent_at
        self._ttft_s = ttft_s
        self._pricing = pricing
        self._stream = stream
        self._held = run.held if run.held else 0.0
        self._ended = False

    def _end(
        self, snapshot: ChatCompletion, now: float, error: Exception | None = None
    ) -> CallEnd | None:
        self._ended = True
        run, ctx = self._run, self._run.ctx
        usage = snapshot.usage
        cost = cost_usd(usage, self._pricing)
        ctx.usage.record(self._model, usage, cost)
        cost = _plus(cost, run.cancelled_usd)
        if ctx.budget is not None:
            ctx.budget.settle(self._held, cost)
        route = self._stream.route
        if isinstance(route, RouteReport) and route.attempts:
            # The serving attempt lasted until the stream ended, and a stream that broke
            # after its first token is that attempt's failure, not a success.
            served = replace(route.attempts[-1], elapsed_s=now - self._sent_at)
            if error is not None:
                failed = AttemptRecord.from_error(
                    self._model, error, elapsed_s=served.elapsed_s, secret=run.secret
                )
                served = replace(failed, status_code=served.status_code, ttft_s=served.ttft_s)
            self._stream.route = replace(
                route,
                attempts=(*route.attempts[:-1], served),
                cost_usd=cost,
                latency_s=now - run.started,
                usage=usage,
            )
        ctx.state.end(self._model)
        if "call_end" in ctx.hooks:
            # Hooks are the shells' to call: the stream calls it once it has closed.
            return run.ended(self._stream, error, cost, usage)
        return None

    def completed(self, snapshot: ChatCompletion, now: float) -> CallEnd | None:
        """The stream reached `[DONE]`."""
        if self._ended:
            return None
        usage = snapshot.usage
        self._run.ctx.state.record_success(
            self._model,
            now=now,
            latency_s=now - self._sent_at,
            ttft_s=self._ttft_s,
            completion_tokens=None if usage is None else usage.completion_tokens,
        )
        return self._end(snapshot, now)

    def failed(self, error: Exception, now: float) -> CallEnd | None:
        """The stream failed after its first token (no fallback any more)."""
        if self._ended:
            return None
        self._run.ctx.state.record_failure(self._model, now=now, error_kind=error_kind(error))
        return self._end(getattr(error, "partial", None) or _EMPTY, now, error)

    def abandoned(self, snapshot: ChatCompletion, now: float) -> CallEnd | None:
        """The caller closed the stream early: no verdict on the model's health."""
        return None if self._ended else self._end(snapshot, now)


_EMPTY = ChatCompletion(choices=[])


def _plus(cost: float | None, extra: float | None) -> float | None:
    """A sum where unknown (None) stays unknown."""
    return None if cost is None or extra is None else cost + extra


def _unrouted(call: Call, ctx: PlanContext, parse: Parse) -> Generator[Command, Any, Any]:
    """Calls without a model (the catalog endpoints): plain retries, no routing."""
    config = ctx.config
    timeout = call.timeout or config.timeout
    retry = RetryPolicy(max_retries=config.max_retries)
    started = ctx.clock()
    deadline_at = None if timeout.deadline is None else started + timeout.deadline
    secret = config.api_key.reveal()
    for attempt in range(retry.max_retries + 1):
        now = ctx.clock()
        left = None if deadline_at is None else deadline_at - now
        if left is not None and left <= 0:
            raise _deadline_error(timeout.deadline, [])
        request = build_request(config, call, None, timeout=timeout.for_attempt(left))
        outcome = yield Send(request, False, deadline_at)
        error: APIError
        if isinstance(outcome, Exception):
            error = transport_error(outcome, request)
        elif outcome.status_code < 300:
            _log(call, None, outcome.status_code, attempt + 1, ctx.clock() - now)
            return parse(outcome, outcome.content)
        else:
            error = status_error(outcome, outcome.content, secret=secret)
        _log(call, None, getattr(error, "status_code", None), attempt + 1, ctx.clock() - now, error)
        retryable = not isinstance(error, APIStatusError) or should_retry_status(
            error.status_code, error.headers or {}
        )
        if not retryable or attempt == retry.max_retries:
            raise error
        delay = _backoff(ctx, retry, error, attempt, deadline_at)
        if delay is None:
            raise error
        yield Sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _backoff(
    ctx: PlanContext,
    retry: RetryPolicy,
    error: Exception,
    retries_done: int,
    deadline_at: float | None,
) -> float | None:
    """Seconds to wait before retrying after `error` (backoff or the server's Retry-After);
    None when the deadline would pass while sleeping: then fail now, not after the sleep."""
    headers = getattr(error, "headers", None)
    delay = retry.delay(retries_done, headers, rng=ctx.rng, wall=ctx.wall())
    if deadline_at is not None and ctx.clock() + delay >= deadline_at:
        return None
    return delay


def _deadline_error(deadline: float | None, records: list[AttemptRecord]) -> APITimeoutError:
    tried = f" after {len(records)} attempt(s)" if records else ""
    return APITimeoutError(
        f"the call's deadline of {deadline} s passed{tried}; raise Timeout(deadline=...)"
    )


def _log(
    call: Call,
    model: str | None,
    status: int | None,
    attempt: int,
    elapsed: float,
    error: Exception | None = None,
) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s /%s model=%s status=%s attempt=%d elapsed=%.3fs%s",
            call.method,
            call.path,
            model,
            status if status is not None else "-",
            attempt,
            elapsed,
            f" error={type(error).__name__}" if error is not None else "",
        )
