"""The attempt plan: every decision of a call, as a generator of I/O commands.

The plan yields what it needs done (`Send`, `Sleep`, `Discard`, `PrimeStream`, ...) and is
sent back what happened; the two clients are the drivers that do the I/O. Retries,
backoff, Retry-After, the deadline, fallback across models, error mapping and parsing all
happen here, once::

    plan = attempt_plan(call, context)
    command = next(plan)
    while True:
        outcome = <do command: send / sleep / read / prime, sync or async>
        command = plan.send(outcome)          # StopIteration.value is the result
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from .._exceptions import (
    AllModelsFailedError,
    APIError,
    APIStatusError,
    APITimeoutError,
    StreamError,
)
from .config import ClientConfig
from .errors import status_error, transport_error
from .request import Call, build_request
from .retry import RetryPolicy, should_retry_status
from .stream_state import StreamSession

logger = logging.getLogger("xroute")


@dataclass(frozen=True, slots=True)
class Send:
    """Send `request`; reply with the `httpx.Response` (body read unless `stream`) or the
    `httpx.RequestError` raised."""

    request: httpx.Request
    stream: bool


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


Command = Send | Sleep | Discard | PrimeStream
Parse = Callable[[httpx.Response, bytes], Any]


@dataclass(slots=True)
class PlanContext:
    """What a plan reads besides the call: config, clock (monotonic), wall clock (Unix
    time, for HTTP-date Retry-After) and the RNG for jitter — all injected."""

    config: ClientConfig
    clock: Callable[[], float]
    wall: Callable[[], float]
    rng: random.Random


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt did, as the plan saw it."""

    model: str | None
    attempt: int
    error: APIError | None
    elapsed_s: float
    status_code: int | None = None


def candidates_of(model: Any) -> list[str | None]:
    """The model ids a call may try, in order."""
    if model is None:
        return [None]
    if isinstance(model, str):
        return [model]
    return list(model)


def attempt_plan(call: Call, ctx: PlanContext, parse: Parse) -> Generator[Command, Any, Any]:
    """Run `call` to a result: retry, back off, fall back and map errors (see module doc)."""
    config = ctx.config
    timeout = call.timeout or config.timeout
    retry = RetryPolicy(max_retries=config.max_retries)
    started = ctx.clock()
    deadline_at = None if timeout.deadline is None else started + timeout.deadline
    models = candidates_of(call.model)
    attempts: list[Attempt] = []
    secret = config.api_key.reveal()

    for index, model in enumerate(models):
        last_model = index == len(models) - 1
        # In a chain, a failing model hands over at once; the last one uses its retries.
        allowed_retries = retry.max_retries if last_model else 0
        retries_done = 0
        while True:
            now = ctx.clock()
            remaining = None if deadline_at is None else deadline_at - now
            if remaining is not None and remaining <= 0:
                raise _deadline_error(timeout.deadline, attempts)
            request = build_request(config, call, model, timeout=timeout.for_attempt(remaining))
            outcome = yield Send(request, call.stream)
            elapsed = ctx.clock() - now
            error: APIError
            if isinstance(outcome, Exception):
                error = transport_error(outcome, request)
                status = None
            else:
                status = outcome.status_code
                if status < 300:
                    if not call.stream:
                        result = parse(outcome, outcome.content)
                        _log(call, model, status, len(attempts) + 1, elapsed)
                        return result
                    session = StreamSession(
                        request=request,
                        started_at=now,
                        first_token_timeout=call.first_token_timeout or config.first_token_timeout,
                        idle_timeout=call.stream_idle_timeout or config.stream_idle_timeout,
                        deadline_at=deadline_at,
                        secret=secret,
                    )
                    primed = yield PrimeStream(outcome, session)
                    if not isinstance(primed, StreamError):
                        _log(call, model, status, len(attempts) + 1, elapsed)
                        return primed
                    error = primed
                else:
                    content = (yield Discard(outcome)) if call.stream else outcome.content
                    error = status_error(outcome, content, secret=secret)
            _log(call, model, status, len(attempts) + 1, elapsed, error)
            attempts.append(Attempt(model, len(attempts) + 1, error, elapsed, status))
            if not _retryable(error):
                if len(models) > 1 and _falls_back(error) and not last_model:
                    break
                raise error
            if retries_done < allowed_retries:
                headers = outcome.headers if isinstance(outcome, httpx.Response) else None
                delay = retry.delay(retries_done, headers, rng=ctx.rng, wall=ctx.wall())
                if deadline_at is not None and ctx.clock() + delay >= deadline_at:
                    raise error  # the deadline would pass while sleeping: fail now
                yield Sleep(delay)
                retries_done += 1
                continue
            if last_model:
                if len(models) > 1:
                    raise AllModelsFailedError([]) from error
                raise error
            break
    raise AssertionError("unreachable: the last model either returns or raises")


def _retryable(error: APIError) -> bool:
    if isinstance(error, APIStatusError):
        headers = error.headers if error.headers is not None else httpx.Headers()
        return should_retry_status(error.status_code, headers)
    # Connection errors, timeouts and streams that died before their first token.
    return True


def _falls_back(error: APIError) -> bool:
    return isinstance(error, APIStatusError) and error.status_code == 404


def _deadline_error(deadline: float | None, attempts: list[Attempt]) -> APITimeoutError:
    tried = f" after {len(attempts)} attempt(s)" if attempts else ""
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
